"""What the web page does, without the web page: validate a request, reuse or extract the
video's features, generate, and save the results into a fresh run folder.

Kept free of Gradio so it can be tested and reused directly; ``video2music.app.ui`` only maps
page controls onto a ``Request`` and a ``ScoredRequest`` back onto page components.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from video2music.app.cache import FeatureCache
from video2music.app.runs import RunFolders, safe_stem
from video2music.audio.mux import AUDIO_MODES, Soundtrack
from video2music.compose.chords import GenerationSettings
from video2music.compose.instruments import Instruments
from video2music.compose.styles import DEFAULT_STYLE
from video2music.features import BACKENDS as FEATURE_BACKENDS
from video2music.output.writer import plan_result, write_result
from video2music.pipeline import Progress, Video2Music
from video2music.theory import vocab
from video2music.theory.grid import AUTO_TEMPO
from video2music.theory.progression import TimedChords, parse_timed
from video2music.utils.errors import UserError

logger = logging.getLogger(__name__)

AUTO_KEY = "auto (from the mood)"
BACKENDS = ("auto", *FEATURE_BACKENDS)
KEY_CHOICES = (AUTO_KEY,) + tuple(
    vocab.Key(tonic, mode).name for mode in ("major", "minor") for tonic in range(12)
)
AUDIO_CHOICES = AUDIO_MODES
# The stages of a request, in order, with the share of the work done when each starts (measured
# on the sample: extracting features takes about half of a first request, rendering and putting
# the music into the video most of the rest). Writer stages are the kinds of file it writes.
FEATURES_DONE = 0.45
WRITER_STAGES = {
    "midi": (0.6, "writing the MIDI"),
    "wav": (0.62, "rendering the music"),
    "video": (0.8, "putting the music into the video"),
    "plot": (0.9, "drawing the timeline"),
    "json": (0.97, "writing the summary"),
    "leadsheet": (0.98, "writing the lead sheet"),
}


@dataclass
class Request:
    """One press of Generate: the page's controls as plain values."""

    video: str | Path | None
    key: str = AUTO_KEY
    primer: str = ""
    tempo: float | None = None  # bpm; None: from the video
    style: str = DEFAULT_STYLE  # how the parts play (compose.styles); the instruments are set apart
    chords_program: int = Instruments.chords
    arpeggio_program: int = Instruments.arpeggio
    bass_program: int = Instruments.bass
    drums_program: int = Instruments.drums  # the kit
    drums: bool = True
    melody: bool = True
    seed: int = 0
    temperature: float | None = None  # None: the model's own setting (sampling.TEMPERATURE)
    emotion_strength: float | None = None  # None: the model's own setting (sampling.EMOTION_GUIDANCE)
    backend: str = "auto"
    audio: str = "mix"
    music_gain: float | None = None  # dB; None: the soundtrack's default
    chords: str = ""  # an edited progression ("0s Am | 2s F"): re-render with it instead of decoding
    take: int = 1  # outputs are named NAME_take<N>, so every take of a session can be downloaded


@dataclass
class ScoredRequest:
    """What one request produced: its run folder, the saved files and what to show."""

    folder: Path
    files: dict[str, Path]  # "midi", "wav", "video", "json", "plot"
    chords_text: str
    key: str
    features_cached: bool
    form_text: str = ""  # the song's sections and where they start
    tempo_text: str = ""  # the tempo, and whether the video chose it
    take: int = 1
    timings: dict[str, float] = field(default_factory=dict)

    def status(self) -> str:
        """One line for the page: key, and where the time went (and what the cache saved)."""
        t = self.timings
        if self.features_cached:
            features = f"features reused from cache (saved {t['features_saved']:.1f} s)"
        else:
            features = f"features extracted in {t['features']:.1f} s"
        line = (
            f"Take {self.take}: key {self.key}{self.tempo_text} · {features} · music in {t['music']:.1f} s · "
            f"total {t['total']:.1f} s"
        )
        return f"{line}\n\nSong form: {self.form_text}" if self.form_text else line


@dataclass(frozen=True)
class CheckedRequest:
    """A request's settings, parsed and checked; ``chords`` None: the model writes them."""

    video: Path
    backend: str
    instruments: Instruments
    settings: GenerationSettings
    soundtrack: Soundtrack
    chords: TimedChords | None


