"""Integrated loudness (ITU-R BS.1770-4, in LUFS) and true peak of a render.

:class:`LoudnessMeter` is fed blocks of samples, so a long render is measured in flat memory, and
it imports nothing heavier than numpy and PyAV: scipy (under pyloudnorm) took half a second to
import on every command that renders. It holds a few MB however long the render.

* K-weighting: the standard's two filters, a high shelf (about +4 dB above 1.7 kHz) and a 38 Hz
  high-pass, derived for any sample rate from their analogue parameters; at 48 kHz they give the
  coefficients printed in the standard. They run as the recursive filters the standard describes
  (``audio.biquads``), their state carried from block to block, so the blocks a signal is fed in
  do not change what is measured.
* Gating: 400 ms blocks every 100 ms; blocks under -70 LUFS, then blocks more than 10 LU under
  the loudness of the rest, are left out. Less than one block has no loudness (-inf).
* True peak (:class:`TruePeakMeter`, also on its own): the peak of the signal upsampled 4x by
  windowed-sinc interpolation. Between two samples the signal can rise above both, but in audio
  not by 6 dB, so only the gaps next to a sample within 6 dB of the peak so far are interpolated.
* Loudness range (EBU Tech 3342): the spread between the 10th and 95th percentiles of the
  short-term (3 s) loudness, sampled every 100 ms, gated at -70 LUFS and 20 LU under their mean.

``tests/test_loudness.py`` checks both against pyloudnorm and scipy's polyphase resampler.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from video2music.audio.biquads import BATCH, Biquads

# (centre Hz, gain dB, Q) of the shelf and (corner Hz, Q) of the high-pass, as BS.1770's 48 kHz
# coefficients imply them.
SHELF = (1681.974450955533, 3.999843853973347, 0.7071752369554196)
HIGH_PASS = (38.13547087613982, 0.5003270373238773)
_SHELF_MID_EXPONENT = 0.4996667741545416  # the shelf's gain at its centre, as a power of its top gain
ABSOLUTE_GATE = -70.0  # LUFS
RELATIVE_GATE = -10.0  # LU under the loudness of the blocks above the absolute gate
BLOCK_HOPS = 4  # a gating block is 400 ms: 4 hops of 100 ms
SHORT_TERM_HOPS = 30  # the loudness range's windows are 3 s
RANGE_GATE = -20.0  # LU under the mean short-term loudness, for the loudness range
RANGE_PERCENTILES = (10, 95)
OVERSAMPLE = 4
_TAPS = 16  # interpolation taps on either side of a gap
_KAISER_BETA = 8.0


def k_weighting(rate: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The two K-weighting biquads at ``rate`` Hz as (b, a) coefficient pairs, shelf first."""
    centre, gain_db, q = SHELF
    k = math.tan(math.pi * centre / rate)
    top = 10 ** (gain_db / 20)
    mid = top**_SHELF_MID_EXPONENT
    a0 = 1 + k / q + k * k
    shelf_b = np.array([top + mid * k / q + k * k, 2 * (k * k - top), top - mid * k / q + k * k]) / a0
    shelf_a = np.array([a0, 2 * (k * k - 1), 1 - k / q + k * k]) / a0
    corner, q = HIGH_PASS
    k = math.tan(math.pi * corner / rate)
    a0 = 1 + k / q + k * k
    pass_a = np.array([a0, 2 * (k * k - 1), 1 - k / q + k * k]) / a0
    return [(shelf_b, shelf_a), (np.array([1.0, -2.0, 1.0]), pass_a)]


def _interpolator() -> np.ndarray:
    """(2 * _TAPS, OVERSAMPLE - 1): the weights of the samples around a gap for each point in it."""
    offsets = np.arange(-_TAPS + 1, _TAPS + 1)  # sample positions relative to the gap's left end
    points = np.arange(1, OVERSAMPLE) / OVERSAMPLE
    t = points[None, :] - offsets[:, None]
    window = np.i0(_KAISER_BETA * np.sqrt(np.clip(1 - (t / _TAPS) ** 2, 0, None))) / np.i0(_KAISER_BETA)
    return np.sinc(t) * window


