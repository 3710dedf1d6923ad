"""The light master every WAV is given: no DC offset, the loudness target, the peaks held under
a true-peak ceiling by a gentle look-ahead limiter, and the end faded.

A WAV is made in two passes, so memory stays flat for any length:

1. While the signal is made (the synth's render, or the video's own sound mixed with the music),
   each block goes through an :class:`Analysis`: a high-pass at DC_CORNER Hz takes out the
   offset some soundfont samples carry (FluidR3's strings pad, 0.003-0.005 of full scale), the
   loudness and true peak are metered, and the peak of every HOP frames is kept. ``record``
   writes the blocked signal as it comes; ``record_parts`` takes a signal made in consecutive
   parts at once (on several cores), each measured by an Analysis of its own, and joins them.
2. ``plan`` turns the analysis into a :class:`Master`: the gain that brings the loudness to the
   target and, where that gain would push a peak over TRUE_PEAK_CEILING, a limiter's gain curve
   that dips under those peaks only: it looks ahead, ramping down over ATTACK before a peak,
   and recovers at RELEASE_DB_PER_S. It never takes more than LIMIT_DB off a peak: a render that
   would need more is left that much quieter than the target rather than squashed. ``finish``
   applies the master to the written file in place, block by block (stretches of it at once),
   with the closing fade.

The limiter reads sample peaks and keeps MARGIN_DB for the peaks between samples; the true peak
of what it writes is metered, and in the rare case that it still passes the ceiling, the file
is trimmed by the difference (one more pass). A master is plain data: the stems are given the
mix's own master, so that they add up to the mix.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import os
import struct
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from video2music.audio.biquads import BATCH, Biquads
from video2music.audio.loudness import LoudnessMeter, TruePeakMeter, frame_peaks, hop_frames
from video2music.utils.cores import stretches

SAMPLE_RATE = 44100
# Integrated loudness (ITU-R BS.1770, see video2music.audio.loudness) and true-peak ceiling of every
# WAV by default: the level streaming services play music at, so outputs need no mastering.
LOUDNESS_TARGET = -16.0  # LUFS
TRUE_PEAK_CEILING = -1.0  # dBTP
DC_CORNER = 5.0  # Hz: a first-order high-pass, 0.3 dB down at 20 Hz
HOP = 64  # frames per limiter step (1.5 ms at 44.1 kHz)
LIMIT_DB = 4.0  # the most the limiter takes off a peak
MARGIN_DB = 0.5  # below the ceiling for sample peaks: room for the peaks between samples
ATTACK = 0.005  # seconds over which the gain ramps down before a peak
RELEASE_DB_PER_S = 30.0  # how fast the gain comes back after one
_LEVELLING_ROUNDS = 2  # times the gain is raised for the loudness the limiter takes
_JOINED_BLOCKS = 1024  # blocks of hop peaks kept apart before they are joined into one array
_CHUNK_HOPS = 1 << 20  # limiter hops released at a time
_BLOCK = 1 << 16  # frames mastered at a time in a written WAV
_HEADER_BYTES = 44
_PEAK_TAPS = 16  # the true-peak meter's interpolation reaches this many frames either side
T = TypeVar("T")


def dc_blocker(rate: int = SAMPLE_RATE) -> Biquads:
    """A first-order high-pass at DC_CORNER Hz, y[n] = x[n] - x[n-1] + p y[n-1], run over blocks
    that follow each other; its state carries from one block to the next."""
    pole = math.exp(-2 * math.pi * DC_CORNER / rate)
    return Biquads([((1.0, -1.0, 0.0), (1.0, -pole, 0.0))], rate)


def batched(blocks: Iterable[np.ndarray], frames: int = BATCH) -> Iterator[np.ndarray]:
    """Consecutive ``blocks`` joined into blocks of at least ``frames`` frames (the last perhaps
    fewer): a render's blocks run from one MIDI event to the next, a few hundred frames, and each
    call of an :class:`Analysis`'s filters costs the same however long its block."""
    gathered: list[np.ndarray] = []
    count = 0
    for block in blocks:
        gathered.append(block)
        count += len(block)
        if count >= frames:
            yield np.concatenate(gathered) if len(gathered) > 1 else gathered[0]
            gathered, count = [], 0
    if gathered:
        yield np.concatenate(gathered)


