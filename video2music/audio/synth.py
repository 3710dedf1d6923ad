"""Render MIDI to a 44.1 kHz 16-bit stereo WAV with FluidSynth, offline.

No audio driver is opened: the MIDI events are fed to a FluidSynth synthesizer in time order and
the samples between them are pulled with ``get_samples``, so rendering runs faster than real time
and gives the same result on every machine with the same soundfont.

``render_wav`` streams: the synth's blocks go straight into the WAV file, and the level (which
depends on the whole render's peak) is applied afterwards in place, block by block, so memory
stays the same for a minute or for hours of music.

Soundfont lookup order: an explicit path, then the ``VIDEO2MUSIC_SOUNDFONT`` environment
variable, then Debian's ``/usr/share/sounds/sf2/FluidR3_GM.sf2`` (package fluid-soundfont-gm),
then the small ``TimGM6mb.sf2`` that pretty_midi ships.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import struct
import sys
import tempfile
import wave
from collections.abc import Iterator
from pathlib import Path

import mido
import numpy as np
from tqdm import tqdm

from video2music.audio.loudness import LoudnessMeter
from video2music.utils.errors import UserError
from video2music.utils.fileio import atomic_output

logger = logging.getLogger(__name__)

SAMPLE_RATE = 44100
ENV_SOUNDFONT = "VIDEO2MUSIC_SOUNDFONT"
DEBIAN_SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
DEFAULT_TAIL = 1.5  # seconds of reverb and release after the last note-off
# Soundfonts differ in level by 10 dB and more, and FluidSynth clips its 16-bit output, so the
# synth runs with headroom and the finished render is brought to a standard loudness afterwards.
RENDER_GAIN = 0.2
# Integrated loudness (ITU-R BS.1770, see video2music.audio.loudness) and true-peak ceiling of every
# WAV by default: the level streaming services play music at, so outputs need no mastering.
LOUDNESS_TARGET = -16.0
LOUDNESS_RANGE = (-40.0, -6.0)
UNNORMALISED_GAIN = 4.0  # with no loudness target: the synth's own level, less RENDER_GAIN's headroom
TRUE_PEAK_CEILING = -1.0
FADE = 0.01  # seconds; the last samples fade out so a trimmed render ends without a click
_BLOCK = 4096  # samples pulled per get_samples call while advancing through a gap
_LEVEL_BLOCK = 1 << 16  # frames levelled at a time in the written WAV

_HOW_TO_GET_ONE = (
    "install one (sudo apt-get install fluid-soundfont-gm), set "
    f"{ENV_SOUNDFONT} or pass --soundfont with a General MIDI .sf2 file"
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
    not a reason to fall back silently.
    """
    if explicit is not None:
        return _check_soundfont(Path(explicit), "given as --soundfont")
    if os.environ.get(ENV_SOUNDFONT):
        return _check_soundfont(Path(os.environ[ENV_SOUNDFONT]), f"from {ENV_SOUNDFONT}")
    for candidate in (DEBIAN_SOUNDFONT, _pretty_midi_soundfont()):
        if candidate.is_file():
            return _check_soundfont(candidate, "default")
    raise UserError(f"no soundfont found; {_HOW_TO_GET_ONE}")


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


def _events(midi: mido.MidiFile) -> list[tuple[float, mido.Message]]:
    """Channel messages of all tracks with their absolute times in seconds, in time order."""
    events, now = [], 0.0
    for message in midi:  # mido merges the tracks and converts ticks to seconds with the tempo map
        now += message.time
        if not message.is_meta and message.type != "sysex":
            events.append((now, message))
    return events


