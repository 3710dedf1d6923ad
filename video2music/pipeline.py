"""The façade: ``Video2Music.from_pretrained(...).generate(video, ...)``.

One object holds the models (the chord transformer, and a regression checkpoint or the
rule-based dynamics) and runs the whole chain: features -> chords -> dynamics -> MIDI. The
result renders and saves itself (MIDI, WAV, video with music, JSON summary, timeline plot).

    from video2music import Video2Music
    v2m = Video2Music.from_pretrained("default")
    result = v2m.generate("clip.mp4", key="A minor", seed=0)
    result.save("out/")
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from video2music import __version__, vocab
from video2music.errors import UserError
from video2music.features import VideoFeatures, extract, probe
from video2music.fileio import atomic_output, check_writable, make_folder
from video2music.model.checkpoint import load_any
from video2music.model.decode import DecodeOptions, decode_chords
from video2music.model.device import check_device
from video2music.model.dynamics_rule import rule_dynamics
from video2music.model.inputs import build_video_input
from video2music.model.regression import postprocess
from video2music.music.arrange import Arrangement, Instruments, arrange, check_tempo, write_midi
from video2music.music.mux import mux
from video2music.music.synth import render

logger = logging.getLogger(__name__)

SAVED_MODELS = Path(__file__).resolve().parent.parent / "saved_models"
LONG_VIDEO_SECONDS = 20 * 60
Progress = Callable[[float, str], None]
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


def cut_seconds(scene_offset: np.ndarray) -> frozenset[int]:
    """The seconds (after the first) on which a new scene begins: where the offset restarts at 0."""
    return frozenset(int(t) for t in np.flatnonzero(np.asarray(scene_offset) == 0) if t > 0)


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


@dataclass
class GenerationResult:
    """Everything one generation produced; ``save`` writes it out."""

    video: Path | None
    features: VideoFeatures
    chords: list[int]  # one id per second, in the normalised C major / A minor space
    key: vocab.Key
    tempo: float
    density: np.ndarray
    loudness: np.ndarray
    arrangement: Arrangement  # the MIDI, before it is written
    settings: dict[str, Any]
    models: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def seed(self) -> int:
        return int(self.settings["seed"])

    def chord_labels(self) -> list[str]:
        """The chord of each second, in the output key, spelled as that key spells it."""
        return [
            vocab.chord_label(vocab.transpose_chord(c, self.key.transpose), self.key) for c in self.chords
        ]

    def chord_changes(self) -> list[tuple[int, str]]:
        """(second, label) at each change of chord."""
        labels = self.chord_labels()
        return [(t, label) for t, label in enumerate(labels) if t == 0 or label != labels[t - 1]]

    def chords_text(self) -> str:
        """A readable progression: ``0s C | 2s A:min | 4s F ...``."""
        return " | ".join(f"{t}s {label}" for t, label in self.chord_changes())

    def summary(self) -> dict[str, Any]:
        """What the JSON file holds: settings, models, features summary and per-second results."""
        f = self.features
        return {
            "video2music_version": __version__,
            "video": str(self.video) if self.video else None,
            "duration": f.duration,
            "seconds": f.T,
            "key": self.key.name,
            "tempo": self.tempo,
            "settings": self.settings,
            "models": self.models,
            "features": {
                "backend": f.backend,
                "fps": f.fps,
                "scene_cuts": [float(c) for c in f.scene_cuts],
                "mean_emotion": dict(
                    zip(vocab.EMOTIONS, np.round(f.emotion.mean(0), 4).tolist(), strict=True)
                ),
                "mean_motion": round(float(f.motion.mean()), 4),
            },
            "chords": self.chord_labels(),
            "chord_changes": [{"time": t, "chord": label} for t, label in self.chord_changes()],
            "chord_ids_normalised": [int(c) for c in self.chords],
            "emotion": np.round(f.emotion, 4).tolist(),
            "scene_offset": f.scene_offset.astype(int).tolist(),
            "motion": np.round(f.motion, 3).tolist(),
            "note_density": np.round(self.density, 3).tolist(),
            "loudness": np.round(self.loudness, 4).tolist(),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }

    def save(
        self,
        folder: str | Path,
        stem: str | None = None,
        *,
        wav: bool = True,
        video: bool = True,
        json: bool = True,
        plot: bool = False,
        soundfont: str | Path | None = None,
        overwrite: bool = False,
        progress: bool = False,
    ) -> dict[str, Path]:
        """Write ``stem.mid`` and, as asked, ``stem.wav``, ``stem_with_music.mp4``, ``stem.json``,
        ``stem.png`` into ``folder`` (created if missing). Every target is checked before anything
        is written, and each file appears only once complete."""
        folder = make_folder(folder)
        stem = stem or (self.video.stem if self.video else "video2music")
        targets = {"midi": folder / f"{stem}.mid"}
        if wav or (video and self.video):
            targets["wav"] = folder / f"{stem}.wav"
        if video and self.video:
            targets["video"] = folder / f"{stem}_with_music.mp4"
        if json:
            targets["json"] = folder / f"{stem}.json"
        if plot:
            targets["plot"] = folder / f"{stem}.png"
        for path in targets.values():
            check_writable(path, overwrite)

        started = time.perf_counter()
        write_midi(self.arrangement, targets["midi"], overwrite=overwrite)
        self.timings["save_midi"] = time.perf_counter() - started
        if "wav" in targets:
            started = time.perf_counter()
            render(
                targets["midi"],
                targets["wav"],
                soundfont=soundfont,
                overwrite=overwrite,
                duration=self.features.duration,
                progress=progress,
            )
            self.timings["render"] = time.perf_counter() - started
        if "video" in targets:
            started = time.perf_counter()
            mux(self.video, targets["wav"], targets["video"], overwrite=overwrite)
            self.timings["mux"] = time.perf_counter() - started
        if "plot" in targets:
            from video2music.plot import plot_timeline  # matplotlib is slow to import; only when asked

            plot_timeline(self, targets["plot"], overwrite=overwrite)
        if "json" in targets:
            with atomic_output(targets["json"], overwrite) as tmp:
                tmp.write_text(_json_dumps(self.summary()))
        return targets


def _json_dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1)


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
            "max_repeat": 2,
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
        check_device(device)
        checkpoint = load_any(resolve_checkpoint(name_or_path), kind="amt")
        reg = load_any(resolve_checkpoint(regression), kind="regression") if regression else None
        return cls(checkpoint, reg, device=device, name=str(name_or_path))

    @property
    def inputs(self) -> frozenset[str]:
        return frozenset(self.model.config.inputs)

    def set_generation_params(self, **params: Any) -> None:
        """Defaults for ``generate``: temperature, top_p, max_repeat, allow_n, emotion_guidance,
        cut_changes (start a new chord on every scene cut)."""
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
        )
        decoding.check()
        return out_key, primer_ids, decoding

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
    ) -> GenerationResult:
        """Score ``video`` (or precomputed ``features``): chords, dynamics and the arranged MIDI.

        ``primer`` chords are typed in the output key (``"C Am F G"`` in C major). ``progress``,
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
        timings: dict[str, float] = {}

        started = time.perf_counter()
        if features is None:
            _warn_if_long(video, probe(video).duration)
            report(0.0, "extracting video features")
            features = self.extract_features(video, backend, progress=progress_bars)
        else:
            if "semantic" in self.inputs and features.semantic is None:
                self.feature_backend("basic")  # raises the explanation
            _warn_if_long(video, features.duration)
        timings["features"] = time.perf_counter() - started

        report(0.4, "writing chords")
        started = time.perf_counter()
        out_key = out_key or choose_key(features.emotion)
        video_input = build_video_input(features, self.model.config.inputs).to(self.device)
        options = dataclasses.replace(
            decoding,
            primer=tuple(vocab.transpose_chord(c, -out_key.transpose) for c in primer_ids),
            change_at=cut_seconds(features.scene_offset) if self.generation_params["cut_changes"] else None,
        )
        chords = decode_chords(self.model, video_input, out_key.mode_bit, options, emotion=features.emotion)
        timings["chords"] = time.perf_counter() - started

        report(0.6, "setting note density and loudness")
        started = time.perf_counter()
        if self.regression is not None:
            reg_input = build_video_input(features, self.regression.model.config.inputs).to(self.device)
            with torch.inference_mode():
                density, loudness = postprocess(self.regression.model(reg_input))
            density, loudness = np.asarray(density).reshape(-1), np.asarray(loudness).reshape(-1)
            dynamics_name = "regression"
        else:
            density, loudness = rule_dynamics(features.motion, features.emotion, features.scene_offset)
            dynamics_name = "rule"
        timings["dynamics"] = time.perf_counter() - started

        report(0.8, "arranging")
        started = time.perf_counter()
        arrangement = arrange(
            chords,
            density,
            loudness,
            out_key,
            tempo=tempo,
            instruments=instruments,
            scene_cuts=features.scene_cuts,
            drums=drums,
        )
        timings["arrange"] = time.perf_counter() - started
        report(1.0, "done")
        settings = {
            "seed": seed,
            "key": out_key.name,
            "key_chosen_from_mood": key is None,
            "primer": primer,
            "tempo": tempo,
            "drums": drums,
            "instruments": None if instruments is None else dataclasses.asdict(instruments),
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
            chords=list(chords),
            key=out_key,
            tempo=tempo,
            density=np.asarray(density, dtype=np.float32),
            loudness=np.asarray(loudness, dtype=np.float32),
            arrangement=arrangement,
            settings=settings,
            models=models,
            timings=timings,
        )