def part_grid(rate: int = SAMPLE_RATE) -> int:
    """Frames every part but the last of ``record_parts`` must be a whole number of: the loudness
    meter's hops and the limiter's."""
    return math.lcm(hop_frames(rate), HOP)


class Analysis:
    """Pass one: feed each block of the signal as it is made to :meth:`add`, write what it
    returns (the signal without its DC offset); then ``plan`` reads the measurements."""

    def __init__(self, rate: int = SAMPLE_RATE) -> None:
        self.rate = rate
        self.meter = LoudnessMeter(rate)
        self.frames = 0
        self._dc = dc_blocker(rate)
        self._peaks: list[np.ndarray] = []  # the peak of each whole hop so far, a few arrays of them
        self._recent: list[np.ndarray] = []  # the same for the last blocks, joined every so often
        self._partial = np.zeros(0)  # magnitudes of the frames after the last whole hop

    def add(self, block: np.ndarray) -> np.ndarray:
        """Measure ``block`` ((n, channels) floats, full scale 1) and return it without DC."""
        blocked = self._dc(block)
        self.meter.add(blocked)
        magnitude = np.concatenate([self._partial, frame_peaks(blocked)])
        whole = len(magnitude) - len(magnitude) % HOP
        self._recent.append(magnitude[:whole].reshape(-1, HOP).max(axis=1).astype(np.float32))
        if (
            len(self._recent) >= _JOINED_BLOCKS
        ):  # a long render's thousands of small arrays cost more than their data
            self._peaks.append(np.concatenate(self._recent))
            self._recent = []
        self._partial = magnitude[whole:]
        self.frames += len(block)
        return blocked

    def lead_in(self, block: np.ndarray) -> None:
        """Take ``block`` as what comes just before the signal to measure (the end of a part that
        another Analysis measures): the filters and meters run over it, nothing is measured."""
        self.meter.lead_in(self._dc(block))

    @classmethod
    def joined(cls, parts: Sequence[Analysis]) -> Analysis:
        """One analysis for ``parts`` that measured consecutive parts of one signal (see
        ``record``), each led in by the end of the one before."""
        joined = cls(parts[-1].rate)
        joined.meter = LoudnessMeter.joined([part.meter for part in parts])
        joined.frames = sum(part.frames for part in parts)
        for part in parts:
            joined._peaks += part._peaks + [np.concatenate([*part._recent, np.zeros(0, np.float32)])]
        joined._partial = parts[-1]._partial
        return joined

    def hop_peaks(self) -> np.ndarray:
        """The sample peak of each HOP frames, the last hop perhaps shorter."""
        last = [np.array([self._partial.max()], np.float32)] if len(self._partial) else []
        return np.concatenate([*self._peaks, *self._recent, *last, np.zeros(0, np.float32)])


@dataclass(frozen=True)
class Master:
    """What pass two does to every frame: ``gain``, the limiter's gain at each hop edge (None:
    no limiting), and a fade to silence over the last ``fade`` of ``frames`` frames (a squared
    ramp)."""

    gain: float
    frames: int
    fade: int = 0
    limiter: np.ndarray | None = None

    def __call__(self, block: np.ndarray, start: int) -> np.ndarray:
        """``block`` (floats, its first frame at ``start``) mastered, as floats."""
        samples = block * self.gain
        positions = np.arange(start, start + len(samples))
        if self.limiter is not None and len(samples):
            first, last = start // HOP, (start + len(samples) - 1) // HOP + 1
            edges = np.arange(first, last + 1) * HOP - 0.5  # edge e lies just before frame e * HOP
            samples *= np.interp(positions, edges, self.limiter[first : last + 1])[:, None]
        fade_from = self.frames - self.fade
        if self.fade and start + len(samples) > fade_from:
            ramp = np.clip((self.frames - positions) / self.fade, 0.0, 1.0)
            samples *= np.square(ramp)[:, None]  # a decay: most of the drop early, silence at the end
        return samples