def _raw_blocks(
    midi: str | os.PathLike | mido.MidiFile,
    soundfont: str | os.PathLike | None,
    duration: float | None,
    tail: float,
    progress_bars: bool,
) -> tuple[int, Iterator[np.ndarray]]:
    """The render's length in samples and its (n, 2) int16 blocks at RENDER_GAIN, before levelling.

    Everything that can be refused (library, soundfont, duration, MIDI) is checked before the
    first block is asked for.
    """
    fluidsynth = load_fluidsynth()
    soundfont = find_soundfont(soundfont)
    if duration is not None and not (np.isfinite(duration) and duration > 0):
        raise UserError(f"duration {duration} s must be a positive number of seconds")
    if isinstance(midi, mido.MidiFile):
        events = _events(midi)
    else:
        try:
            events = _events(mido.MidiFile(midi))
        except (OSError, EOFError, ValueError) as error:
            raise UserError(f"{midi} is not a readable MIDI file ({error}); pass a .mid file") from None
    last = events[-1][0] if events else 0.0
    total = round((duration if duration is not None else last + tail) * SAMPLE_RATE)

    def blocks() -> Iterator[np.ndarray]:
        synth = fluidsynth.Synth(gain=RENDER_GAIN, samplerate=float(SAMPLE_RATE))
        try:
            with _stderr_captured() as said:
                loaded = synth.sfload(str(soundfont))
            if loaded == -1:
                # FluidSynth's first complaint says why (e.g. "SoundFont file size mismatch": truncated).
                why = next((line.split("error:", 1)[1].strip() for line in said if "error:" in line), "")
                raise UserError(
                    f"FluidSynth could not load the soundfont {soundfont}"
                    + (f" ({why})" if why else "")
                    + f"; {_HOW_TO_GET_ONE}"
                )
            synth.set_reverb(roomsize=0.6, damping=0.4, width=0.8, level=0.5)
            rendered = 0
            with tqdm(
                total=total, unit="sample", unit_scale=True, disable=not progress_bars, desc="render"
            ) as bar:
                for time, message in [*events, (None, None)]:
                    at = total if time is None else min(round(time * SAMPLE_RATE), total)
                    while rendered < at:
                        count = min(_BLOCK, at - rendered)
                        yield np.asarray(synth.get_samples(count), dtype=np.int16).reshape(-1, 2)
                        rendered += count
                        bar.update(count)
                    if rendered >= total:
                        break
                    _send(synth, message)
        finally:
            synth.delete()

    return total, blocks()


def _normalising_gain(meter: LoudnessMeter | None, target: float | None) -> float:
    """The linear gain that brings what ``meter`` measured to ``target`` LUFS, less if its true
    peak would pass TRUE_PEAK_CEILING; 1 for silence; UNNORMALISED_GAIN without a target."""
    if target is None or meter is None:
        return UNNORMALISED_GAIN
    loudness, peak = meter.integrated(), meter.true_peak()
    if not np.isfinite(loudness) or not peak:
        return 1.0  # silence, or too short to measure: left as the synth made it
    gain_db = min(target - loudness, TRUE_PEAK_CEILING - 20 * np.log10(peak))
    return float(10 ** (gain_db / 20))


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


class _Level:
    """The gain and closing fade applied to the raw render, one block at a time; the last FADE
    seconds fade to silence so a trimmed render ends without a click."""

    def __init__(self, gain: float, total: int) -> None:
        self.gain = gain
        self.total = total
        self.ramp = np.linspace(1.0, 0.0, min(total, round(FADE * SAMPLE_RATE)))

    def __call__(self, block: np.ndarray, start: int) -> np.ndarray:
        """``block`` (int16, its first frame at ``start``) levelled, as int16."""
        samples = block.astype(np.float64) * self.gain
        fade_from = self.total - len(self.ramp)
        if len(self.ramp) and start + len(samples) > fade_from:
            first = max(fade_from, start)
            samples[first - start :] *= self.ramp[first - fade_from : start + len(samples) - fade_from, None]
        return np.clip(np.round(samples), -32768, 32767).astype(np.int16)


def synthesize(
    midi: str | os.PathLike | mido.MidiFile,
    soundfont: str | os.PathLike | None = None,
    *,
    duration: float | None = None,
    tail: float = DEFAULT_TAIL,
    loudness: float | None = LOUDNESS_TARGET,
    gain: float | None = None,
    progress_bars: bool = False,
) -> np.ndarray:
    """Render ``midi`` to an (n, 2) int16 array at SAMPLE_RATE, in memory (``render_wav`` streams).

    The length is ``duration`` seconds when given (the music is cut or padded with what the synth
    still sounds), else the last event plus ``tail`` seconds of release and reverb. The render is
    brought to ``loudness`` LUFS (true peak at most TRUE_PEAK_CEILING; None: left at the synth's
    level), or raised by ``gain``.
    """
    total, blocks = _raw_blocks(midi, soundfont, duration, tail, progress_bars)
    samples = np.concatenate(list(blocks)) if total else np.zeros((0, 2), np.int16)
    if gain is None:
        meter = None
        if check_loudness(loudness) is not None:
            meter = LoudnessMeter(SAMPLE_RATE)
            meter.add(samples / 32768.0)
        gain = _normalising_gain(meter, loudness)
    return _Level(gain, total)(samples, 0)


