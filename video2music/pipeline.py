"""The façade: ``Video2Music.from_pretrained(...).generate(video, ...)``.

One object holds the models (the chord transformer, a regression checkpoint or the rule-based
dynamics, and the melody model) and runs the whole chain: features -> chords -> dynamics ->
melody -> MIDI. Every musical decision is made in ``video2music.compose``; this class loads the
models, times the stages and returns a ``GenerationResult`` (data), which
``video2music.output.writer`` renders and writes.

    from video2music import Video2Music, write_result
    v2m = Video2Music.from_pretrained("default")
    result = v2m.generate("clip.mp4", key="A minor", seed=0)
    write_result(result, "out/")
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from pathlib import Path
from typing import Any

from video2music.audio.mux import ducked_spans
from video2music.compose.chords import GenerationSettings
from video2music.compose.dynamics import Dynamics, RegressionDynamics, RuleDynamics
from video2music.compose.instruments import Instruments
from video2music.compose.piece import Models, Progress, Request, compose_piece
from video2music.features import BACKENDS, VideoFeatures, extract, probe
from video2music.model.checkpoint import Checkpoint, load_any, resolve_checkpoint
from video2music.model.device import check_device
from video2music.output.result import GenerationResult
from video2music.theory import vocab
from video2music.theory.grid import AUTO_TEMPO
from video2music.theory.progression import TimedChords
from video2music.utils.errors import UserError
from video2music.utils.timing import Stopwatch

logger = logging.getLogger(__name__)

LONG_VIDEO_SECONDS = 20 * 60


def _warn_if_long(video: str | Path | None, duration: float | None) -> None:
    # Said before the work starts: a long video takes minutes to watch and to render.
    if duration is not None and duration > LONG_VIDEO_SECONDS:
        logger.warning(
            "%s lasts %.0f minutes; generation goes on, but it will take a while",
            video or "the video",
            duration / 60,
        )


class Video2Music:
    """Chord transformer + a dynamics part (a regression checkpoint or the documented rule) + the
    melody model."""

    def __init__(
        self,
        checkpoint: Checkpoint,
        dynamics: Dynamics | None = None,
        *,
        melody: Checkpoint | None = None,
        device: str = "cpu",
        name: str = "",
        melody_name: str = "",
    ) -> None:
        self.model = checkpoint.model.to(device).eval()
        self.dynamics: Dynamics = dynamics or RuleDynamics()
        self.melody = melody  # runs on the CPU: one sixteenth at a time, a GPU would only wait
        self.device = device
        self.name = name  # the models as the caller named them (a shipped name or a path)
        self.melody_name = melody_name or (melody.meta["source"] if melody else "")
        self.settings = GenerationSettings()

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path = "default",
        *,
        regression: str | Path | None = None,
        melody: str | Path = "melody",
        device: str = "cpu",
    ) -> Video2Music:
        """Load a shipped model (``default``, ``debug``), one of our checkpoints, or a published
        Video2Music state dict; ``regression`` optionally names a trained regression checkpoint
        (without one, note density and loudness come from ``model.dynamics_rule``); ``melody``
        the melody model (the shipped ``saved_models/melody``, or a checkpoint file)."""
        check_device(device)
        checkpoint = load_any(resolve_checkpoint(name_or_path), kind="amt")
        dynamics = None
        if regression:
            dynamics = RegressionDynamics(load_any(resolve_checkpoint(regression), kind="regression"), device)
        lead = load_any(resolve_checkpoint(melody, "melody.pt"), kind="melody")
        return cls(
            checkpoint, dynamics, melody=lead, device=device, name=str(name_or_path), melody_name=str(melody)
        )

    @property
    def inputs(self) -> frozenset[str]:
        return frozenset(self.model.config.inputs)

    def set_generation_params(self, **params: Any) -> None:
        """Change the settings ``generate`` uses (see ``GenerationSettings``); checked at once."""
        self.settings = self.settings.replace(**params)

    def feature_backend(self, backend: str = "auto") -> str:
        """The backend to extract with: ``auto`` takes CLIP only when the model needs semantics."""
        needs_clip = "semantic" in self.inputs
        if backend == "auto":
            return "clip" if needs_clip else "basic"
        if backend not in BACKENDS:
            raise UserError(f"unknown feature backend {backend!r}; use {', '.join(BACKENDS)} or auto")
        if backend == "basic" and needs_clip:
            raise UserError(
                "this model was trained on CLIP semantic features, which the basic backend does not "
                "compute; run with --features clip (needs the CLIP weights) or use the default model"
            )
        return backend

    def extract_features(
        self, video: str | Path, backend: str = "auto", progress_bars: bool = False
    ) -> VideoFeatures:
        return extract(
            video, backend=self.feature_backend(backend), device=self.device, progress_bars=progress_bars
        )

    def check_settings(
        self,
        *,
        key: str | vocab.Key | None = None,
        primer: str | None = None,
        tempo: float | str | None = AUTO_TEMPO,
        form: str | None = None,
        style: str | None = None,
    ) -> Request:
        """Parse and check one piece's choices without touching a video; UserError for a bad one.

        ``generate`` runs it first; callers with many videos or a queue run it to refuse a request
        before any work. (``GenerationSettings`` are checked when they are made.)
        """
        return Request.parse(key=key, primer=primer, tempo=tempo, form=form, style=style)

    def generate(
        self,
        video: str | Path | None = None,
        *,
        features: VideoFeatures | None = None,
        key: str | vocab.Key | None = None,
        primer: str | None = None,
        tempo: float | str | None = AUTO_TEMPO,
        form: str | None = None,
        style: str | None = None,
        instruments: Instruments | None = None,
        drums: bool = True,
        melody: bool = True,
        seed: int = 0,
        settings: GenerationSettings | None = None,
        backend: str = "auto",
        progress: Progress | None = None,
        progress_bars: bool = False,
        chords: TimedChords | None = None,
        under_sound: bool = False,
    ) -> GenerationResult:
        """Score ``video`` (or precomputed ``features``): a song form, chords, dynamics, a melody
        (unless ``melody`` is False) and the arranged MIDI (see ``video2music.compose.piece``).

        ``primer`` chords are typed in the output key (``"C Am F G"`` in C major); ``tempo`` is in
        bpm, or ``auto`` (from the video's pace and cuts); ``form`` is a song form in bars
        (``"intro 4, verse 8, chorus 8"``; default: planned from the video); ``style`` how the parts
        play (``compose.styles``: pop, lo-fi, electronic, cinematic, acoustic; its instruments are
        ``Instruments.preset(style)``, pass them as ``instruments``).
        ``chords`` (an edited progression, ``video2music.theory.progression``) replace the decoded
        chords on the same grid, so the features, dynamics and cuts stay as they were (and its
        form, when it has one). ``settings`` replaces ``self.settings`` for this call only (a
        server sharing one model between requests passes them this way). ``progress``, if given,
        is called with (fraction done, stage name); ``progress_bars`` shows tqdm bars for the long
        stages. ``under_sound``: the music will be mixed under the video's own sound
        (``audio.mux.Soundtrack`` "mix"); the melody then rests wherever the mix ducks the music,
        so it never competes with a voice.
        """
        if video is None and features is None:
            raise UserError("give a video file or its features")
        if melody and self.melody is None:
            raise UserError("no melody model is loaded; load one with from_pretrained or pass melody=False")
        report = progress or (lambda fraction, message: None)
        settings = settings or self.settings
        request = dataclasses.replace(
            self.check_settings(key=key, primer=primer, tempo=tempo, form=form, style=style),
            edited=chords, instruments=instruments, drums=drums, melody=melody, seed=seed,
        )  # fmt: skip
        watch = Stopwatch()
        with watch("features"):
            if features is None:
                _warn_if_long(video, probe(video).duration)
                report(0.0, "extracting video features")
                features = self.extract_features(video, backend, progress_bars=progress_bars)
            else:
                if "semantic" in self.inputs and features.semantic is None:
                    self.feature_backend("basic")  # raises the explanation
                _warn_if_long(video, features.duration)
        models = Models(self.model, self.melody.model if melody else None, self.dynamics, self.device)
        rests = (
            functools.partial(ducked_spans, video) if melody and under_sound and video is not None else list
        )
        piece = compose_piece(models, features, request, settings, rests=rests, watch=watch, report=report)
        rested = rests()
        chosen = {
            **request.record(),
            "key": piece.key.name,
            "tempo": piece.grid.tempo,
            "tempo_chosen": "auto" if request.tempo is None else "given",
            "tempo_reason": piece.tempo_reason,
            "melody_rests_under_sound": [[round(a, 3), round(b, 3)] for a, b in rested],
            **dataclasses.asdict(settings),
        }
        used = {
            "transformer": self.name,
            "transformer_inputs": sorted(self.inputs),
            "dynamics": self.dynamics.name,
            "melody": self.melody_name if melody else None,
        }
        return GenerationResult(
            video=Path(video) if video is not None else None,
            features=features,
            chords=piece.chords,
            grid=piece.grid,
            key=piece.key,
            tempo=piece.grid.tempo,
            density=piece.density,
            loudness=piece.loudness,
            arrangement=piece.arrangement,
            form=piece.form,
            settings=chosen,
            models=used,
            timings=watch.seconds,
        )