class LoudnessMeter:
    """Feed float samples in [-1, 1] (frames, or frames x channels) with :meth:`add`; once all
    are fed, read :meth:`integrated` (LUFS), :meth:`loudness_range` (LU) and :meth:`true_peak`
    (linear)."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.hop = hop_frames(rate)
        self._weighting = Biquads(k_weighting(rate), rate)
        self._pending: list[np.ndarray] = []
        self._pending_frames = 0
        self._rest: np.ndarray | None = None  # K-weighted frames after the last whole hop
        self._hops: list[np.ndarray] = []  # (hops, channels) sums of squares, a few arrays of them
        self._peaks = TruePeakMeter()
        self._channels: int | None = None

    def add(self, samples: np.ndarray) -> None:
        samples = self._checked(samples)
        self._pending.append(samples)
        self._pending_frames += len(samples)
        if self._pending_frames >= BATCH:
            self._flush()

    def lead_in(self, samples: np.ndarray) -> None:
        """Samples just before the first ones to measure (the end of a part measured elsewhere):
        the filters hear them, nothing is measured. Only before the first :meth:`add`."""
        samples = self._checked(samples)
        self._weighting(samples)
        self._peaks.lead_in(samples)

    @classmethod
    def joined(cls, parts: Sequence[LoudnessMeter]) -> LoudnessMeter:
        """One meter for ``parts`` that measured consecutive stretches of one signal, each led in
        by the end of the one before and all but the last a whole number of hops long."""
        joined = cls(parts[-1].rate)
        for part in parts:
            part._flush()
            joined._hops += part._hops
        joined._channels = parts[-1]._channels
        joined._peaks = TruePeakMeter.joined([part._peaks for part in parts])
        return joined

    def _checked(self, samples: np.ndarray) -> np.ndarray:
        samples = np.asarray(samples, dtype=np.float64)
        samples = samples[:, None] if samples.ndim == 1 else samples
        if self._channels is None:
            self._channels = samples.shape[1]
        elif samples.shape[1] != self._channels:
            raise ValueError(f"expected {self._channels} channels, got {samples.shape[1]}")
        return samples

    def integrated(self, hop_gains: np.ndarray | None = None) -> float:
        """The gated loudness in LUFS of everything fed so far; -inf for silence or < 400 ms.

        ``hop_gains`` (one power gain per 100 ms hop) gives the loudness the signal would have
        with each hop scaled so (a limiter's effect, foreseen)."""
        power = self._window_powers(BLOCK_HOPS, hop_gains)
        power = power[power > _power(ABSOLUTE_GATE)]
        if not len(power):
            return -math.inf
        power = power[power > _power(_lufs(power.mean()) + RELATIVE_GATE)]
        return _lufs(power.mean())

    def loudness_range(self) -> float:
        """The loudness range in LU (EBU Tech 3342) of everything fed so far; 0 for less than one
        short-term window above the gates."""
        power = self._window_powers(SHORT_TERM_HOPS)
        power = power[power > _power(ABSOLUTE_GATE)]
        if not len(power):
            return 0.0
        loudness = _lufs_array(power[power > _power(_lufs(power.mean()) + RANGE_GATE)])
        low, high = np.percentile(loudness, RANGE_PERCENTILES)
        return float(high - low)

    def true_peak(self) -> float:
        """The largest magnitude of the 4x upsampled signal fed so far (1.0 is full scale)."""
        self._flush()
        return self._peaks.peak()

    def hop_count(self) -> int:
        """How many whole 100 ms hops have been measured."""
        self._flush()
        return sum(len(h) for h in self._hops)

    def _window_powers(self, hops: int, hop_gains: np.ndarray | None = None) -> np.ndarray:
        """The mean K-weighted power of each window of ``hops`` hops, one every hop."""
        self._flush()
        if not self._hops:
            return np.zeros(0)
        sums = np.concatenate(self._hops).sum(axis=1)
        if hop_gains is not None:
            sums = sums * hop_gains
        if len(sums) < hops:
            return np.zeros(0)
        return np.convolve(sums, np.ones(hops), mode="valid") / (hops * self.hop)

    def _flush(self) -> None:
        if self._pending_frames:
            pending = np.concatenate(self._pending)
            self._pending, self._pending_frames = [], 0
            for start in range(0, len(pending), BATCH):  # a whole file at once in flat memory
                self._measure(pending[start : start + BATCH])

    def _measure(self, samples: np.ndarray) -> None:
        self._peaks.add(samples)
        weighted = self._weighting(samples)
        if self._rest is not None:
            weighted = np.concatenate([self._rest, weighted])
        whole = len(weighted) - len(weighted) % self.hop
        hops = weighted[:whole].reshape(-1, self.hop, weighted.shape[1])
        self._hops.append(np.einsum("hfc,hfc->hc", hops, hops))
        self._rest = weighted[whole:]


class TruePeakMeter:
    """Feed float samples in [-1, 1] (frames x channels) with :meth:`add`; read :meth:`peak`, the
    largest magnitude of the 4x upsampled signal (see the module)."""

    def __init__(self) -> None:
        self._peak = 0.0
        self._gaps = _interpolator()
        self._around: np.ndarray | None = None  # the last 2 * _TAPS frames seen, for the next gaps

    def peak(self) -> float:
        """The true peak of everything fed so far (1.0 is full scale)."""
        if self._around is not None and self._around.any():
            # The signal falls silent after the end: the last gaps see zeros on their right.
            self.add(np.zeros_like(self._around))
        return self._peak

    def lead_in(self, samples: np.ndarray) -> None:
        """Samples just before the first ones to measure: only the gaps after them are read."""
        lead = samples if self._around is None else np.concatenate([self._around, samples])
        self._around = np.concatenate([np.zeros((2 * _TAPS, samples.shape[1])), lead])[-2 * _TAPS :]

    @classmethod
    def joined(cls, parts: Sequence[TruePeakMeter]) -> TruePeakMeter:
        """One meter for ``parts`` that read consecutive stretches, each led in by the end of the
        one before (so the gaps at each join were read by the later part)."""
        joined = cls()
        joined._around = parts[-1]._around
        joined._peak = max(part._peak for part in parts)
        return joined

    def add(self, samples: np.ndarray) -> None:
        """Raise the true peak by ``samples`` and the gaps before them (the ones that needed these
        samples on their right)."""
        if not len(samples):
            return
        if self._around is None:
            self._around = np.zeros((2 * _TAPS, samples.shape[1]))  # silence before the start
        joined = np.concatenate([self._around, samples])
        magnitude = frame_peaks(joined)
        self._peak = max(self._peak, float(magnitude.max()))
        # Gap g lies between joined[g] and joined[g + 1]; it can be interpolated once joined holds
        # _TAPS samples on either side. The call before did the gaps up to _TAPS - 1.
        first, last = _TAPS, len(joined) - _TAPS - 1
        near = np.maximum(magnitude[first : last + 1], magnitude[first + 1 : last + 2]) >= self._peak / 2
        if near.sum() > len(near) // 8:  # dense (a loud sustained tone): filter every gap
            for channel in joined.T:
                for weights in self._gaps.T:
                    between = np.correlate(channel, weights, mode="valid")[first - _TAPS + 1 :]
                    self._peak = max(self._peak, float(np.abs(between).max(initial=0.0)))
        else:
            gaps = first + np.flatnonzero(near)
            offsets = np.arange(-_TAPS + 1, _TAPS + 1)
            for chunk in range(0, len(gaps), 1 << 12):
                around = joined[gaps[chunk : chunk + (1 << 12), None] + offsets]  # (gaps, taps, channels)
                between = np.matmul(around.transpose(0, 2, 1), self._gaps)
                self._peak = max(self._peak, float(np.abs(between).max()))
        self._around = joined[-2 * _TAPS :]


def hop_frames(rate: int) -> int:
    """Frames in one of the meter's 100 ms hops at ``rate`` Hz."""
    return max(1, round(rate / 10))


def frame_peaks(samples: np.ndarray) -> np.ndarray:
    """The largest magnitude of each frame across its channels (numpy's max over a last axis
    of two is many times slower than this)."""
    magnitude = np.abs(samples[:, 0])
    for channel in range(1, samples.shape[1]):
        np.maximum(magnitude, np.abs(samples[:, channel]), out=magnitude)
    return magnitude


def _power(lufs: float) -> float:
    return 10 ** ((lufs + 0.691) / 10)


def _lufs(power: float) -> float:
    return -0.691 + 10 * math.log10(power) if power > 0 else -math.inf


def _lufs_array(power: np.ndarray) -> np.ndarray:
    return -0.691 + 10 * np.log10(power)