def plan(
    analysis: Analysis, target: float | None, *, unnormalised_gain: float = 1.0, fade: int = 0
) -> Master:
    """The master that brings what ``analysis`` measured to ``target`` LUFS (None: raise it by
    ``unnormalised_gain``), with the limiter it needs and a ``fade`` frames long."""
    frames = analysis.frames
    if target is None:
        return Master(unnormalised_gain, frames, fade)
    loudness, peak = analysis.meter.integrated(), analysis.meter.true_peak()
    if not math.isfinite(loudness) or not peak:
        return Master(1.0, frames, fade)  # silence, or too short to measure: as it was made
    gain_db = target - loudness
    over = gain_db + _db(peak) - TRUE_PEAK_CEILING
    if over <= 0:
        return Master(_linear(gain_db), frames, fade)
    peaks = analysis.hop_peaks()
    wanted = gain_db
    highest = wanted + LIMIT_DB - over  # at most LIMIT_DB off a peak: quieter, not squashed
    gain_db = min(wanted, highest)
    for _ in range(_LEVELLING_ROUNDS):  # the limiter takes a little loudness: give it back
        limiter = _limiter_edges(peaks, gain_db, analysis.rate)
        lost = loudness - analysis.meter.integrated(_meter_hop_gains(limiter, peaks, analysis.meter))
        gain_db = min(highest, wanted + lost)
    return Master(_linear(gain_db), frames, fade, _limiter_edges(peaks, gain_db, analysis.rate))


def _meter_hop_gains(
    limiter: np.ndarray | None, peaks: np.ndarray, meter: LoudnessMeter
) -> np.ndarray | None:
    """The limiter's power gain over each of the loudness meter's 100 ms hops: the mean of its
    gain over the limiter hops that start in it, weighted by their squared peaks (it dips where
    the energy is)."""
    if limiter is None:
        return None
    weights = np.square(peaks, dtype=np.float32)
    kept = weights * np.square((limiter[:-1] + limiter[1:]) / 2)  # per limiter hop, near enough
    starts = (np.arange(meter.hop_count()) * meter.hop) // HOP  # the limiter hop each meter hop starts in
    starts = starts[starts < len(weights)]
    sums = np.add.reduceat(kept, starts, dtype=np.float64)
    whole = np.add.reduceat(weights, starts, dtype=np.float64)
    gains = np.ones(meter.hop_count())
    gains[: len(starts)] = np.divide(sums, whole, out=np.ones_like(sums), where=whole > 0)
    return gains


def _limiter_edges(peaks: np.ndarray, gain_db: float, rate: int) -> np.ndarray | None:
    """The limiter's linear gain at each hop edge (len(peaks) + 1 of them, float32) for sample
    ``peaks`` raised by ``gain_db``; None where no hop needs it. In single precision, in place
    where it can be: an hour is 2.5 million hops."""
    with np.errstate(divide="ignore"):
        reduction = 20 * np.log10(peaks, dtype=np.float32)
    reduction += gain_db - (TRUE_PEAK_CEILING - MARGIN_DB)
    np.clip(reduction, 0.0, None, out=reduction)
    if not reduction.any():
        return None
    ahead = max(1, round(ATTACK * rate / HOP))
    held = reduction.copy()  # the most any hop within the look-ahead needs
    for shift in range(1, ahead):
        np.maximum(held[:-shift], reduction[shift:], out=held[:-shift])
    ramped = held.copy()  # down over the look-ahead, full at the peak: the mean of the last `ahead`
    for shift in range(1, ahead):
        ramped[shift:] += held[:-shift]
    ramped /= ahead
    del held, reduction
    slope = RELEASE_DB_PER_S * HOP / rate
    floor = -np.inf  # back up at most `slope` per hop: a running maximum of (reduction + slope * hop)
    for start in range(0, len(ramped), _CHUNK_HOPS):  # in double precision, a chunk at a time
        steps = np.arange(start, min(start + _CHUNK_HOPS, len(ramped))) * slope
        lifted = ramped[start : start + len(steps)] + steps
        np.maximum.accumulate(lifted, out=lifted)
        np.maximum(lifted, floor, out=lifted)
        floor = lifted[-1]
        ramped[start : start + len(steps)] = lifted - steps
    gains = np.power(np.float32(10), ramped / -20, dtype=np.float32)
    edges = np.empty(len(gains) + 1, np.float32)  # an edge never exceeds either hop beside it
    edges[0], edges[-1] = gains[0], gains[-1]
    np.minimum(gains[:-1], gains[1:], out=edges[1:-1])
    return edges


