"""Statistics of an arrangement, read back from the written MIDI and WAV files, and the same
statistics of POP909 songs, so ``bench/arrangement.py`` can set them side by side.

Definitions (times in seconds):

* sounding share: the part of a span in which a melody note sounds;
* notes per second: melody onsets over the span;
* stepwise share: consecutive melody notes 0, 1 or 2 semitones apart (repeated notes and steps,
  the conjunct motion of a sung line) among all consecutive pairs;
* chord tones on beats 1 and 3: of the melody notes sounding on the first or third beat of a
  bar, the share whose pitch class belongs to the chord sounding then;
* doubling: of the arpeggio's notes, the share whose exact pitch the pad holds at its onset;
* velocity range: highest minus lowest velocity of a track;
* RMS level (dBFS) of a WAV, integrated loudness (LUFS, ITU-R BS.1770), loudness range (LU,
  EBU Tech 3342) and true peak (dBTP: the peak of the 4x oversampled signal), all by
  ``video2music.audio.loudness``; the DC offset (the largest channel mean, full scale 1); the
  crest factor (dB: the largest sample over the RMS level); the spectral centroid (Hz: the mean
  frequency of the power spectrum, averaged over Hann-windowed frames of the mono mix);
* crashes on beat 1: the share of crash cymbal hits within 30 ms of a downbeat.

The chord sounding in a written MIDI file is read from its chord markers
(``analysis.musicality.piece_from_midi``); in POP909 from ``chord_midi.txt``.
"""

from __future__ import annotations

import math
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from video2music.analysis.musicality import piece_from_midi
from video2music.analysis.shares import near_share
from video2music.audio.loudness import LoudnessMeter
from video2music.theory import vocab
from video2music.utils.errors import UserError

CRASHES = (49, 57)  # GM crash cymbals 1 and 2
ON_BEAT_SECONDS = 0.03
STEPWISE_SEMITONES = 2


@dataclass
class Notes:
    """One track's notes as arrays (seconds, MIDI pitch, velocity), sorted by onset."""

    start: np.ndarray
    end: np.ndarray
    pitch: np.ndarray
    velocity: np.ndarray

    @classmethod
    def of(cls, notes: Sequence) -> Notes:
        """From objects with ``start``, ``end``, ``pitch`` and ``velocity`` (pretty_midi notes)."""
        ordered = sorted(notes, key=lambda n: (n.start, n.pitch))
        columns = [np.array([getattr(n, name) for n in ordered], dtype=float) for name in ("start", "end")]
        ints = [
            np.array([getattr(n, name) for n in ordered], dtype=np.int64) for name in ("pitch", "velocity")
        ]
        return cls(*columns, *ints)

    def __len__(self) -> int:
        return len(self.start)

    def sounding_at(self, time: float) -> np.ndarray:
        """Pitches sounding at ``time`` (a note sounds from its onset until just before its end)."""
        return self.pitch[(self.start <= time + 1e-6) & (self.end > time + 1e-6)]


def sounding_share(notes: Notes, start: float, end: float) -> float:
    """The part of ``start``..``end`` in which at least one note sounds."""
    if end <= start:
        raise ValueError("an empty span has no sounding share")
    covered, reach = 0.0, start
    for a, b in zip(np.clip(notes.start, start, end), np.clip(notes.end, start, end), strict=True):
        if b > reach:
            covered += b - max(a, reach)
            reach = b
    return covered / (end - start)


def notes_per_second(notes: Notes, start: float, end: float) -> float:
    if end <= start:
        raise ValueError("an empty span has no note rate")
    return float(((notes.start >= start) & (notes.start < end)).sum()) / (end - start)


def stepwise_share(notes: Notes) -> float:
    """Share of consecutive notes at most ``STEPWISE_SEMITONES`` apart (NaN with under two notes)."""
    if len(notes) < 2:
        return math.nan
    return float((np.abs(np.diff(notes.pitch)) <= STEPWISE_SEMITONES).mean())


def chord_tone_share(notes: Notes, times: Sequence[float], chord_at: Callable[[float], set[int]]) -> float:
    """Of the notes sounding at ``times``, the share whose pitch class is in ``chord_at(time)``
    (times without a note or without a chord are left out; NaN when none is left)."""
    fits = counted = 0
    for time in times:
        chord = chord_at(time)
        pitches = notes.sounding_at(time)
        if chord and len(pitches):
            counted += 1
            fits += int(pitches[-1] % 12 in chord)
    return fits / counted if counted else math.nan


def doubling_share(upper: Notes, pad: Notes) -> float:
    """Of ``upper``'s notes, the share whose exact pitch ``pad`` holds at their onset."""
    if not len(upper):
        return math.nan
    return float(np.mean([p in pad.sounding_at(t) for t, p in zip(upper.start, upper.pitch, strict=True)]))


