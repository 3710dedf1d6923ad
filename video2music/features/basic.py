"""The built-in backend: emotion from low-level cues, no model weights (semantic stays absent).

Each second gets a (valence, arousal) point from documented cues, and the six labels get
probabilities by how close that point lies to where each label sits in the circumplex of
affect (Russell 1980, "A circumplex model of affect"):

- Colour (Valdez & Mehrabian 1994, "Effects of color on emotions", J. Exp. Psych. General):
  their regressions of pleasure and arousal on Munsell brightness and saturation,
  pleasure = .69 B + .22 S and arousal = -.31 B + .60 S, on standardised cues.
- Colour warmth (Wang & Cheong 2006, "Affective understanding in film", IEEE TCSVT): warm
  hues and bright, saturated lighting go with positive scenes, cold dim ones with negative.
- Motion and cut rate (Hanjalic & Xu 2005, "Affective video content representation and
  modeling", IEEE TMM): arousal rises with motion activity and shot-cut density, and the
  curves are smoothed with a Kaiser window because felt arousal changes slowly.

The cue scales (what counts as bright, fast, frequent) and the weights that combine them are
our choices, not fitted to data: the output is a plausible, deterministic mood curve that
follows light, colour and pace, not a calibrated classifier. Use the CLIP backend for the
features the published models were trained on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

from video2music.features.pace import cut_rate
from video2music.theory.vocab import EMOTIONS
from video2music.utils.video_io import fit_within

THUMBNAIL = 96  # longer side of the stored samples; colour statistics need no detail

# Where each label sits in (valence, arousal), both in [-1, 1], after Russell's circumplex.
LABEL_POINTS = np.array(
    [
        (0.70, 0.60),  # exciting
        (-0.60, 0.75),  # fearful
        (-0.35, 0.45),  # tense
        (-0.65, -0.45),  # sad
        (0.60, -0.50),  # relaxing
        (0.00, 0.00),  # neutral
    ]
)
LABEL_WIDTH = 0.4  # spread of each label's region; larger gives softer probabilities
SMOOTHING_SECONDS = 5


def colour_cues(image: np.ndarray) -> tuple[float, float, float]:
    """(brightness 0-1, saturation 0-1, warmth -1..1) of an RGB uint8 image.

    Warmth is the share of clearly coloured pixels with red-to-yellow hues minus the share with
    cyan-to-blue hues.
    """
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)  # OpenCV hue is 0-179 (degrees / 2)
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    chromatic = (sat > 50) & (val > 50)
    warm = chromatic & ((hue < 30) | (hue >= 165))  # 330-60 degrees
    cool = chromatic & (hue >= 75) & (hue < 135)  # 150-270 degrees
    pixels = hue.size
    return float(val.mean()) / 255.0, float(sat.mean()) / 255.0, float(warm.sum() - cool.sum()) / pixels


def smooth(values: np.ndarray, seconds: int = SMOOTHING_SECONDS) -> np.ndarray:
    """Kaiser-window moving average (edges padded with the end values), as Hanjalic & Xu smooth."""
    if len(values) < 2 or seconds < 2:
        return values
    window = np.kaiser(seconds, 5.0)
    window /= window.sum()
    pad = seconds // 2
    padded = np.pad(values, (pad, seconds - 1 - pad), mode="edge")
    return np.convolve(padded, window, mode="valid")


def valence_arousal(
    brightness: np.ndarray,
    saturation: np.ndarray,
    warmth: np.ndarray,
    motion: np.ndarray,
    cuts_per_10s: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-second (valence, arousal) in [-1, 1] from the cues (see the module docstring)."""
    b = np.clip((brightness - 0.45) / 0.25, -1, 1)  # mid-grey footage is neutral
    s = np.clip((saturation - 0.35) / 0.25, -1, 1)
    motion = motion.astype(np.float64)
    if len(motion) > 1:
        motion[0] = motion[1]  # motion[0] is 0 by definition, not a still opening
    m = np.tanh((motion - 6.0) / 10.0)  # a few levels is a still shot; tens is fast action or a cut
    c = np.tanh((cuts_per_10s - 2.0) / 3.0)  # about two cuts per 10 s is an ordinary pace
    valence = (0.69 * b + 0.22 * s + 0.35 * warmth) / (0.69 + 0.22 + 0.35)
    colour_arousal = (-0.31 * b + 0.60 * s) / 0.91
    arousal = 0.3 * colour_arousal + 0.4 * m + 0.3 * c
    return np.clip(smooth(valence), -1, 1), np.clip(smooth(arousal), -1, 1)


def label_probabilities(valence: np.ndarray, arousal: np.ndarray) -> np.ndarray:
    """(T, 6) soft assignment of each (valence, arousal) point to the labels, rows summing to 1."""
    points = np.stack([valence, arousal], axis=1)
    distance2 = ((points[:, None, :] - LABEL_POINTS[None, :, :]) ** 2).sum(axis=2)
    logits = -distance2 / (2 * LABEL_WIDTH**2)
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


class BasicBackend:
    """Emotion from brightness, saturation, warmth, motion and cut rate; no semantic features."""

    name = "basic"

    def __init__(self) -> None:
        self._cues: list[tuple[float, float, float]] = []

    @property
    def provenance(self) -> dict:
        return {
            "emotion": "low-level cues (brightness, saturation, warmth, motion, cut rate)",
            "labels": list(EMOTIONS),
        }

    @property
    def sample_fit(self) -> Callable[[int, int], tuple[int, int]]:
        return fit_within(THUMBNAIL)

    def start(self) -> None:
        self._cues = []

    def add(self, image: np.ndarray) -> None:
        # Only three numbers per second are kept, so memory does not grow with the picture size.
        self._cues.append(colour_cues(image))

    def finish(self, motion: np.ndarray, scene_cuts: Sequence[float]) -> tuple[None, np.ndarray]:
        cues = np.asarray(self._cues, dtype=np.float64).reshape(-1, 3)
        seconds = len(cues)
        valence, arousal = valence_arousal(
            cues[:, 0], cues[:, 1], cues[:, 2], np.asarray(motion[:seconds]), cut_rate(scene_cuts, seconds)
        )
        self._cues = []
        return None, label_probabilities(valence, arousal)