@dataclass(frozen=True)
class Part:
    """A stretch of a signal made on its own (``record_parts``): ``blocks`` (float (n, channels),
    full scale 1), of which the first ``lead`` frames come before the stretch (what the part
    before made, made again so that the filters and meters run into the stretch as into a
    continuous signal) and the rest belongs at frame ``offset``."""

    offset: int
    lead: int
    blocks: Iterable[np.ndarray]


def record(blocks: Iterable[np.ndarray], path: str | os.PathLike, rate: int = SAMPLE_RATE) -> Analysis:
    """Pass one: write the float ``blocks`` (full scale 1) without their DC offset as a 16-bit
    stereo WAV at ``path`` (not atomic: the writer stages it), measuring them on the way."""
    return record_parts([Part(0, 0, blocks)], path, rate)


def record_parts(parts: Sequence[Part], path: str | os.PathLike, rate: int = SAMPLE_RATE) -> Analysis:
    """``record`` for a signal made in consecutive ``parts`` at once (a long render on several
    cores): each part is measured by an Analysis of its own in a thread of its own and written
    where it belongs; the analyses are joined. All but the last must be a whole number of the
    loudness meter's hops and of HOP long."""
    stop = threading.Event()  # a part failed or the command is interrupted: the others stop
    # The header is written by hand and completed by ``finish`` (the length is not known yet): the
    # wave module's writer, interrupted while it opens the file (Ctrl-C, SIGTERM), prints an
    # ignored exception from its destructor.
    with open(path, "wb") as handle:
        handle.write(_wav_header(0, rate))
        handle.flush()

        def run(part: Part) -> Analysis:
            analysis, frame = Analysis(rate), part.offset - part.lead
            try:
                for block in batched(part.blocks):
                    if stop.is_set():
                        break
                    lead = min(len(block), max(0, part.offset - frame))
                    if lead:
                        analysis.lead_in(block[:lead])
                    if lead < len(block):
                        data = to_int16(analysis.add(block[lead:])).tobytes()
                        os.pwrite(handle.fileno(), data, _HEADER_BYTES + 4 * (frame + lead))
                    frame += len(block)
            except BaseException:
                stop.set()
                raise
            finally:
                close = getattr(part.blocks, "close", None)
                if close is not None:
                    close()
            return analysis

        with concurrent.futures.ThreadPoolExecutor(max(1, len(parts) - 1)) as pool:
            others = [pool.submit(run, part) for part in parts[1:]]
            try:
                analyses = [run(parts[0]), *(other.result() for other in others)]
            except BaseException:
                stop.set()
                raise
    for (part, analysis), after in zip(zip(parts, analyses, strict=True), parts[1:], strict=False):
        if part.offset + analysis.frames != after.offset:
            raise RuntimeError(f"the part at frame {part.offset} does not reach the next at {after.offset}")
    return Analysis.joined(analyses)


def apply(master: Master, samples: np.ndarray) -> tuple[np.ndarray, Master]:
    """In memory: what pass two makes of all of ``samples`` (floats), and the master as applied
    (see ``finish``)."""
    mastered = master(samples, 0)
    check = _peak_check(master)
    if check is not None:
        check.add(mastered)
    scale = _trim(check)
    return (mastered, master) if scale is None else (mastered * scale, _trimmed(master, scale))


def finish(
    path: str | os.PathLike, master: Master, rate: int = SAMPLE_RATE, *, trim: bool = True, parts: int = 1
) -> Master:
    """Pass two: apply ``master`` to the WAV ``record`` wrote, in place, and complete its header;
    ``parts`` stretches of it at once, each in a thread of its own (numpy lets go of Python's lock
    while it works on a block).

    Returns the master as applied: when a limited file's true peak still passes the ceiling, it
    is trimmed (unless not to ``trim``: a stem given its mix's master must keep it exactly), and
    the master returned has the trim in its gain."""
    checked = trim and master.limiter is not None  # only a limited master can pass the ceiling
    with open(path, "r+b") as handle:
        handle.write(_wav_header(master.frames, rate))
        handle.flush()
        file = handle.fileno()
        cut = stretches(master.frames, parts, _BLOCK)
        # Each stretch's peak check reads the frames before it as they were before the master; the
        # stretch before may overwrite them only once every thread has read its own.
        ready = threading.Barrier(len(cut))
        checks = _in_threads(
            lambda first, stop: _master_stretch(file, master, first, stop, checked, ready), cut
        )
        scale = _trim(TruePeakMeter.joined(checks) if checked else None)
        if scale is None:
            return master
        _in_threads(lambda first, stop: _scale_stretch(file, scale, first, stop), cut)
    return _trimmed(master, scale)