def velocity_range(notes: Notes) -> int:
    return int(notes.velocity.max() - notes.velocity.min()) if len(notes) else 0


def pitch_summary(notes: Notes) -> dict[str, float]:
    """Median pitch, the 10th-90th percentile range and the lowest and highest pitch."""
    if not len(notes):
        return {"median": math.nan, "p10": math.nan, "p90": math.nan, "low": math.nan, "high": math.nan}
    p10, median, p90 = np.percentile(notes.pitch, [10, 50, 90])
    return {
        "median": float(median),
        "p10": float(p10),
        "p90": float(p90),
        "low": float(notes.pitch.min()),
        "high": float(notes.pitch.max()),
    }


def melody_stats(
    melody: Notes,
    start: float,
    end: float,
    strong_beats: Sequence[float],
    chord_at: Callable[[float], set[int]],
) -> dict[str, float]:
    """Every melody statistic over ``start``..``end``."""
    return {
        "sounding": sounding_share(melody, start, end),
        "notes_per_second": notes_per_second(melody, start, end),
        "stepwise": stepwise_share(melody),
        "chord_tones_beats_1_3": chord_tone_share(melody, strong_beats, chord_at),
        **{f"pitch_{k}": v for k, v in pitch_summary(melody).items()},
    }


# ----------------------------------------------------------------------------- written files


def read_midi(path: str | Path):
    """A MIDI file as pretty_midi reads it; UserError for one it cannot read."""
    import pretty_midi

    try:
        return pretty_midi.PrettyMIDI(str(path))
    except Exception as error:  # pretty_midi/mido raise many types for a damaged file
        raise UserError(f"{path} is not a readable MIDI file ({type(error).__name__}: {error})") from None


def pitched_pairs(path: str | Path, melody: bool = True) -> set[tuple[int, int]]:
    """(tick, pitch) of every pitched note of a MIDI file (``melody`` False: of the accompaniment,
    every track but Melody)."""
    import mido

    pairs = set()
    for track in mido.MidiFile(path).tracks:
        if not melody and track.name == "Melody":
            continue
        now = 0
        for message in track:
            now += message.time
            if message.type == "note_on" and message.velocity and message.channel != 9:
                pairs.add((now, message.note))
    return pairs


def midi_parts(midi) -> dict[str, Notes]:
    """Track name -> notes of a pretty_midi file."""
    return {instrument.name: Notes.of(instrument.notes) for instrument in midi.instruments}


def strong_beats(beats: np.ndarray, downbeats: np.ndarray) -> np.ndarray:
    """The first and third beat of every bar (bars of three beats or more have a third)."""
    starts = np.flatnonzero(np.isin(beats, downbeats))
    ends = [*starts[1:], len(beats)]
    thirds = [beats[i + 2] for i, end in zip(starts, ends, strict=True) if i + 2 < end]
    return np.sort(np.concatenate([beats[starts], thirds]))


def arrangement_stats(path: str | Path) -> dict[str, float]:
    """The statistics of one written MIDI file of video2music (its bars from the file's tempo and
    time signatures, its chords from its markers)."""

    midi = read_midi(path)
    parts = midi_parts(midi)
    end = float(midi.get_end_time())
    downbeats = midi.get_downbeats()
    downbeats = downbeats[downbeats < end - 1e-6]
    strong = strong_beats(midi.get_beats(), downbeats)
    pad = parts.get("Chords", Notes.of([]))
    spans = piece_from_midi(path).spans
    starts = np.array([span.start for span in spans])

    def chord_at(time: float) -> set[int]:
        index = int(np.searchsorted(starts, time + 1e-6, side="right")) - 1
        if index < 0 or spans[index].end <= time:
            return set()
        return set(vocab.chord_pitch_classes(spans[index].chord))

    stats: dict[str, float] = {"seconds": end}
    if "Melody" in parts:
        stats.update(melody_stats(parts["Melody"], 0.0, end, strong, chord_at))
    if "Arpeggio" in parts:
        stats["arpeggio_doubling"] = doubling_share(parts["Arpeggio"], pad)
    for name, notes in parts.items():
        stats[f"velocity_range_{name.lower()}"] = velocity_range(notes)
    if "Drums" in parts:
        drums = parts["Drums"]
        stats["crashes"] = int(np.isin(drums.pitch, CRASHES).sum())
        stats["crashes_on_beat_1"] = near_share(
            drums.start[np.isin(drums.pitch, CRASHES)], downbeats, ON_BEAT_SECONDS
        )
    return stats


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """(samples (n, channels) as floats in -1..1, sample rate) of a 16-bit PCM WAV."""
    try:
        with wave.open(str(path), "rb") as handle:
            if handle.getsampwidth() != 2:
                raise UserError(f"{path} is not 16-bit PCM; these statistics read 16-bit WAVs")
            frames = handle.readframes(handle.getnframes())
            channels, rate = handle.getnchannels(), handle.getframerate()
    except (OSError, EOFError, wave.Error) as error:
        raise UserError(f"{path} is not a readable WAV file ({error})") from None
    samples = np.frombuffer(frames, dtype="<i2").reshape(-1, channels)
    return samples.astype(np.float64) / 32768.0, rate


