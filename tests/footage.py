"""Real video files made for the tests and benchmarks: written with PyAV, decoded like any upload.

`write_clip` encodes given frames. `write_footage` films a sequence of shots of a textured scene
(calm pans, busy cut-heavy montage, dim night footage) so a test can ask how the music follows
footage whose pace and mood are known. `speak` gives a clip a voice of its own with espeak-ng.
"""

from __future__ import annotations

import subprocess
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np


def write_clip(
    path: Path,
    frames: list,
    *,
    codec: str = "mpeg4",
    rate: int = 25,
    times: list[float] | None = None,
    sar=None,
    rotation: int | None = None,
) -> Path:
    """Encode RGB uint8 frames (H, W, 3) into a real video file with PyAV.

    ``times`` gives each frame's presentation time in seconds (variable frame rate); ``sar`` the
    sample aspect ratio; ``rotation`` the display-matrix rotation (degrees counter-clockwise).
    """
    import av

    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if times is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        if sar is not None:
            stream.codec_context.sample_aspect_ratio = Fraction(sar)
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            if times is not None:
                frame.pts, frame.time_base = round(times[i] * 1000), Fraction(1, 1000)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def texture(width: int, height: int, seed: int, contrast: float = 45.0) -> np.ndarray:
    """A scene with detail at several scales (fine grain to broad shapes), RGB uint8."""
    import cv2

    rng = np.random.default_rng(seed)
    image = np.zeros((height, width, 3), np.float32)
    for sigma, weight in ((2, 0.4), (6, 0.35), (20, 0.25)):
        layer = cv2.GaussianBlur(rng.normal(0, 1, (height, width, 3)).astype(np.float32), (0, 0), sigma)
        image += weight * layer / layer.std()
    return np.clip(128 + contrast * image, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Shot:
    """A stretch of footage: a textured scene panned at ``pan`` px/s, cut to a new scene every
    ``cut_every`` seconds (never when None), lit at ``light`` (1 = as textured), its colour
    channels scaled by ``tint`` (each cut's scene rolls the tint, so cuts also change colour)."""

    seconds: float
    pan: float = 0.0
    cut_every: float | None = None
    light: float = 1.0
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)
    contrast: float = 45.0


# Slow drift over soft, even light: a landscape, a product turning.
CALM = Shot(30, pan=4, light=0.55, contrast=20)
# Fast pans, a cut every 1.2 s, warm saturated colour, hard contrast: a montage, a game clip.
BUSY = Shot(30, pan=60, cut_every=1.2, tint=(1.5, 0.9, 0.6), contrast=70)
# Dim blue footage that barely moves.
NIGHT = Shot(30, pan=2, light=0.25, tint=(0.6, 0.7, 1.3), contrast=15)

CONTRASTS: dict[str, tuple[Shot, ...]] = {
    "calm": (CALM,),
    "busy": (BUSY,),
    "calm_then_busy": (CALM, BUSY),
}


def write_footage(
    path: Path, shots: tuple[Shot, ...], size: tuple[int, int] = (192, 108), rate: int = 25
) -> Path:
    """Film ``shots`` one after another into an H.264 file of ``size`` (width, height) at ``rate``."""
    width, height = size
    frames = []
    for number, shot in enumerate(shots):
        count = round(shot.seconds * rate)
        scenes = 1 if shot.cut_every is None else int(np.ceil(shot.seconds / shot.cut_every))
        span = width + int(np.ceil(shot.pan * (shot.cut_every or shot.seconds))) + 1
        for scene in range(scenes):
            image = texture(span, height, seed=100 * number + scene, contrast=shot.contrast)
            tint = np.roll(np.asarray(shot.tint, np.float32), scene % 3)
            lit = np.clip(image.astype(np.float32) * shot.light * tint, 0, 255).astype(np.uint8)
            first = 0 if shot.cut_every is None else round(scene * shot.cut_every * rate)
            last = count if shot.cut_every is None else min(count, round((scene + 1) * shot.cut_every * rate))
            for i in range(first, last):
                x = round(shot.pan * (i - first) / rate)
                frames.append(np.ascontiguousarray(lit[:, x : x + width]))
    return write_clip(path, frames, codec="libx264", rate=rate)


def speak(path: Path, sentences: tuple[str, ...], gap: float) -> Path:
    """A mono 16-bit WAV of ``sentences`` spoken by espeak-ng, ``gap`` seconds of silence between."""
    parts, rate = [], 22050
    for index, sentence in enumerate(sentences):
        part_path = path.with_name(f"{path.stem}.part{index}.wav")
        subprocess.run(["espeak-ng", "-s", "165", "-w", str(part_path), sentence], check=True, timeout=60)
        with wave.open(str(part_path)) as part:
            rate = part.getframerate()
            parts.append(np.frombuffer(part.readframes(part.getnframes()), dtype="<i2"))
        part_path.unlink()
    silence = np.zeros(int(gap * rate), np.int16)
    voice = np.concatenate([piece for part in parts for piece in (part, silence)][:-1])
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(voice.tobytes())
    return path
