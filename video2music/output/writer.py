"""Writing a result's files as one set: all of them, or none, and never a mix of two runs.

Every file of a set (``.mid``, ``.wav``, the video with music, ``.json``, ``.png``, the lead
sheet ``.musicxml``) is first
written into a hidden staging folder inside the output folder, under its final name (libraries
pick the format from the extension). Only when every file is complete are they renamed into
place, with SIGINT, SIGTERM and SIGHUP held back for those few renames; with ``overwrite`` the
old set (every file of that name the writer makes, also kinds this run does not write) leaves
in the same step. Whatever stops a run earlier (an error, a full disk, Ctrl-C, a kill signal
turned into KeyboardInterrupt by ``errors.cli_main``) removes the staging folder and leaves the
output folder as it was. A run killed outright (SIGKILL) cannot: each staging folder holds a lock
that lives as long as its run, and the next run into that folder removes those whose lock is free.

The WAV is rendered from a humanised copy of the MIDI (``audio.humanize``, keyed by the seed)
unless the set says not to; the MIDI file itself stays on the grid unless ``humanize_midi``.
Stems are rendered from the same copy, one part at a time, and given the mix's own master, so
they add up to the mix; a part that plays nothing gets no stem (the JSON lists it).

Everything that can be checked without the slow work is checked when the set is planned
(``plan_result``, ``plan_music``): existing outputs, folders in the way, the soundfont from any
source and the FluidSynth library. Any ``OSError`` while writing (no space, no permission, a
read-only disk, a folder where a file should be) becomes a ``UserError`` naming the file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import mido

from video2music.audio import mux, synth
from video2music.audio.humanize import humanize
from video2music.audio.renderer import Renderer
from video2music.compose.arrangement import Arrangement
from video2music.output.leadsheet import write_lead_sheet
from video2music.output.result import GenerationResult
from video2music.utils.errors import UserError
from video2music.utils.fileio import describe, writing
from video2music.utils.forked import ForkedCall
from video2music.utils.timing import Stopwatch

logger = logging.getLogger(__name__)

# The file names of one generation, after the video's stem.
RESULT_NAMES = {
    "midi": ".mid",
    "wav": ".wav",
    "video": "_with_music.mp4",
    "mix": "_with_music.wav",  # the video's own sound with the music under it
    "json": ".json",
    "plot": ".png",
    "leadsheet": ".musicxml",
}
# The music command's set, after the --out base name.
MUSIC_NAMES = {"midi": ".mid", "wav": ".wav", "video": ".mp4"}
# One WAV per part with --stems, after either set's base name: "stem:Bass" -> NAME_bass.wav.
STEM_PARTS = ("Chords", "Arpeggio", "Bass", "Drums", "Melody")
STEM_NAMES = {f"stem:{part}": f"_{part.lower()}.wav" for part in STEM_PARTS}
_HELD_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
# In every staging folder: locked while the run that made it lives (see _lock_stage).
STAGE_LOCK = "run.lock"


@dataclass(frozen=True)
class OutputSet:
    """The files one run writes, checked; ``members`` are every name a set of this stem can have."""

    targets: dict[str, Path]  # kind ("midi", "wav", "video", "json", "plot", "stem:PART") -> final path
    members: tuple[Path, ...]
    overwrite: bool
    soundfont: Path | None  # resolved and checked when a WAV is written
    loudness: float | None = synth.LOUDNESS_TARGET  # LUFS the WAVs are brought to (None: as rendered)
    soundtrack: mux.Soundtrack = mux.REPLACE  # what the video's audio stream holds
    humanize: bool = True  # the WAVs play a humanised copy of the MIDI
    humanize_midi: bool = False  # and the MIDI file is that copy too

    @property
    def folder(self) -> Path:
        return self.targets["midi"].parent


def plan_result(
    folder: str | os.PathLike,
    stem: str,
    *,
    wav: bool = True,
    video: bool = True,
    json: bool = True,
    plot: bool = False,
    lead_sheet: bool = True,
    stems: bool = False,
    soundfont: str | os.PathLike | None = None,
    loudness: float | None = synth.LOUDNESS_TARGET,
    overwrite: bool = False,
    soundtrack: mux.Soundtrack | None = None,
    humanize: bool = True,
    humanize_midi: bool = False,
) -> OutputSet:
    """The set ``write_result`` writes for one video: ``stem.mid`` and, as asked, ``stem.wav``,
    ``stem_with_music.mp4`` (only for a result that has a video; it needs the WAV), with a mix
    also ``stem_with_music.wav`` (when the video has a sound of its own), ``stem.json``,
    ``stem.png``, ``stem.musicxml`` (the lead sheet) and one ``stem_PART.wav`` per part.
    ``soundtrack`` (default: a mix) says what the video's audio holds; ``music-only`` writes no
    video. ``humanize`` plays the WAVs a little off the grid, ``humanize_midi`` writes the MIDI
    so too. Raises UserError for anything that would stop the writing later."""
    soundtrack = soundtrack or mux.Soundtrack()
    video = video and soundtrack.mode != "music-only"
    kinds = ["midi"]
    if wav or video or stems:
        kinds.append("wav")
    asked = (
        ("video", video),
        ("mix", video and soundtrack.mode == "mix"),
        ("json", json),
        ("plot", plot),
        ("leadsheet", lead_sheet),
    )
    kinds += [kind for kind, wanted in asked if wanted]
    kinds += list(STEM_NAMES) if stems else []
    plan = _plan(Path(folder), stem, RESULT_NAMES, kinds, soundfont, loudness, overwrite)
    return dataclasses.replace(plan, soundtrack=soundtrack, humanize=humanize, humanize_midi=humanize_midi)


def plan_music(
    base: str | os.PathLike,
    *,
    video: bool,
    soundfont: str | os.PathLike | None,
    overwrite: bool,
    stems: bool = False,
    loudness: float | None = synth.LOUDNESS_TARGET,
    humanize: bool = True,
    humanize_midi: bool = False,
) -> OutputSet:
    """The music command's set: ``base.mid``, ``base.wav``, with a video ``base.mp4`` and with
    ``stems`` one ``base_PART.wav`` per part; ``humanize`` as in ``plan_result``."""
    base = Path(base)
    kinds = ["midi", "wav", "video"] if video else ["midi", "wav"]
    kinds += list(STEM_NAMES) if stems else []
    plan = _plan(base.parent, base.name, MUSIC_NAMES, kinds, soundfont, loudness, overwrite)
    return dataclasses.replace(plan, humanize=humanize, humanize_midi=humanize_midi)


def _plan(
    folder: Path,
    stem: str,
    names: dict[str, str],
    kinds: list[str],
    soundfont: str | os.PathLike | None,
    loudness: float | None,
    overwrite: bool,
) -> OutputSet:
    synth.check_loudness(loudness)
    members = {kind: folder / f"{stem}{suffix}" for kind, suffix in {**names, **STEM_NAMES}.items()}
    targets = {kind: members[kind] for kind in kinds}
    found = synth.find_soundfont(soundfont) if "wav" in targets else None
    if found is not None:
        synth.load_fluidsynth()
    _check_folder(folder)
    for path in targets.values():
        if path.is_dir():
            raise UserError(f"{path} is a folder; remove it or choose another output name")
        if path.exists() and not overwrite:
            raise UserError(f"{path} already exists; pass --overwrite to replace it or choose another output")
    return OutputSet(targets, tuple(members.values()), overwrite, found, loudness)


def _check_folder(folder: Path) -> None:
    """The output folder exists and is writable, or it can be created (nothing is created yet)."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(
            f"cannot create the output folder {folder} ({existing} is a file); choose another output folder"
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"output folder {existing} is not writable; choose another output folder")


