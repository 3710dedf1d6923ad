"""The façade: ``Video2Music.from_pretrained(...).generate(video, ...)``.

One object holds the models (the chord transformer, a regression checkpoint or the rule-based
dynamics, and the melody model) and runs the whole chain: features -> chords -> dynamics ->
melody -> MIDI. It returns a ``GenerationResult`` (data); ``video2music.writer`` renders and writes it.

    from video2music import Video2Music, write_result
    v2m = Video2Music.from_pretrained("default")
    result = v2m.generate("clip.mp4", key="A minor", seed=0)
    write_result(result, "out/")
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from video2music import harmony, vocab
from video2music.dynamics import Dynamics, RegressionDynamics, RuleDynamics
from video2music.errors import UserError
from video2music.features import BACKENDS, VideoFeatures, extract, probe
from video2music.grid import STEPS_PER_BAR, Grid, check_tempo
from video2music.model.checkpoint import Checkpoint, load_any
from video2music.model.decode import DecodeOptions, decode_chords, video_digest
from video2music.model.device import check_device
from video2music.model.inputs import build_video_input
from video2music.music import melody as melody_writer
from video2music.music.arrange import Instruments, arrange
from video2music.music.mux import ducked_spans
from video2music.progression import TimedChords
from video2music.result import GenerationResult
from video2music.timing import Stopwatch

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

SAVED_MODELS = Path(__file__).resolve().parent.parent / "saved_models"
LONG_VIDEO_SECONDS = 20 * 60
Progress = Callable[[float, str], None]
# Pop structure for the façade's decoding (see model/decode.py's DecodeOptions), in half-bar steps.
# Tuned with bench/musicality.py against held-out POP909 (the figures are in the README): a chord
# lasts at most two bars; the chord heard eight bars earlier gets LOOP_BIAS extra log-odds, so
# progressions come back as an 8-bar loop (a 4-bar loop gave 4 distinct chords in 30 s against
# pop's 7); holding a chord through the middle of a bar gets HOLD_BIAS, as pop changes mostly on
# bar lines; the whole distribution is sampled a little warm (top_p 1, TEMPERATURE), which keeps
# two videos scored with one seed apart, the key mask keeping it all in key.
MAX_HOLD_STEPS = 2 * STEPS_PER_BAR
LOOP_BIAS = 3.5
LOOP_BARS = 8
HOLD_BIAS = 3.0
TEMPERATURE = 1.1
# How strongly chords lean towards the qualities that fit each step's emotion (0 turns it off).
# Inside the key mask it decides among fitting chords rather than pulling in foreign ones; at
# this strength two different videos scored with one seed share 14-17% of their chords (relative
# to their keys; pop songs share 12%), against 19-23% at 1.5.
DEFAULT_EMOTION_GUIDANCE = 3.0

_NEGATIVE = [vocab.EMOTIONS.index(e) for e in ("fearful", "tense", "sad")]
_POSITIVE = [vocab.EMOTIONS.index(e) for e in ("exciting", "relaxing")]


def _warn_if_long(video: str | Path | None, duration: float | None) -> None:
    # Said before the work starts: a long video takes minutes to watch and to render.
    if duration is not None and duration > LONG_VIDEO_SECONDS:
        logger.warning(
            "%s lasts %.0f minutes; generation goes on, but it will take a while",
            video or "the video",
            duration / 60,
        )


def choose_key(emotion: np.ndarray, seed: int = 0, video_digest: int = 0) -> vocab.Key:
    """The key when none is asked for.

    The mode follows the mood: minor if the video's negative emotions (fearful, tense, sad)
    outweigh its positive ones (exciting, relaxing) on average, else major. The tonic is drawn,
    as often as pop songs use each (``harmony.TONIC_COUNTS``, from POP909), from a generator
    seeded by ``seed`` and the video, so a video keeps its key for a seed while two videos
    rarely share one. Ask for a key with ``key=``.
    """
    mean = emotion.mean(axis=0)
    mode = harmony.MINOR if mean[_NEGATIVE].sum() > mean[_POSITIVE].sum() else harmony.MAJOR
    counts = np.asarray(harmony.TONIC_COUNTS[mode], dtype=float)
    tonic = np.random.default_rng([seed % 2**32, video_digest]).choice(12, p=counts / counts.sum())
    return vocab.Key(int(tonic), "minor" if mode == harmony.MINOR else "major")


def resolve_checkpoint(name_or_path: str | Path, filename: str = "amt.pt") -> Path:
    """A shipped model name (``default``, ``debug``; ``melody`` with ``filename="melody.pt"``) or
    a path to a checkpoint file."""
    path = Path(name_or_path)
    if not path.exists():
        shipped = SAVED_MODELS / str(name_or_path) / filename
        if shipped.exists():
            return shipped
        names = sorted(p.parent.name for p in SAVED_MODELS.glob(f"*/{filename}"))
        raise UserError(
            f"no model {str(name_or_path)!r}: give a checkpoint file or one of the shipped models "
            f"({', '.join(names) or 'none found in ' + str(SAVED_MODELS)})"
        )
    if path.is_dir():
        raise UserError(f"{path} is a folder; give the checkpoint file inside it")
    return path


@dataclass(frozen=True)
class GenerationSettings:
    """How chords are sampled and placed, for every video until ``set_generation_params`` changes it.

    ``cut_changes`` starts a new chord on every scene cut; ``emotion_guidance`` pulls chords toward
    qualities that fit each step's emotion (0 = off); ``in_key`` applies the key mask of
    ``video2music.harmony``; ``loop_bias`` pulls towards the chord four bars back, ``hold_bias``
    towards holding a chord through the middle of a bar; ``cadence`` ends on the tonic;
    ``max_repeat`` is the longest a chord lasts, in half-bar steps. They map onto
    ``DecodeOptions``, with the random stream keyed by the video as well as the seed.
    """

    temperature: float = TEMPERATURE
    top_p: float = 1.0
    max_repeat: int = MAX_HOLD_STEPS
    allow_n: bool = False
    emotion_guidance: float = DEFAULT_EMOTION_GUIDANCE
    cut_changes: bool = True
    in_key: bool = True
    loop_bias: float = LOOP_BIAS
    loop_bars: int = LOOP_BARS
    hold_bias: float = HOLD_BIAS
    cadence: bool = True

    def __post_init__(self) -> None:
        self.decode_options(seed=0).check()

    def decode_options(self, seed: int) -> DecodeOptions:
        """The sampling options for one piece (primer and cuts are added once the video is known)."""
        return DecodeOptions(
            seed=seed,
            temperature=self.temperature,
            top_p=self.top_p,
            allow_n=self.allow_n,
            max_repeat=self.max_repeat,
            emotion_guidance=self.emotion_guidance,
            key_mask=self.in_key,
            loop_bias=self.loop_bias,
            loop_steps=self.loop_bars * STEPS_PER_BAR,
            hold_bias=self.hold_bias,
            cadence=self.cadence,
            vary_with_video=True,
        )

    def replace(self, **changes: Any) -> GenerationSettings:
        """A copy with ``changes``; UserError for an unknown name or a bad value."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise UserError(f"unknown generation parameter(s) {unknown}; known: {sorted(known)}")
        return dataclasses.replace(self, **changes)


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
    ) -> None:
        self.model = checkpoint.model.to(device).eval()
        self.dynamics: Dynamics = dynamics or RuleDynamics()
        self.melody = melody  # runs on the CPU: one sixteenth at a time, a GPU would only wait
        self.device = device
        self.name = name
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
        return cls(checkpoint, dynamics, melody=lead, device=device, name=str(name_or_path))

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
        tempo: float = 120.0,
    ) -> tuple[vocab.Key | None, list[int]]:
        """Parse and check one piece's choices without touching a video; UserError for a bad one.

        ``generate`` runs it first; callers with many videos or a queue run it to refuse a request
        before any work. Returns the key (None: chosen from the mood later) and the primer's chord
        ids. (``GenerationSettings`` are checked when they are made.)
        """
        out_key = vocab.parse_key(key) if isinstance(key, str) else key
        primer_ids = vocab.parse_progression(primer) if primer else []
        check_tempo(tempo)
        return out_key, primer_ids

    def _decode(
        self,
        video_input: torch.Tensor,
        on_grid: VideoFeatures,
        grid: Grid,
        key: vocab.Key,
        primer: list[int],
        decoding: DecodeOptions,
    ) -> list[int]:
        """The model's chords, one per step of ``grid`` (``on_grid``: the features resampled to it)."""
        # A primer chord lasts a bar, and the loop then brings the primer back every four bars.
        primer_steps = [c for c in primer for _ in range(STEPS_PER_BAR)][: grid.steps]
        options = dataclasses.replace(
            decoding,
            primer=tuple(vocab.transpose_chord(c, -key.transpose) for c in primer_steps),
            change_at=grid.cut_steps,
        )
        return list(decode_chords(self.model, video_input, key.mode_bit, options, emotion=on_grid.emotion))

    def generate(
        self,
        video: str | Path | None = None,
        *,
        features: VideoFeatures | None = None,
        key: str | vocab.Key | None = None,
        primer: str | None = None,
        tempo: float = 120.0,
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
        """Score ``video`` (or precomputed ``features``): chords, dynamics, a melody (unless
        ``melody`` is False) and the arranged MIDI.

        ``primer`` chords are typed in the output key (``"C Am F G"`` in C major). ``chords`` (an
        edited progression, ``video2music.progression``) replace the decoded chords on the same
        grid, so the features, dynamics and cuts stay as they were. ``settings`` replaces
        ``self.settings`` for this call only (a server sharing one model between requests passes
        them this way). ``progress``, if given, is called with (fraction done, stage name);
        ``progress_bars`` shows tqdm bars for the long stages. ``under_sound``: the music will be
        mixed under the video's own sound (``mux.Soundtrack`` "mix"); the melody then rests
        wherever the mix ducks the music, so it never competes with a voice.
        """
        if video is None and features is None:
            raise UserError("give a video file or its features")
        if melody and self.melody is None:
            raise UserError("no melody model is loaded; load one with from_pretrained or pass melody=False")
        report = progress or (lambda fraction, message: None)
        settings = settings or self.settings
        out_key, primer_ids = self.check_settings(key=key, primer=primer, tempo=tempo)
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

        report(0.4, "writing chords")
        with watch("chords"):
            cuts = features.scene_cuts if settings.cut_changes else ()
            grid = Grid.for_video(features.duration, tempo, cuts)
            on_grid = grid.resample(features)
            video_input = build_video_input(on_grid, self.model.config.inputs).to(self.device)
            out_key = out_key or choose_key(features.emotion, seed, video_digest(video_input))
            if chords is not None:
                given, decided = chords.source, chords.on_grid(grid, out_key)
            else:
                options = settings.decode_options(seed)
                given, decided = None, self._decode(video_input, on_grid, grid, out_key, primer_ids, options)

        report(0.6, "setting note density and loudness")
        with watch("dynamics"):
            density, loudness = self.dynamics(features)

        report(0.7, "writing the melody")
        with watch("melody"):
            lead, rests = None, []
            if melody:
                lead = melody_writer.compose(
                    self.melody.model,
                    decided,
                    grid,
                    grid.sample(density),
                    seed=seed,
                    transpose=out_key.transpose,
                )
                if under_sound and video is not None:
                    rests = ducked_spans(video)
                    sixteenth = grid.seconds_per_beat / melody_writer.STEPS_PER_BEAT
                    lead = melody_writer.rest_during(lead, rests, sixteenth)

        report(0.8, "arranging")
        with watch("arrange"):
            arrangement = arrange(
                decided,
                grid.sample(density),
                grid.sample(loudness),
                out_key,
                tempo=tempo,
                instruments=instruments,
                grid=grid,
                drums=drums,
                melody=lead,
            )
        report(1.0, "done")
        chosen = {
            "seed": seed,
            "key": out_key.name,
            "key_chosen_from_mood": key is None,
            "primer": primer,
            "tempo": tempo,
            "drums": drums,
            "melody": melody,
            "melody_rests_under_sound": [[round(a, 3), round(b, 3)] for a, b in rests],
            "chords_from": given,
            "instruments": None if instruments is None else dataclasses.asdict(instruments),
            "instrument_names": (instruments or Instruments()).names(),
            **dataclasses.asdict(settings),
        }
        models = {
            "transformer": self.name,
            "transformer_inputs": sorted(self.inputs),
            "dynamics": self.dynamics.name,
            "melody": self.melody.meta["source"] if melody else None,
        }
        return GenerationResult(
            video=Path(video) if video is not None else None,
            features=features,
            chords=[int(c) for c in decided],
            grid=grid,
            key=out_key,
            tempo=tempo,
            density=density,
            loudness=loudness,
            arrangement=arrangement,
            settings=chosen,
            models=models,
            timings=watch.seconds,
        )
