"""The façade: ``Video2Music.from_pretrained(...).generate(video, ...)``.

One object holds the models (the chord transformer, and a regression checkpoint or the
rule-based dynamics) and runs the whole chain: features -> chords -> dynamics -> MIDI. It
returns a ``GenerationResult`` (data); ``video2music.writer`` renders and writes it.

    from video2music import Video2Music, write_result
    v2m = Video2Music.from_pretrained("default")
    result = v2m.generate("clip.mp4", key="A minor", seed=0)
    write_result(result, "out/")
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from video2music import vocab
from video2music.errors import UserError
from video2music.features import VideoFeatures, extract, probe
from video2music.grid import STEPS_PER_BAR, Grid
from video2music.model.checkpoint import load_any
from video2music.model.decode import DecodeOptions, decode_chords
from video2music.model.dynamics_rule import rule_dynamics
from video2music.model.inputs import build_video_input
from video2music.model.regression import postprocess
from video2music.music.arrange import Instruments, arrange, check_tempo
from video2music.progression import TimedChords
from video2music.result import GenerationResult
from video2music.timing import Stopwatch

logger = logging.getLogger(__name__)

SAVED_MODELS = Path(__file__).resolve().parent.parent / "saved_models"
LONG_VIDEO_SECONDS = 20 * 60
Progress = Callable[[float, str], None]
# Pop structure for the façade's decoding (see model/decode.py's DecodeOptions), in half-bar steps:
# a chord lasts at most two bars, returns 4 bars later with this extra log-odds, and is held
# through the middle of a bar with this extra log-odds unless the model prefers a change strongly.
MAX_HOLD_STEPS = 2 * STEPS_PER_BAR
LOOP_BIAS = 2.5
HOLD_BIAS = 2.0
# The shipped models trained on music alone follow the emotion input only weakly (minor-family
# share 0.23 for a sad timeline against 0.20 for an exciting one, unguided); at this strength
# the decoder's affective bias makes it 0.55 against 0.06 while leaving the model's choice
# among the fitting chords. 0 turns it off.
DEFAULT_EMOTION_GUIDANCE = 1.5

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


def choose_key(emotion: np.ndarray) -> vocab.Key:
    """The key when none is asked for: A minor if the video's negative emotions (fearful, tense,
    sad) outweigh its positive ones (exciting, relaxing) on average, else C major.

    Only the mode follows the mood; C and A are the model's own normalised keys, so the chords
    come out exactly as decoded. Ask for another tonic with ``key=``.
    """
    mean = emotion.mean(axis=0)
    minor = mean[_NEGATIVE].sum() > mean[_POSITIVE].sum()
    return vocab.Key(9, "minor") if minor else vocab.Key(0, "major")


def resolve_checkpoint(name_or_path: str | Path) -> Path:
    """A shipped model name (``default``, ``debug``) or a path to a checkpoint file."""
    path = Path(name_or_path)
    if not path.exists():
        shipped = SAVED_MODELS / str(name_or_path) / "amt.pt"
        if shipped.exists():
            return shipped
        names = sorted(p.parent.name for p in SAVED_MODELS.glob("*/amt.pt"))
        raise UserError(
            f"no model {str(name_or_path)!r}: give a checkpoint file or one of the shipped models "
            f"({', '.join(names) or 'none found in ' + str(SAVED_MODELS)})"
        )
    if path.is_dir():
        raise UserError(f"{path} is a folder; give the checkpoint file inside it")
    return path


class Video2Music:
    """Chord transformer + dynamics (a regression checkpoint or the documented rule)."""

    def __init__(self, checkpoint, regression=None, *, device: str = "cpu", name: str = "") -> None:
        self.checkpoint = checkpoint
        self.model = checkpoint.model.to(device).eval()
        self.regression = regression
        if regression is not None:
            regression.model.to(device).eval()
        self.device = device
        self.name = name
        self.generation_params: dict[str, Any] = {
            "temperature": 1.0,
            "top_p": 0.95,
            "max_repeat": MAX_HOLD_STEPS,
            "in_key": True,
            "loop_bias": LOOP_BIAS,
            "hold_bias": HOLD_BIAS,
            "cadence": True,
            "allow_n": False,
            "emotion_guidance": DEFAULT_EMOTION_GUIDANCE,
            "cut_changes": True,
        }

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path = "default",
        *,
        regression: str | Path | None = None,
        device: str = "cpu",
    ) -> Video2Music:
        """Load a shipped model (``default``, ``debug``), one of our checkpoints, or a published
        Video2Music state dict; ``regression`` optionally names a trained regression checkpoint
        (without one, note density and loudness come from ``model.dynamics_rule``)."""
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise UserError(f"device {device!r} asked for, but no CUDA GPU is available; use --device cpu")
        checkpoint = load_any(resolve_checkpoint(name_or_path), kind="amt")
        reg = load_any(resolve_checkpoint(regression), kind="regression") if regression else None
        return cls(checkpoint, reg, device=device, name=str(name_or_path))

    @property
    def inputs(self) -> frozenset[str]:
        return frozenset(self.model.config.inputs)

    def set_generation_params(self, **params: Any) -> None:
        """Defaults for ``generate``: temperature, top_p, max_repeat (half-bar steps), allow_n,
        emotion_guidance, cut_changes (start a new chord on every scene cut), in_key (the key mask
        of ``video2music.harmony``), loop_bias (pull towards the chord 4 bars back), hold_bias (pull
        towards holding a chord through the middle of a bar), cadence (end on the tonic)."""
        unknown = set(params) - set(self.generation_params)
        if unknown:
            raise UserError(
                f"unknown generation parameter(s) {sorted(unknown)}; known: {sorted(self.generation_params)}"
            )
        self.generation_params.update(params)

    def feature_backend(self, backend: str = "auto") -> str:
        """The backend to extract with: ``auto`` takes CLIP only when the model needs semantics."""
        needs_clip = "semantic" in self.inputs
        if backend == "auto":
            return "clip" if needs_clip else "basic"
        if backend not in ("clip", "basic"):
            raise UserError(f"unknown feature backend {backend!r}; use clip, basic or auto")
        if backend == "basic" and needs_clip:
            raise UserError(
                "this model was trained on CLIP semantic features, which the basic backend does not "
                "compute; run with --features clip (needs the CLIP weights) or use the default model"
            )
        return backend

    def extract_features(
        self, video: str | Path, backend: str = "auto", progress: bool = False
    ) -> VideoFeatures:
        return extract(video, backend=self.feature_backend(backend), device=self.device, progress=progress)

    def check_settings(
        self,
        *,
        key: str | vocab.Key | None = None,
        primer: str | None = None,
        tempo: float = 120.0,
        seed: int = 0,
        temperature: float | None = None,
        emotion_guidance: float | None = None,
    ) -> tuple[vocab.Key | None, list[int], DecodeOptions]:
        """Parse and check ``generate``'s settings without touching a video; UserError for a bad one.

        ``generate`` runs it first; callers with many videos or a queue run it to refuse a request
        before any work. Returns the key (None: chosen from the mood later), the primer's chord
        ids and the decoding options (primer and cut rule are added once the key and cuts are known).
        """
        out_key = vocab.parse_key(key) if isinstance(key, str) else key
        primer_ids = vocab.parse_progression(primer) if primer else []
        check_tempo(tempo)
        params = self.generation_params
        decoding = DecodeOptions(
            seed=seed,
            temperature=params["temperature"] if temperature is None else temperature,
            top_p=params["top_p"],
            allow_n=params["allow_n"],
            max_repeat=params["max_repeat"],
            emotion_guidance=params["emotion_guidance"] if emotion_guidance is None else emotion_guidance,
            key_mask=params["in_key"],
            loop_bias=params["loop_bias"],
            hold_bias=params["hold_bias"],
            cadence=params["cadence"],
            vary_with_video=True,
        )
        decoding.check()
        return out_key, primer_ids, decoding

    def _decode(
        self, features: VideoFeatures, grid: Grid, key: vocab.Key, primer: list[int], decoding: DecodeOptions
    ) -> list[int]:
        """The model's chords, one per step of ``grid``."""
        on_grid = grid.resample(features)
        video_input = build_video_input(on_grid, self.model.config.inputs).to(self.device)
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
        seed: int = 0,
        temperature: float | None = None,
        emotion_guidance: float | None = None,
        backend: str = "auto",
        progress: Progress | None = None,
        progress_bars: bool = False,
        chords: TimedChords | None = None,
    ) -> GenerationResult:
        """Score ``video`` (or precomputed ``features``): chords, dynamics and the arranged MIDI.

        ``primer`` chords are typed in the output key (``"C Am F G"`` in C major). ``chords`` (an
        edited progression, ``video2music.progression``) replace the decoded chords on the same
        grid, so the features, dynamics and cuts stay as they were. ``progress``,
        if given, is called with (fraction done, stage name); ``progress_bars`` shows tqdm bars
        for the long stages.
        """
        if video is None and features is None:
            raise UserError("give a video file or its features")
        report = progress or (lambda fraction, message: None)
        out_key, primer_ids, decoding = self.check_settings(
            key=key,
            primer=primer,
            tempo=tempo,
            seed=seed,
            temperature=temperature,
            emotion_guidance=emotion_guidance,
        )
        watch = Stopwatch()
        with watch("features"):
            if features is None:
                _warn_if_long(video, probe(video).duration)
                report(0.0, "extracting video features")
                features = self.extract_features(video, backend, progress=progress_bars)
            else:
                if "semantic" in self.inputs and features.semantic is None:
                    self.feature_backend("basic")  # raises the explanation
                _warn_if_long(video, features.duration)

        report(0.4, "writing chords")
        with watch("chords"):
            out_key = out_key or choose_key(features.emotion)
            cuts = features.scene_cuts if self.generation_params["cut_changes"] else ()
            grid = Grid.for_video(features.duration, tempo, cuts)
            if chords is not None:
                given, decided = chords.source, chords.on_grid(grid, out_key)
            else:
                given, decided = None, self._decode(features, grid, out_key, primer_ids, decoding)

        report(0.6, "setting note density and loudness")
        with watch("dynamics"):
            if self.regression is not None:
                reg_input = build_video_input(features, self.regression.model.config.inputs).to(self.device)
                with torch.inference_mode():
                    density, loudness = postprocess(self.regression.model(reg_input))
                density, loudness = np.asarray(density).reshape(-1), np.asarray(loudness).reshape(-1)
                dynamics_name = "regression"
            else:
                density, loudness = rule_dynamics(features.motion, features.emotion, features.scene_offset)
                dynamics_name = "rule"

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
            )
        report(1.0, "done")
        settings = {
            "seed": seed,
            "key": out_key.name,
            "key_chosen_from_mood": key is None,
            "primer": primer,
            "tempo": tempo,
            "drums": drums,
            "chords_from": given,
            "instruments": None if instruments is None else dataclasses.asdict(instruments),
            "instrument_names": (instruments or Instruments()).names(),
            **self.generation_params,
            "temperature": decoding.temperature,
            "emotion_guidance": decoding.emotion_guidance,
        }
        models = {
            "transformer": self.name,
            "transformer_inputs": sorted(self.inputs),
            "dynamics": dynamics_name,
        }
        return GenerationResult(
            video=Path(video) if video is not None else None,
            features=features,
            chords=[int(c) for c in decided],
            grid=grid,
            key=out_key,
            tempo=tempo,
            density=np.asarray(density, dtype=np.float32),
            loudness=np.asarray(loudness, dtype=np.float32),
            arrangement=arrangement,
            settings=settings,
            models=models,
            timings=watch.seconds,
        )