def _in_threads(work: Callable[[int, int], T], cut: list[tuple[int, int]]) -> list[T]:
    """``work(first, stop)`` for each stretch of ``cut``, the first in this thread and the rest in
    threads."""
    if len(cut) == 1:
        return [work(*cut[0])]
    with concurrent.futures.ThreadPoolExecutor(len(cut) - 1) as pool:
        others = [pool.submit(work, *stretch) for stretch in cut[1:]]
        return [work(*cut[0]), *(other.result() for other in others)]


def _master_stretch(
    file: int, master: Master, first: int, stop: int, checked: bool, ready: threading.Barrier
) -> TruePeakMeter:
    """Master frames ``first`` to ``stop`` of the WAV open as ``file`` in place; the true peak
    meter of what was written, if ``checked`` (else one that saw nothing)."""
    check = TruePeakMeter()
    if checked and first:
        lead = max(0, first - 2 * _PEAK_TAPS)
        check.lead_in(master(_read(file, lead, first - lead), lead))
    ready.wait()
    for start in range(first, stop, _BLOCK):
        block = master(_read(file, start, min(_BLOCK, stop - start)), start)
        _write(file, start, to_int16(block))
        if checked:
            check.add(block)
    return check


def _scale_stretch(file: int, scale: float, first: int, stop: int) -> None:
    for start in range(first, stop, _BLOCK):
        _write(file, start, to_int16(_read(file, start, min(_BLOCK, stop - start)) * scale))


def _peak_check(master: Master) -> TruePeakMeter | None:
    """A meter for the true peak a master writes, if it can pass the ceiling: only a limited one
    can (without the limiter the gain scales a measured true peak to the ceiling at most)."""
    return TruePeakMeter() if master.limiter is not None else None


def _trim(check: TruePeakMeter | None) -> float | None:
    """The gain that brings the true peak ``check`` measured to the ceiling, if it passes it."""
    peak = check.peak() if check is not None else 0.0
    return _linear(TRUE_PEAK_CEILING) / peak if peak and _db(peak) > TRUE_PEAK_CEILING else None


def _trimmed(master: Master, scale: float) -> Master:
    return dataclasses.replace(master, gain=master.gain * scale)


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Floats (full scale 1) as little-endian 16-bit samples, rounded and clipped."""
    scaled = samples * 32768.0
    # In place: the clip of a new array took 5 times as long as these three steps together.
    np.rint(scaled, out=scaled)
    np.clip(scaled, -32768, 32767, out=scaled)
    return scaled.astype("<i2")


def _read(file: int, start: int, count: int) -> np.ndarray:
    data = os.pread(file, 4 * count, _HEADER_BYTES + 4 * start)
    return np.frombuffer(data, dtype="<i2").reshape(-1, 2) / 32768.0


def _write(file: int, start: int, samples: np.ndarray) -> None:
    os.pwrite(file, samples.tobytes(), _HEADER_BYTES + 4 * start)


def _wav_header(frames: int, rate: int = SAMPLE_RATE) -> bytes:
    """The 44-byte header of a 16-bit stereo PCM WAV at ``rate`` holding ``frames`` frames."""
    data = 4 * frames
    fmt = struct.pack("<HHIIHH", 1, 2, rate, 4 * rate, 4, 16)  # PCM, stereo, 16 bit
    riff = struct.pack("<4sI4s", b"RIFF", 36 + data, b"WAVE")
    return riff + struct.pack("<4sI", b"fmt ", len(fmt)) + fmt + struct.pack("<4sI", b"data", data)


def _db(linear: float) -> float:
    return 20 * math.log10(linear)


def _linear(decibels: float) -> float:
    return 10 ** (decibels / 20)