def rms_dbfs(samples: np.ndarray) -> float:
    rms = math.sqrt(float(np.mean(np.square(samples)))) if samples.size else 0.0
    return 20.0 * math.log10(max(rms, 1e-10))


def window_levels(samples: np.ndarray, rate: int, window: float) -> np.ndarray:
    """RMS dBFS of each whole ``window`` seconds of ``samples`` (n, channels)."""
    size = int(window * rate)
    count = len(samples) // size
    blocks = samples[: count * size].reshape(count, size, -1)
    return 10 * np.log10(np.maximum(np.mean(np.square(blocks), axis=(1, 2)), 1e-20))


TAIL_SECONDS = 0.05


def ending(samples: np.ndarray, rate: int) -> tuple[float, float, float]:
    """How a render ends: its final 50 ms under its own level (dB), the final 50 ms's level
    (dBFS), and the seconds at which its last 50 ms within 30 dB of its level ends."""
    level = rms_dbfs(samples)
    tail = rms_dbfs(samples[-int(TAIL_SECONDS * rate) :])
    loud = np.flatnonzero(window_levels(samples, rate, TAIL_SECONDS) > level - 30)
    return level - tail, tail, (loud[-1] + 1) * TAIL_SECONDS if len(loud) else 0.0


def spectral_centroid(samples: np.ndarray, rate: int, frame: int = 8192) -> float:
    """The mean frequency (Hz) of the power spectrum of the mono mix, averaged over frames."""
    mono = samples.mean(axis=1) if samples.ndim == 2 else samples
    whole = len(mono) - len(mono) % frame
    if not whole:
        return math.nan
    power = np.zeros(frame // 2 + 1)
    for start in range(0, whole, frame * 64):  # a few hundred frames at a time: flat memory
        frames = mono[start : min(whole, start + frame * 64)].reshape(-1, frame) * np.hanning(frame)
        power += (np.abs(np.fft.rfft(frames, axis=1)) ** 2).sum(axis=0)
    frequencies = np.fft.rfftfreq(frame, 1 / rate)
    return float((power * frequencies).sum() / power.sum()) if power.sum() else math.nan


def audio_stats(path: str | Path) -> dict[str, float]:
    samples, rate = read_wav(path)
    meter = LoudnessMeter(rate)
    meter.add(samples)
    peak = float(np.abs(samples).max()) if samples.size else 0.0
    return {
        "rms_dbfs": rms_dbfs(samples),
        "lufs": meter.integrated(),
        "loudness_range": meter.loudness_range(),
        "true_peak_dbtp": 20.0 * math.log10(max(meter.true_peak(), 1e-10)),
        "dc_offset": float(np.abs(samples.mean(axis=0)).max()) if samples.size else 0.0,
        "crest_db": 20.0 * math.log10(max(peak, 1e-10)) - rms_dbfs(samples),
        "centroid_hz": spectral_centroid(samples, rate),
    }


# ----------------------------------------------------------------------------- POP909


def pop909_melody_stats(song) -> dict[str, float]:
    """The melody statistics of one ``data.pop909.Pop909Song``, from its first melody onset to
    its last offset (its intro and outro have no melody)."""
    melody = Notes(
        *(
            np.array([getattr(n, name) for n in song.melody])
            for name in ("onset", "offset", "pitch", "velocity")
        )
    )
    if len(melody) < 2:
        raise ValueError(f"song {song.song_id} has too few melody notes")
    strong = strong_beats(np.asarray(song.beats), np.asarray(song.downbeats))
    starts = np.array([c.start for c in song.chords])

    def chord_at(time: float) -> set[int]:
        index = int(np.searchsorted(starts, time + 1e-6, side="right")) - 1
        if index < 0 or song.chords[index].end <= time or song.chords[index].chord == vocab.N_ID:
            return set()
        return set(vocab.chord_pitch_classes(song.chords[index].chord))

    return melody_stats(melody, float(melody.start[0]), float(melody.end.max()), strong, chord_at)