def render_wav(
    midi: str | os.PathLike | mido.MidiFile,
    path: str | os.PathLike,
    soundfont: str | os.PathLike | None = None,
    *,
    duration: float | None = None,
    tail: float = DEFAULT_TAIL,
    loudness: float | None = LOUDNESS_TARGET,
    gain: float | None = None,
    progress_bars: bool = False,
) -> float:
    """Render ``midi`` into the WAV ``path`` (not atomic: see ``render``) the same samples as
    ``synthesize``, holding one block in memory at a time. Returns the gain applied, so that
    stems rendered with it sum to this mix."""
    check_loudness(loudness)
    total, blocks = _raw_blocks(midi, soundfont, duration, tail, progress_bars)
    meter = LoudnessMeter(SAMPLE_RATE) if gain is None and loudness is not None else None
    # The header is written by hand: the length is known before the first block, and the wave
    # module's writer, interrupted while it opens the file (Ctrl-C, SIGTERM), prints an ignored
    # exception from its destructor.
    with open(path, "wb") as handle:
        handle.write(_wav_header(total))
        for block in blocks:
            if meter is not None:
                meter.add(block / 32768.0)
            handle.write(np.ascontiguousarray(block, dtype="<i2").tobytes())
    level = _Level(_normalising_gain(meter, loudness) if gain is None else gain, total)
    with open(path, "r+b") as handle:
        for start in range(0, total, _LEVEL_BLOCK):
            handle.seek(_HEADER_BYTES + 4 * start)
            raw = handle.read(4 * min(_LEVEL_BLOCK, total - start))
            block = np.frombuffer(raw, dtype="<i2").reshape(-1, 2)
            handle.seek(_HEADER_BYTES + 4 * start)
            handle.write(level(block, start).astype("<i2").tobytes())
    return level.gain


def wav_seconds(path: str | os.PathLike) -> float:
    """The length of a WAV file in seconds, from its header."""
    with wave.open(str(path)) as handle:
        return handle.getnframes() / handle.getframerate()


_HEADER_BYTES = 44


def _wav_header(frames: int) -> bytes:
    """The 44-byte header of a 16-bit stereo PCM WAV at SAMPLE_RATE holding ``frames`` frames."""
    data = 4 * frames
    fmt = struct.pack("<HHIIHH", 1, 2, SAMPLE_RATE, 4 * SAMPLE_RATE, 4, 16)  # PCM, stereo, 16 bit
    riff = struct.pack("<4sI4s", b"RIFF", 36 + data, b"WAVE")
    return riff + struct.pack("<4sI", b"fmt ", len(fmt)) + fmt + struct.pack("<4sI", b"data", data)


def _send(synth, message: mido.Message) -> None:
    kind, channel = message.type, getattr(message, "channel", 0)
    if kind == "note_on":
        synth.noteon(channel, message.note, message.velocity)
    elif kind == "note_off":
        synth.noteoff(channel, message.note)
    elif kind == "program_change":
        synth.program_change(channel, message.program)
    elif kind == "control_change":
        synth.cc(channel, message.control, message.value)
    elif kind == "pitchwheel":
        synth.pitch_bend(channel, message.pitch)


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
    tail: float = DEFAULT_TAIL,
    progress_bars: bool = False,
) -> Path:
    """Render a MIDI file to a 44.1 kHz 16-bit stereo WAV (atomically; see ``render_wav``)."""
    soundfont = find_soundfont(soundfont)
    with atomic_output(wav_path, overwrite) as tmp:
        render_wav(midi_path, tmp, soundfont, duration=duration, tail=tail, progress_bars=progress_bars)
    logger.info("rendered %s with %s", wav_path, soundfont.name)
    return Path(wav_path)