def check_distinct(plans: list[OutputSet]) -> None:
    """Refuse a batch in which two videos would write the same file (same name, one --out)."""
    seen: dict[Path, int] = {}
    for index, plan in enumerate(plans):
        for path in plan.targets.values():
            key = path.resolve()
            if key in seen and seen[key] != index:
                raise UserError(
                    f"two videos would both write {path}; give them different names or score them "
                    "into different --out folders"
                )
            seen[key] = index


@contextlib.contextmanager
def staged(outputs: OutputSet) -> Iterator[dict[str, Path]]:
    """Yield kind -> a staging path for each target; commit them all when the block succeeds."""
    made = _make_folders(outputs.folder)
    _clear_dead_stages(outputs.folder)
    committed = False
    stage: Path | None = None
    lock: int | None = None
    try:
        try:
            stage = Path(tempfile.mkdtemp(prefix=f".{outputs.targets['midi'].stem}.", dir=outputs.folder))
            lock = _lock_stage(stage)
        except OSError as error:
            raise UserError(describe(error, outputs.folder)) from None
        yield {kind: stage / path.name for kind, path in outputs.targets.items()}
        with _signals_held():
            _commit(stage, outputs)
        committed = True
    finally:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
        if lock is not None:
            os.close(lock)
        if not committed:
            for folder in reversed(made):  # only the folders this run made, and only if empty
                with contextlib.suppress(OSError):
                    folder.rmdir()


