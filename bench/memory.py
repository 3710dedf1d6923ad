"""Peak memory (RSS) of generate.py and the music command against the length of the music.

    .venv/bin/python bench/memory.py [--minutes 3 25 60] [--music-minutes 1 25]

For each length a synthetic video is made cheaply (96x64 pixels, 4 frames a second, a new
flat colour scene every 7 seconds, MPEG-4, with a sound of its own: 16 kHz AAC bursts of noise,
two seconds on and two off, so that the default --audio mix decodes, ducks and mixes it), then
generate.py scores it with the basic features
in a fresh process and the peak RSS of that process is read from the kernel (``wait4``). The
music command (``--seconds``) is measured the same way without a video. The baseline is the
shortest run of each: the ratios show how much the peak grows with length. The per-second
feature arrays are a few kilobytes a minute, so a flat render and mux keep the ratios near 1.
Target: generate.py under 600 MB at 25 minutes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FPS = 4
AUDIO_RATE = 16000
SCENE_SECONDS = 7


def _sound_frames(stream, seconds: int, rng: np.random.Generator):
    """One-second AAC frames of the video's own sound: noise bursts, two seconds on, two off."""
    for second in range(seconds):
        level = 0.2 if second % 4 < 2 else 0.0
        samples = (level * 32767 * rng.standard_normal(AUDIO_RATE)).clip(-32768, 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = (
            AUDIO_RATE,
            second * AUDIO_RATE,
            Fraction(1, AUDIO_RATE),
        )
        yield from stream.encode(frame)
    yield from stream.encode(None)


def make_video(path: Path, minutes: float) -> Path:
    """A ``minutes``-long video of flat colour scenes with a moving bar and a sound, small and quick
    to encode."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.codec_context.time_base = Fraction(1, FPS)
        sound = out.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        for packet in _sound_frames(sound, round(minutes * 60), rng):
            out.mux(packet)
        colour = rng.integers(0, 255, 3)
        for index in range(round(minutes * 60 * FPS)):
            if index % (SCENE_SECONDS * FPS) == 0:
                colour = rng.integers(0, 255, 3)
            image = np.empty((64, 96, 3), np.uint8)
            image[:] = colour
            image[:, (index * 3) % 96 : (index * 3) % 96 + 8] = 255 - colour
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def peak_rss_mb(command: list[str]) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of ``command`` run as a child process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    error = process.stderr.read().decode() if process.stderr else ""
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{error}")
    return usage.ru_maxrss / 1024, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[3, 25, 60])
    parser.add_argument("--music-minutes", type=float, nargs="+", default=[1, 25])
    parser.add_argument("--weights", default="default")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        rows = []
        for minutes in args.minutes:
            video = make_video(Path(folder) / f"synthetic_{minutes:g}min.mp4", minutes)
            out = Path(folder) / f"out_{minutes:g}"
            command = [sys.executable, str(ROOT / "generate.py"), "--video", str(video), "--out", str(out)]
            command += ["--weights", args.weights, "--features", "basic"]
            rows.append(("generate.py", minutes, *peak_rss_mb(command)))
            video.unlink()
        for minutes in args.music_minutes:
            out = Path(folder) / f"music_{minutes:g}" / "song"
            command = [sys.executable, "-m", "video2music.music", "--chords", "C Am F G", "--out", str(out)]
            command += ["--seconds", str(round(minutes * 60))]
            rows.append(("music", minutes, *peak_rss_mb(command)))

    baselines: dict[str, float] = {}
    print(f"{'command':<12} {'minutes':>8} {'peak RSS':>10} {'x shortest':>11} {'wall':>8}")
    for name, minutes, peak, seconds in rows:
        baseline = baselines.setdefault(name, peak)
        print(f"{name:<12} {minutes:>8g} {peak:>7.0f} MB {peak / baseline:>10.2f}x {seconds:>7.1f}s")
    print("target: generate.py < 600 MB at 25 minutes, ratios near 1 (flat with length)")


if __name__ == "__main__":
    main()
