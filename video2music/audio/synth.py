"""Render MIDI to a 44.1 kHz 16-bit stereo WAV with FluidSynth, offline.

No audio driver is opened: the MIDI events are fed to a FluidSynth synthesizer in time order and
the samples between them are pulled as floats (``fluid_synth_write_float``), so rendering runs
faster than real time and gives the same result on every machine with the same soundfont and
the same number of cores (a long piece is rendered in spans, one a core: see PREROLL). The synth's reverb and
chorus play the sends each track sets (CC91, CC93; ``compose.arrangement.SENDS``). Without a
duration the render goes on after the last event until the release and the reverb have rung
out (RING_OUT_DB under the loudest moment, at most MAX_TAIL seconds).

``render_wav`` streams: the synth's blocks go through the first pass of ``audio.master`` (DC
offset removed, loudness and peaks measured) straight into the WAV file, and the master (the
level for the loudness target, the limiter, the closing fade; it depends on the whole render)
is applied afterwards in place, block by block, so memory stays the same for a minute or for
hours of music. Spans are measured apart and joined (``master.record_parts``).

Soundfont lookup order: an explicit path, then the ``VIDEO2MUSIC_SOUNDFONT`` environment
variable, then Debian's MuseScore General (``musescore-general-soundfont-lossless``'s SF2, then
``musescore-general-soundfont``'s SF3, when this FluidSynth can read SF3), then Debian's
FluidR3_GM (package fluid-soundfont-gm), then the small ``TimGM6mb.sf2`` that pretty_midi ships.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import importlib.util
import logging
import os
import struct
import sys
import tempfile
import wave
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import mido
import numpy as np
from tqdm import tqdm

from video2music.audio import master as mastering
from video2music.audio.master import LOUDNESS_TARGET, SAMPLE_RATE, Master
from video2music.utils.ahead import ahead
from video2music.utils.cores import stretches, usable_cores
from video2music.utils.errors import UserError
from video2music.utils.fileio import atomic_output

logger = logging.getLogger(__name__)

ENV_SOUNDFONT = "VIDEO2MUSIC_SOUNDFONT"
# MuseScore General: the same bank uncompressed (SF2, fast to load) or Ogg-compressed (SF3,
# a fifth of the size; FluidSynth decodes each instrument's samples when a track selects it).
MUSESCORE_SOUNDFONTS = (
    Path("/usr/share/sounds/sf2/MuseScore_General_Full.sf2"),
    Path("/usr/share/sounds/sf3/MuseScore_General_Full.sf3"),
)
DEBIAN_SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
MAX_TAIL = 10.0  # seconds rendered at most after the last event while the sound rings out
RING_OUT_DB = -60.0  # the tail ends when a block's peak is this far under the loudest so far
# Soundfonts differ in level by 10 dB and more, and FluidSynth clips its 16-bit output, so the
# synth runs with headroom and the finished render is brought to a standard loudness afterwards.
RENDER_GAIN = 0.2
LOUDNESS_RANGE = (-40.0, -6.0)
UNNORMALISED_GAIN = 4.0  # with no loudness target: the synth's own level, less RENDER_GAIN's headroom
FADE = 0.01  # seconds: the fade at the end of a render that rang out, so it ends without a click
# A render cut to the picture's length fades what sounds after the last event, CUT_FADE to
# TAIL_FADE seconds of it: on the master's squared ramp its final 50 ms lie 30 dB and more
# under the music, so the last chord dies away on the last frame instead of stopping.
CUT_FADE = 0.3
TAIL_FADE = 1.0
# The room: a medium hall, its highs damped, wide; its level and the chorus's are what each
# track's send (CC91, CC93) is scaled by.
REVERB = {"roomsize": 0.6, "damping": 0.4, "width": 0.8, "level": 0.5}
CHORUS = {"nr": 3, "level": 1.2, "speed": 0.3, "depth": 8.0, "type": 0}  # three sine-swept voices
# A render uses up to this many cores. A long piece is cut into spans, one per core, each played
# by a synthesizer of its own in a thread of its own (``_Render.spans``); a short one is played by
# one synthesizer that spreads its voices over the cores. 5 minutes of a 25-minute piece (MuseScore
# General) took 3.8 s to synthesize on one core, 2.7 s with the voices on two and 2.2 s in spans.
MAX_CORES = 4
# Each span's synthesizer plays the PREROLL seconds before it (and from the start of any note that
# still sounds where it begins) and drops them, so that what rings into the span is there when it
# starts. Before that it plays silence from the piece's start, so that its reverb and chorus sway
# in the same phase as the synthesizer before it (out of phase, a span differed from one render
# of the whole by 10 dB under the music). FluidSynth's voices also carry a little of the notes
# they played before into the next: with 10 s of pre-roll, a few arpeggio notes 6-15 s into a
# span differed by up to 2e-3; with 30 s, the span was the whole render's to 1e-8 from its
# second second on. A span is at least MIN_SPAN long: shorter ones would spend more on their
# pre-roll than the second core saves. A note ringing within RING seconds after its note-off
# counts as sounding (its release).
MIN_SPAN = 90.0
PREROLL = 30.0
RING = 3.0
SPARE_CHANNELS = range(10, 16)  # channels no arrangement plays on: ``warm`` holds instruments there
DRUM_BANK = 128  # the bank of General MIDI drum kits
_BLOCK = 4096  # samples pulled per get_samples call while advancing through a gap
_SILENT = 4 / 32768  # a block that peaks under this is silence at 16 bits
_DEFAULT_TEMPO = mido.bpm2tempo(120)  # MIDI's, until a file sets one
_SF3_PROBE_PROGRAM = 73  # a small instrument (flute): decoding its samples proves SF3 support

_HOW_TO_GET_ONE = (
    "install one (sudo apt-get install musescore-general-soundfont-lossless), set "
    f"{ENV_SOUNDFONT} or pass --soundfont with a General MIDI .sf2/.sf3 file"
)


def _pretty_midi_soundfont() -> Path:
    spec = importlib.util.find_spec("pretty_midi")
    origin = spec.origin if spec is not None else None
    return Path(origin).parent / "TimGM6mb.sf2" if origin else Path("TimGM6mb.sf2")


def _check_soundfont(path: Path, origin: str) -> Path:
    """``path`` if it is a readable SoundFont (a RIFF file of form ``sfbk``), else a UserError."""
    if not path.is_file():
        raise UserError(f"soundfont {path} ({origin}) does not exist; {_HOW_TO_GET_ONE}")
    try:
        with path.open("rb") as handle:
            header = handle.read(12)
    except OSError as error:
        raise UserError(
            f"soundfont {path} ({origin}) cannot be read ({error.strerror}); {_HOW_TO_GET_ONE}"
        ) from None
    if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"sfbk":
        raise UserError(f"{path} ({origin}) is not a SoundFont (.sf2/.sf3) file; {_HOW_TO_GET_ONE}")
    # The RIFF header states the file's length: a shorter file was cut off in a copy or download,
    # and FluidSynth would refuse it only when the render starts.
    stated = struct.unpack("<I", header[4:8])[0] + 8
    if path.stat().st_size < stated:
        raise UserError(
            f"soundfont {path} ({origin}) is truncated ({path.stat().st_size} of {stated} bytes); "
            f"{_HOW_TO_GET_ONE}"
        )
    return path


def find_soundfont(explicit: str | os.PathLike | None = None) -> Path:
    """The soundfont to render with (see the module docstring for the order), checked to be one.

    A path the user names (``explicit`` or the environment variable) must be valid: it is an error,
    not a reason to fall back silently. A default SF3 this FluidSynth cannot read is passed over
    with a warning.
    """
    if explicit is not None:
        return _check_soundfont(Path(explicit), "given as --soundfont")
    if os.environ.get(ENV_SOUNDFONT):
        return _check_soundfont(Path(os.environ[ENV_SOUNDFONT]), f"from {ENV_SOUNDFONT}")
    for candidate in (*MUSESCORE_SOUNDFONTS, DEBIAN_SOUNDFONT, _pretty_midi_soundfont()):
        if not candidate.is_file():
            continue
        found = _check_soundfont(candidate, "default")
        if found.suffix.lower() != ".sf3" or reads_sf3(found):
            return found
        logger.warning(
            "this FluidSynth cannot read the compressed soundfont %s (it needs libsndfile with Ogg "
            "Vorbis); using the next one. Install musescore-general-soundfont-lossless to hear "
            "MuseScore General",
            found,
        )
    raise UserError(f"no soundfont found; {_HOW_TO_GET_ONE}")


@functools.cache
def reads_sf3(path: Path) -> bool:
    """Whether this FluidSynth renders sound from the SF3 soundfont ``path``: it is loaded, one
    small instrument's samples decoded and a note played (FluidSynth built without libsndfile's
    Ogg Vorbis support loads the file but has no samples to play)."""
    fluidsynth = load_fluidsynth()
    synth = _new_synth(fluidsynth)
    try:
        with _stderr_captured():
            font = synth.sfload(str(path))
            if font == -1 or synth.program_select(0, font, 0, _SF3_PROBE_PROGRAM) != 0:
                return False
            synth.noteon(0, 72, 100)
            sound = np.asarray(synth.get_samples(_BLOCK), dtype=np.int16)
        return bool(np.abs(sound).max() > 64)
    finally:
        synth.delete()


def load_fluidsynth():
    """The pyfluidsynth module, or a UserError saying how to install the FluidSynth library."""
    try:
        import fluidsynth
    except (ImportError, OSError) as error:
        raise UserError(
            f"the FluidSynth library cannot be loaded ({error}); install it with "
            "'sudo apt-get install libfluidsynth3' (or run setup.sh) and retry"
        ) from None
    return fluidsynth


@contextlib.contextmanager
def _stderr_captured() -> Iterator[list[str]]:
    """Collect what C libraries write to file descriptor 2 (FluidSynth's and libinstpatch's own
    error lines) instead of letting it reach the terminal ahead of our one ``error:`` line.

    The list yielded is filled, with the lines written, when the block ends.
    """
    lines: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield lines
            finally:
                os.dup2(saved, 2)
                sink.seek(0)
                lines += sink.read().decode("utf-8", "replace").splitlines()
    finally:
        os.close(saved)
    for line in lines:
        logger.debug("FluidSynth: %s", line)


# A channel message as the render plays it: seconds, kind, channel and two data values (note and
# velocity, program and 0, controller and value, bend and 0; kinds the synth does not play keep 0s).
Event = tuple[float, str, int, int, int]
_DATA = {
    "note_on": ("note", "velocity"),
    "note_off": ("note", "velocity"),
    "program_change": ("program", None),
    "control_change": ("control", "value"),
    "pitchwheel": ("pitch", None),
}


def events_of(midi: mido.MidiFile) -> list[Event]:
    """Channel messages of all tracks with their absolute times in seconds, in time order.

    The times are mido's own (``for message in midi``: the tracks merged by a stable sort on
    their ticks, each delta turned into seconds at the tempo then and added up), computed without
    the three copies of every message mido makes on the way: 0.25 s of a 25-minute piece's
    render went to them."""
    timed: list[tuple[int, mido.Message]] = []
    for track in midi.tracks:
        tick = 0
        for message in track:
            tick += message.time
            if message.type != "end_of_track":  # mido moves every track's end to the merged end
                timed.append((tick, message))
    timed.sort(key=lambda pair: pair[0])
    events: list[Event] = []
    now, tempo, last = 0.0, _DEFAULT_TEMPO, 0
    for tick, message in timed:
        if tick > last:
            now += mido.tick2second(tick - last, midi.ticks_per_beat, tempo)
            last = tick
        if message.type == "set_tempo":
            tempo = message.tempo
        elif not message.is_meta and message.type != "sysex":
            first, second = _DATA.get(message.type, (None, None))
            data = [getattr(message, name) if name else 0 for name in (first, second)]
            events.append((now, message.type, getattr(message, "channel", 0), *data))
    return events


@dataclass(frozen=True)
class Span:
    """Frames ``first`` to ``stop`` (None: until the sound has rung out) of a render, played from
    frame ``start`` on (its pre-roll, see PREROLL)."""

    start: int
    first: int
    stop: int | None


class _Render:
    """What one render is: its events, soundfont and length; ``blocks`` plays it.

    Everything that can be refused (library, soundfont, duration, MIDI) is checked when it is made,
    before the first block is asked for."""

    def __init__(
        self,
        midi: str | os.PathLike | mido.MidiFile | list[Event],
        soundfont: str | os.PathLike | None,
        duration: float | None,
    ) -> None:
        self.fluidsynth = load_fluidsynth()
        self.soundfont = find_soundfont(soundfont)
        if duration is not None and not (np.isfinite(duration) and duration > 0):
            raise UserError(f"duration {duration} s must be a positive number of seconds")
        if isinstance(midi, list):
            self.events = midi
        elif isinstance(midi, mido.MidiFile):
            self.events = events_of(midi)
        else:
            try:
                self.events = events_of(mido.MidiFile(midi))
            except (OSError, EOFError, ValueError) as error:
                raise UserError(f"{midi} is not a readable MIDI file ({error}); pass a .mid file") from None
        self.last = round((self.events[-1][0] if self.events else 0.0) * SAMPLE_RATE)  # the last event
        self.length = round(duration * SAMPLE_RATE) if duration is not None else None  # None: rings out

    def fade(self, frames: int) -> int:
        """Frames faded out at the end of a render ``frames`` long: FADE seconds of one that rang
        out; of one cut to a duration, what still sounds after the last event, CUT_FADE to
        TAIL_FADE seconds (a reverb the video's end cuts short fades rather than stops)."""
        if self.length is None:
            return min(frames, round(FADE * SAMPLE_RATE))
        tail = min(round(TAIL_FADE * SAMPLE_RATE), frames - self.last)
        return min(frames, max(round(CUT_FADE * SAMPLE_RATE), tail))

    def spans(self, count: int) -> list[Span]:
        """The render cut into up to ``count`` spans of at least MIN_SPAN seconds, of about equal
        length, joined on whole hops of the master's meters (``master.record_parts``)."""
        end = self.length if self.length is not None else self.last
        cut = stretches(end, count, mastering.part_grid(SAMPLE_RATE), round(MIN_SPAN * SAMPLE_RATE))
        seams = [first for first, _ in cut[1:]]
        starts = [0, *(self._preroll(seam) for seam in seams)]
        return [
            Span(start, first, stop)
            for start, first, stop in zip(starts, [0, *seams], [*seams, self.length], strict=True)
        ]

    def _preroll(self, seam: int) -> int:
        """The frame a span beginning at ``seam`` starts playing from: PREROLL seconds before it,
        or earlier, at the start of a note still sounding there."""
        start = seam - round(PREROLL * SAMPLE_RATE)
        ring = round(RING * SAMPLE_RATE)
        sounding: dict[tuple[int, int], list[int]] = {}
        for at, kind, channel, note, velocity in self.events:
            frame = round(at * SAMPLE_RATE)
            if frame >= seam:
                break
            if kind == "note_on" and velocity > 0:
                sounding.setdefault((channel, note), []).append(frame)
            elif kind in ("note_on", "note_off") and sounding.get((channel, note)):
                if frame + ring > seam:
                    start = min(start, sounding[(channel, note)][0])
                sounding[(channel, note)].pop(0)
        held = [frames[0] for frames in sounding.values() if frames]
        return max(0, min([start, *held]))

    def blocks(
        self,
        span: Span | None = None,
        progress: tqdm | None = None,
        synth: object | None = None,
        cores: int = 1,
    ) -> Iterator[np.ndarray]:
        """The ``span`` (default: the whole render) from its pre-roll on, as (n, 2) float blocks
        (full scale 1) at RENDER_GAIN, before the master, split where the pre-roll ends; played
        by ``synth`` (a ``synthesizer`` that has played nothing; it is freed) if given, else by a
        new one with its voices on ``cores`` threads. ``progress`` counts the frames kept."""
        span = span or Span(0, 0, self.length)
        synth = synth if synth is not None else self.synthesizer(cores)[0]
        # The channels' programs and controllers before the span, sent now rather than when the
        # first block is asked for: spans' synthesizers made one after the other share the samples
        # the first one read (made at once in threads, each read its own: 230 MB more).
        later = 0  # the first event at or after the pre-roll's start
        try:
            while later < len(self.events) and round(self.events[later][0] * SAMPLE_RATE) < span.start:
                if self.events[later][1] not in ("note_on", "note_off"):
                    send(synth, self.events[later])
                later += 1
        except BaseException:
            synth.delete()
            raise
        return self._played(synth, span, later, progress)

    def _played(self, synth, span: Span, later: int, progress: tqdm | None) -> Iterator[np.ndarray]:
        """``blocks`` played by ``synth``, set for the span up to the event ``later``."""
        try:
            for done in range(0, span.start, _BLOCK):  # see PREROLL: the room's sway in step
                _pull(synth, min(_BLOCK, span.start - done))
            end = span.stop if span.stop is not None else self.last
            rendered, loudest = span.start, 0.0
            for event in [*self.events[later:], None]:
                at = end if event is None else min(round(event[0] * SAMPLE_RATE), end)
                while rendered < at:
                    count = min(_BLOCK, at - rendered)
                    if rendered < span.first:  # the blocks split where the pre-roll ends
                        count = min(count, span.first - rendered)
                    block = _pull(synth, count)
                    if rendered >= span.first:
                        if span.stop is None:
                            loudest = max(loudest, float(np.abs(block).max()))
                        if progress is not None:
                            progress.update(count)
                    yield block
                    rendered += count
                if rendered >= end and span.stop is not None:
                    break
                if event is not None:
                    send(synth, event)
            if span.stop is None:
                yield from _ring_out(synth, loudest)
        finally:
            synth.delete()

    def synthesizer(self, cores: int = 1) -> tuple[object, int]:
        """A synthesizer with this render's soundfont loaded and the room set, nothing played, its
        voices on ``cores`` threads; and the soundfont's id in it."""
        synth = _new_synth(self.fluidsynth, cores)
        try:
            font = self._load(synth)
        except BaseException:
            synth.delete()
            raise
        synth.set_reverb(**REVERB)
        synth.set_chorus(**CHORUS)
        return synth, font

    def _load(self, synth) -> int:
        """Load the soundfont into ``synth``; its id there."""
        with _stderr_captured() as said:
            loaded = synth.sfload(str(self.soundfont))
        if loaded == -1:
            # FluidSynth's first complaint says why (e.g. "SoundFont file size mismatch": truncated).
            why = next((line.split("error:", 1)[1].strip() for line in said if "error:" in line), "")
            raise UserError(
                f"FluidSynth could not load the soundfont {self.soundfont}"
                + (f" ({why})" if why else "")
                + f"; {_HOW_TO_GET_ONE}"
            )
        return loaded


class Renders(Protocol):
    """What renders a WAV elsewhere (``audio.renderer.Renderer``: in a process of its own)."""

    def render_wav(
        self,
        midi: mido.MidiFile,
        path: str | os.PathLike,
        *,
        duration: float | None,
        loudness: float | None,
        progress_bars: bool,
    ) -> Master: ...


@dataclass
class Warmed:
    """A synthesizer made before its render (``warm``): the soundfont loaded, the room set and the
    instruments a piece will select already read. One render plays it, and frees it."""

    soundfont: Path
    synth: object


def warm(soundfont: str | os.PathLike | None, programs: Sequence[int], kits: Sequence[int] = ()) -> Warmed:
    """A synthesizer for ``soundfont`` holding the melodic ``programs`` and drum ``kits`` on
    SPARE_CHANNELS, so that their samples are read now rather than when the render selects them.
    Nothing sounds on those channels: the render is the same as with a new synthesizer, its
    voices on the render's cores (``render_cores``)."""
    render = _Render([], soundfont, None)
    synth, font = render.synthesizer(render_cores())
    try:
        held = [(0, program) for program in programs] + [(DRUM_BANK, kit) for kit in kits]
        for channel, (bank, program) in zip(SPARE_CHANNELS, held, strict=False):
            synth.program_select(channel, font, bank, program)
    except BaseException:
        synth.delete()
        raise
    return Warmed(render.soundfont, synth)


def _ring_out(synth, loudest: float) -> Iterator[np.ndarray]:
    """What the synth still sounds after the last event, until a block's peak lies RING_OUT_DB
    under ``loudest`` (the render's peak) or is silent, at most MAX_TAIL seconds."""
    floor = max(loudest * 10 ** (RING_OUT_DB / 20), _SILENT)
    for _ in range(round(MAX_TAIL * SAMPLE_RATE) // _BLOCK):
        block = _pull(synth, _BLOCK)
        yield block
        if np.abs(block).max() <= floor:
            return


def _new_synth(fluidsynth, cores: int = 1):
    """A synthesizer at RENDER_GAIN that loads an instrument's samples only when a track selects
    it (a render reads a handful of a bank's 128 instruments, and an SF3's need decoding) and
    plays its voices on ``cores`` threads."""
    settings = {"synth.dynamic-sample-loading": 1, "synth.cpu-cores": cores}
    return fluidsynth.Synth(gain=RENDER_GAIN, samplerate=float(SAMPLE_RATE), **settings)


def render_cores() -> int:
    """The cores a render uses (see MAX_CORES): every core this process may use, up to MAX_CORES.

    Spreading one synthesizer's voices does not change the sound: each voice is rendered whole by
    one thread, and only the rounding of their sum varies, far under the WAV's 16-bit step (a
    short piece comes out the same byte for byte on one core and on several). Spans do, within
    the tolerance PREROLL states: a long piece rendered on 2 cores is not byte for byte the one
    rendered on 1, but each is the same every time."""
    return usable_cores(MAX_CORES)


def _pull(synth, count: int) -> np.ndarray:
    """The next ``count`` frames ``synth`` plays, as (count, 2) float32 (full scale 1): FluidSynth's
    own floats, neither dithered nor rounded to 16 bits before the master."""
    block = np.empty((count, 2), np.float32)
    address = block.ctypes.data
    _float_writer()(synth.synth, count, address, 0, 2, address + 4, 0, 2)  # left, right interleaved
    return block


@functools.cache
def _float_writer():
    """FluidSynth's ``fluid_synth_write_float`` (pyfluidsynth wraps only the 16-bit writer)."""
    write = load_fluidsynth()._fl.fluid_synth_write_float
    write.argtypes = [ctypes.c_void_p, ctypes.c_int, *[ctypes.c_void_p, ctypes.c_int, ctypes.c_int] * 2]
    write.restype = ctypes.c_int
    return write


def check_loudness(target: float | None) -> float | None:
    """``target`` (LUFS, or None for no normalisation) if the render can be brought to it, else
    UserError."""
    if target is None:
        return None
    low, high = LOUDNESS_RANGE
    if not (isinstance(target, int | float) and np.isfinite(target) and low <= target <= high):
        raise UserError(
            f"loudness target {target:g} LUFS is out of range; "
            f"use {low:g} to {high:g} (default {LOUDNESS_TARGET:g})"
        )
    return float(target)


def parse_loudness(text: str) -> float | None:
    """A ``--loudness-target`` value: LUFS (e.g. ``-16``, ``-23``) or ``off`` (no normalisation)."""
    if text.strip().lower() == "off":
        return None
    try:
        target = float(text)
    except ValueError:
        raise UserError(f"loudness target {text!r} is not a number of LUFS; give e.g. -16 or off") from None
    return check_loudness(target)


def synthesize(
    midi: str | os.PathLike | mido.MidiFile,
    soundfont: str | os.PathLike | None = None,
    *,
    duration: float | None = None,
    loudness: float | None = LOUDNESS_TARGET,
    progress_bars: bool = False,
) -> np.ndarray:
    """Render ``midi`` to an (n, 2) int16 array at SAMPLE_RATE, in memory (``render_wav`` streams).

    The length is ``duration`` seconds when given (the music is cut or padded with what the synth
    still sounds), else until the sound has rung out after the last event. The render is given
    the master for ``loudness`` LUFS (see ``audio.master``; None: left at the synth's level).
    """
    check_loudness(loudness)
    render = _Render(midi, soundfont, duration)
    analysis = mastering.Analysis()
    end = render.length if render.length is not None else render.last
    with tqdm(total=end, unit="sample", unit_scale=True, disable=not progress_bars, desc="render") as bar:
        blocks = mastering.batched(render.blocks(progress=bar, cores=render_cores()))
        blocked = [analysis.add(block) for block in blocks]
    samples = np.concatenate(blocked) if blocked else np.zeros((0, 2))
    master = mastering.plan(
        analysis, loudness, unnormalised_gain=UNNORMALISED_GAIN, fade=render.fade(analysis.frames)
    )
    return mastering.to_int16(mastering.apply(master, samples)[0])


def render_wav(
    midi: str | os.PathLike | mido.MidiFile | list[Event],
    path: str | os.PathLike,
    soundfont: str | os.PathLike | None = None,
    *,
    duration: float | None = None,
    loudness: float | None = LOUDNESS_TARGET,
    master: Master | None = None,
    progress_bars: bool = False,
    warmed: Warmed | None = None,
    renderer: Renders | None = None,
) -> Master:
    """Render ``midi`` into the WAV ``path`` (not atomic: see ``render``), holding one block in
    memory at a time. The master is planned for ``loudness`` (see ``synthesize``), or ``master``
    is applied as it is (and sets the length). Returns the master applied, so that stems given it
    add up to this mix. The render is played by a ``warmed`` synthesizer, or in the process of a
    ``renderer`` (``audio.renderer``), when one is given."""
    check_loudness(loudness)
    if renderer is not None and master is None:
        return renderer.render_wav(
            midi, path, duration=duration, loudness=loudness, progress_bars=progress_bars
        )
    if master is not None:
        duration = master.frames / SAMPLE_RATE
    render = _Render(midi, soundfont, duration)
    cores = render_cores()
    spans = render.spans(cores)
    # A warmed synthesizer plays a render of one span. For several, it is kept until the end all
    # the same: the spans' synthesizers find its instruments' samples read (FluidSynth shares
    # them between the synthesizers of a process).
    if warmed is not None and warmed.soundfont != render.soundfont:
        warmed.synth.delete()
        warmed = None
    first = warmed.synth if warmed is not None and len(spans) == 1 else None
    held = warmed.synth if warmed is not None and first is None else None
    end = render.length if render.length is not None else render.last
    try:
        with tqdm(total=end, unit="sample", unit_scale=True, disable=not progress_bars, desc="render") as bar:
            if len(spans) == 1:
                # Its synthesis runs in a thread beside the first pass of the master (both in C,
                # without Python's lock), so the two take about as long as the larger.
                blocks = render.blocks(spans[0], bar, first, cores)
                with contextlib.closing(ahead(blocks)) as ready:
                    analysis = mastering.record(ready, path)
            else:
                parts = [
                    mastering.Part(span.first, span.first - span.start, render.blocks(span, bar))
                    for span in spans
                ]
                analysis = mastering.record_parts(parts, path)
    finally:
        if held is not None:
            held.delete()
    if master is not None:
        return mastering.finish(path, master, trim=False, parts=cores)
    master = mastering.plan(
        analysis, loudness, unnormalised_gain=UNNORMALISED_GAIN, fade=render.fade(analysis.frames)
    )
    return mastering.finish(path, master, parts=cores)


def send(synth, event: Event) -> None:
    """Play ``event`` (see ``events_of``) on the FluidSynth ``synth`` now."""
    _, kind, channel, first, second = event
    if kind == "note_on":
        synth.noteon(channel, first, second)
    elif kind == "note_off":
        synth.noteoff(channel, first)
    elif kind == "program_change":
        synth.program_change(channel, first)
    elif kind == "control_change":
        synth.cc(channel, first, second)
    elif kind == "pitchwheel":
        synth.pitch_bend(channel, first)


def write_wav(samples: np.ndarray, path: str | os.PathLike) -> None:
    """Write (n, 2) int16 samples as a 16-bit stereo WAV at SAMPLE_RATE (not atomic: see render)."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(np.ascontiguousarray(samples, dtype="<i2").tobytes())


def render(
    midi_path: str | os.PathLike,
    wav_path: str | os.PathLike,
    soundfont: str | os.PathLike | None = None,
    overwrite: bool = False,
    *,
    duration: float | None = None,
    progress_bars: bool = False,
) -> Path:
    """Render a MIDI file to a 44.1 kHz 16-bit stereo WAV (atomically; see ``render_wav``)."""
    soundfont = find_soundfont(soundfont)
    with atomic_output(wav_path, overwrite) as tmp:
        render_wav(midi_path, tmp, soundfont, duration=duration, progress_bars=progress_bars)
    logger.info("rendered %s with %s", wav_path, soundfont.name)
    return Path(wav_path)