def _lock_stage(stage: Path) -> int:
    """Hold STAGE_LOCK in ``stage`` for as long as this process (or a child forked meanwhile)
    lives: the kernel lets go of it when they die, however they die. The lock is taken under
    another name and then renamed, so no other run ever finds the file unlocked."""
    taking = stage / f"{STAGE_LOCK}.new"
    fd = os.open(taking, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(taking, stage / STAGE_LOCK)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _clear_dead_stages(folder: Path) -> None:
    """Remove the staging folders that runs killed outright (SIGKILL, the out-of-memory killer, a
    power cut) left in ``folder``: those whose lock nobody holds. A live run's is never touched."""
    for lock_path in folder.glob(f".*/{STAGE_LOCK}"):
        try:
            fd = os.open(lock_path, os.O_RDWR)
        except OSError:  # its run has just finished and removed it
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: its run is alive
            os.close(fd)
            continue
        try:
            shutil.rmtree(lock_path.parent, ignore_errors=True)
        finally:
            os.close(fd)
        logger.info("removed %s, left by a run that was killed", lock_path.parent)


def _make_folders(folder: Path) -> list[Path]:
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    made = []
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except OSError as error:
            raise UserError(
                f"cannot create the output folder {path} ({error.strerror}); choose another output folder"
            ) from None
        made.append(path)
    return made


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold back the signals that stop a command while the set is renamed into place.

    A signal that arrives meanwhile is delivered right after, when the set is whole. Only the main
    thread receives them (the web app writes from worker threads, where there is nothing to hold).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _commit(stage: Path, outputs: OutputSet) -> None:
    """Move the old set aside (with overwrite), the new one in; on any failure, put back the old."""
    old = stage / "old"
    moved_old: list[tuple[Path, Path]] = []
    moved_new: list[tuple[Path, Path]] = []
    current = outputs.folder
    try:
        old.mkdir()
        for path in outputs.members:
            current = path
            if path.is_dir() or not (path.exists() or path.is_symlink()):
                continue
            if not outputs.overwrite:
                if path in outputs.targets.values():  # appeared while this run was working
                    raise UserError(
                        f"{path} already exists; pass --overwrite to replace it or choose another output"
                    )
                continue
            os.replace(path, old / path.name)
            moved_old.append((old / path.name, path))
        for path in outputs.targets.values():
            current = path
            os.replace(stage / path.name, path)
            moved_new.append((path, stage / path.name))
    except BaseException as error:
        for done in (moved_new, moved_old):
            for source, back in reversed(done):
                with contextlib.suppress(OSError):
                    os.replace(source, back)
        if isinstance(error, OSError):
            raise UserError(describe(error, current)) from None
        raise


def stems_left_out(outputs: OutputSet, arrangement: Arrangement) -> dict[str, str]:
    """The parts whose stems ``outputs`` asks for but that get none, and why."""
    parts = {part.name: part for part in arrangement.parts}
    left_out = {}
    for kind in (k for k in outputs.targets if k.startswith("stem:")):
        name = kind.removeprefix("stem:")
        if name not in parts:
            left_out[name] = "not in the arrangement"
        elif not parts[name].notes:
            left_out[name] = "plays no notes"
    return left_out


def _solo(midi: mido.MidiFile, name: str) -> mido.MidiFile:
    """``midi`` with its conductor track and the track called ``name`` only."""
    solo = mido.MidiFile(type=midi.type, ticks_per_beat=midi.ticks_per_beat)
    solo.tracks = [midi.tracks[0], *(track for track in midi.tracks[1:] if track.name == name)]
    return solo


def write_music(
    outputs: OutputSet,
    arrangement: Arrangement,
    *,
    seed: int = 0,
    video: str | os.PathLike | None = None,
    duration: float | None = None,
    extra: dict[str, Callable[[Path], None]] | None = None,
    timings: dict[str, float] | None = None,
    progress_bars: bool = False,
    stages: Callable[[str], None] | None = None,
    parallel: Collection[str] = (),
    renderer: Renderer | None = None,
) -> dict[str, Path]:
    """Write the set: the MIDI, its render (humanised by ``seed``, as the set says; in the process
    of ``renderer`` when one is given, see ``audio.renderer``), the stems,
    the video with the render as soundtrack, then ``extra`` kinds in order (kind -> a function
    that writes that file at the path it is given); the ``parallel`` ones among them are started
    first, in child processes that write while the render runs (``video2music.utils.forked``).
    ``stages`` is told each kind (but the stems) just before it is written (a parallel one: before
    its result is awaited). Returns kind -> path of what was written; seconds per stage go into
    ``timings`` (a parallel kind's: the wait)."""
    watch = Stopwatch(timings)
    starting = stages or (lambda kind: None)
    for part in stems_left_out(outputs, arrangement):
        outputs = _without(outputs, f"stem:{part}")
    extra = {kind: write for kind, write in (extra or {}).items() if kind in outputs.targets}
    with staged(outputs) as stage, contextlib.ExitStack() as children:
        started = {
            kind: children.enter_context(ForkedCall(write, stage[kind]))
            for kind, write in extra.items()
            if kind in parallel
        }
        starting("midi")
        with watch("save_midi"), writing(outputs.targets["midi"]):
            played = arrangement.to_midi()  # the score; the WAV plays the humanised copy of it
            if not outputs.humanize_midi:
                played.save(stage["midi"])
            if outputs.humanize:
                played = humanize(played, seed)  # the score is not kept: a long one is large
            if outputs.humanize_midi:
                played.save(stage["midi"])
        if "wav" in stage:
            starting("wav")
            with watch("render"), writing(outputs.targets["wav"]):
                master = synth.render_wav(
                    played,
                    stage["wav"],
                    outputs.soundfont,
                    duration=duration,
                    loudness=outputs.loudness,
                    progress_bars=progress_bars,
                    renderer=renderer,
                )
        for part in arrangement.parts:
            kind = f"stem:{part.name}"
            if kind in stage:  # with the mix's master, so the stems add up to the mix
                with watch("stems"), writing(outputs.targets[kind]):
                    synth.render_wav(_solo(played, part.name), stage[kind], outputs.soundfont, master=master)
        if "video" in stage:
            starting("video")
            with watch("mux"), writing(outputs.targets["video"]):
                mixed, loudness = stage.get("mix"), outputs.loudness
                mux.mux_into(video, stage["wav"], stage["video"], outputs.soundtrack, mixed, loudness)
        for kind, write in extra.items():
            starting(kind)
            with watch(kind), writing(outputs.targets[kind]):
                if kind in started:
                    started[kind].result()
                else:
                    write(stage[kind])
    logger.debug("wrote %s", ", ".join(str(p) for p in outputs.targets.values()))
    return dict(outputs.targets)


def write_result(
    result: GenerationResult,
    outputs: OutputSet | str | os.PathLike,
    *,
    progress_bars: bool = False,
    stages: Callable[[str], None] | None = None,
    composer: str | None = None,
    renderer: Renderer | None = None,
) -> dict[str, Path]:
    """Write ``result`` as the set ``outputs`` plans (a folder: the default set, named after the
    video); returns kind -> path and adds the writing stages to ``result.timings``. ``stages`` is
    told each kind of file just before it is written. ``composer`` is named on the lead sheet
    (titled after the video) and in the JSON. ``renderer`` renders the WAV (``write_music``)."""
    if not isinstance(outputs, OutputSet):
        outputs = plan_result(outputs, result.video.stem if result.video else "video2music")
    if "video" in outputs.targets and result.video is None:
        outputs = _without(outputs, "video")
    if "mix" in outputs.targets and (result.video is None or not mux.has_audio(result.video)):
        outputs = _without(outputs, "mix")  # nothing to mix with: the video gets the music alone

    def write_plot(path: Path) -> None:
        from video2music.output.plot import plot_timeline  # matplotlib is slow to import; only when asked

        plot_timeline(result, path)

    def write_json(path: Path) -> None:
        summary = result.summary() | ({"composer": composer} if composer else {})
        summary["render"] = {
            "soundfont": outputs.soundfont.name if outputs.soundfont else None,
            "humanized": outputs.humanize,
            "midi_humanized": outputs.humanize and outputs.humanize_midi,
            "loudness_target": outputs.loudness,
        }
        if any(kind.startswith("stem:") for kind in outputs.targets):
            summary["render"]["stems_left_out"] = stems_left_out(outputs, result.arrangement)
        path.write_text(json.dumps(summary, indent=1))

    def write_sheet(path: Path) -> None:
        title = result.video.stem if result.video else outputs.targets["midi"].stem
        write_lead_sheet(result.arrangement, path, title=title, composer=composer)

    return write_music(
        outputs,
        result.arrangement,
        seed=result.seed,
        video=result.video,
        duration=result.features.duration,
        # The JSON last, so that its timings hold every stage but its own writing.
        extra={"plot": write_plot, "leadsheet": write_sheet, "json": write_json},
        timings=result.timings,
        progress_bars=progress_bars,
        stages=stages,
        parallel={"plot"},  # matplotlib: slow to import, slow to write
        renderer=renderer,
    )


def _without(outputs: OutputSet, kind: str) -> OutputSet:
    targets = {k: path for k, path in outputs.targets.items() if k != kind}
    return dataclasses.replace(outputs, targets=targets)