class Scorer:
    """Serves requests with one loaded model, a feature cache and per-request run folders."""

    def __init__(self, v2m: Video2Music, cache: FeatureCache, runs: RunFolders) -> None:
        self.v2m = v2m
        self.cache = cache
        self.runs = runs

    def check(self, request: Request) -> CheckedRequest:
        """Every setting checked before any work: the video path, resolved backend, instruments,
        generation settings, the soundtrack and the edited chords."""
        if request.video is None or not str(request.video):
            raise UserError("no video yet: upload one or pick the sample video, then press Generate")
        video = Path(request.video)
        if not video.is_file():
            raise UserError(f"the uploaded video {video.name} is gone; upload it again")
        if request.key not in KEY_CHOICES:
            raise UserError(f"unknown key {request.key!r}; pick one from the list")
        self.v2m.check_settings(**self._piece(request))
        instruments = Instruments(
            chords=int(request.chords_program),
            arpeggio=int(request.arpeggio_program),
            bass=int(request.bass_program),
            drums=int(request.drums_program),
        )
        return CheckedRequest(
            video=video,
            backend=self.v2m.feature_backend(request.backend),
            instruments=instruments,
            settings=self._settings(request),
            soundtrack=Soundtrack(request.audio, request.music_gain),
            chords=parse_timed(request.chords, "the chord text") if request.chords.strip() else None,
        )

    @staticmethod
    def _piece(request: Request) -> dict[str, Any]:
        """The request's choices for this piece as ``Video2Music.generate`` takes them."""
        return {
            "key": None if request.key == AUTO_KEY else request.key,
            "primer": request.primer.strip() or None,
            "tempo": AUTO_TEMPO if request.tempo is None else float(request.tempo),
            "style": request.style,
        }

    def _settings(self, request: Request) -> GenerationSettings:
        """The model's settings with this request's sampling choices (checked; the model is shared
        between requests, so they are passed per call rather than set on it)."""
        given = {"temperature": request.temperature, "emotion_guidance": request.emotion_strength}
        return self.v2m.settings.replace(**{k: float(v) for k, v in given.items() if v is not None})

    def run(self, request: Request, progress: Progress | None = None) -> ScoredRequest:
        """Generate for ``request`` into a new run folder; UserError for anything the user can fix."""
        report = progress or (lambda fraction, message: None)
        started = time.perf_counter()
        checked = self.check(request)
        video, backend = checked.video, checked.backend

        report(0.0, "watching the video: scenes, motion and mood")
        try:
            cached = self.cache.get_or_extract(
                video, backend, lambda path: self.v2m.extract_features(path, backend=backend)
            )
        except UserError as error:
            # The message names the upload's path on the server; the visitor knows it by its name.
            raise UserError(str(error).replace(str(video), video.name)) from None
        features_done = time.perf_counter()

        def generation_progress(fraction: float, message: str) -> None:
            report(FEATURES_DONE + (WRITER_STAGES["midi"][0] - FEATURES_DONE) * fraction, message)

        def writer_progress(kind: str) -> None:
            report(*WRITER_STAGES[kind])

        result = self.v2m.generate(
            video,
            features=cached.features,
            instruments=checked.instruments,
            drums=bool(request.drums),
            melody=bool(request.melody),
            progress=generation_progress,
            chords=checked.chords,
            seed=int(request.seed),
            settings=checked.settings,
            under_sound=checked.soundtrack.mode == "mix",
            **self._piece(request),
        )
        # The JSON times the extraction this request made (none when the features were cached).
        result.timings["features"] = 0.0 if cached.hit else cached.extract_seconds
        folder = self.runs.new()
        stem = f"{safe_stem(video.name)}_take{int(request.take)}"
        try:
            plan = plan_result(folder, stem, plot=True, overwrite=True, soundtrack=checked.soundtrack)
            files = write_result(result, plan, stages=writer_progress)
            stray = [p for p in files.values() if not self.runs.owns(p)]
            if stray:  # the writer is asked for files in the run folder; anything else must never be served
                raise RuntimeError(f"outputs outside the run folder: {stray}")
        except BaseException:
            self.runs.discard(folder)  # a failed request leaves no folder, empty or half-filled
            raise
        report(1.0, "done")
        finished = time.perf_counter()
        timings = {
            "features": 0.0 if cached.hit else features_done - started,
            "features_saved": cached.extract_seconds if cached.hit else 0.0,
            "music": finished - features_done,
            "total": finished - started,
        }
        scored = ScoredRequest(
            folder=folder,
            files=files,
            chords_text=result.chords_text(),
            form_text=result.form_text(),
            tempo_text=f", {result.tempo:g} bpm"
            + (" (from the video)" if result.settings["tempo_chosen"] == "auto" else ""),
            key=result.key.name,
            features_cached=cached.hit,
            take=int(request.take),
            timings=timings,
        )
        logger.info("run %s: %s", folder.name, scored.status())
        return scored
