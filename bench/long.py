"""Long videos: generate.py on a 25-minute video with its defaults, against same-run baselines.

    .venv/bin/python bench/long.py [--minutes 25] [--repeats 3]

The video is made cheaply (``bench/memory.py``'s: 96x64 pixels, 4 frames a second, a flat colour
scene every 7 seconds, a sound of its own, so the default ``--audio mix`` decodes, ducks and mixes
it), so the music side dominates. generate.py scores it ``--repeats`` times in a fresh process
with its defaults (MIDI, WAV, the mix as WAV and in the mp4, JSON, lead sheet); the wall time,
the peak RSS (``wait4``) and the stages the JSON reports are medians over the runs.

Baselines, measured in the same run, after the runs of the command:

* real time: the video's length;
* a plain FluidSynth render of the same MIDI (the humanised copy the WAV plays, the same bank,
  reverb and chorus) on one core, nothing measured or kept: the synthesis alone;
* a plain AAC encode of the same WAV (NAME.wav), with the mp4's codec settings, into an m4a.

Targets (issue 25): the command within 30 s (at least 50x real time) on a quiet 2-core machine,
peak RSS under 600 MB.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import wave
from fractions import Fraction
from pathlib import Path

import av
import mido
import numpy as np
from memory import make_video, peak_rss_mb  # bench/memory.py, beside this script

from video2music.audio import mux, synth
from video2music.audio.humanize import humanize

ROOT = Path(__file__).resolve().parent.parent


def plain_render_seconds(midi: mido.MidiFile, soundfont: Path, length: float) -> float:
    """FluidSynth alone on one core: the events fed in time order, the blocks pulled and dropped."""
    fluidsynth = synth.load_fluidsynth()
    player = fluidsynth.Synth(gain=synth.RENDER_GAIN, samplerate=float(synth.SAMPLE_RATE))
    try:
        player.sfload(str(soundfont))
        player.set_reverb(**synth.REVERB)
        player.set_chorus(**synth.CHORUS)
        started = time.perf_counter()
        rendered, end = 0, round(length * synth.SAMPLE_RATE)
        for event in synth.events_of(midi):
            frame = min(round(event[0] * synth.SAMPLE_RATE), end)
            while rendered < frame:
                count = min(4096, frame - rendered)
                player.get_samples(count)
                rendered += count
            synth.send(player, event)
        while rendered < end:
            count = min(4096, end - rendered)
            player.get_samples(count)
            rendered += count
        return time.perf_counter() - started
    finally:
        player.delete()


def plain_encode_seconds(wav_path: Path, out: Path) -> float:
    """The WAV encoded to AAC (mp4's settings) in an m4a, nothing else."""
    started = time.perf_counter()
    with wave.open(str(wav_path)) as source, av.open(str(out), "w") as output:
        rate = source.getframerate()
        stream = output.add_stream(mux.AUDIO_CODEC, rate=rate, layout="stereo")
        stream.bit_rate = mux.AUDIO_BITRATE
        stream.codec_context.options = mux.AAC_OPTIONS
        done = 0
        while block := source.readframes(1 << 16):
            samples = np.frombuffer(block, "<i2").reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = rate, done, Fraction(1, rate)
            done += samples.shape[1] // 2
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=25.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    length = args.minutes * 60

    runs: list[tuple[float, float]] = []
    stages: dict[str, list[float]] = {}
    renders: list[float] = []
    encodes: list[float] = []
    with tempfile.TemporaryDirectory(prefix="long-bench-") as folder:
        video = make_video(Path(folder) / "long.mp4", args.minutes)
        soundfont = synth.find_soundfont()
        for run in range(args.repeats):
            out = Path(folder) / f"out{run}"
            command = [sys.executable, str(ROOT / "generate.py"), "--video", str(video), "--out", str(out)]
            runs.append(peak_rss_mb(command))
            summary = json.loads((out / "long.json").read_text())
            for stage, seconds in summary["timings"].items():
                stages.setdefault(stage, []).append(seconds)
        # The baselines after the runs: the plain render loads the whole bank into this process,
        # and a command started from it afterwards would count that memory in its peak.
        for run in range(args.repeats):
            out = Path(folder) / f"out{run}"
            played = humanize(
                mido.MidiFile(out / "long.mid"),
                json.loads((out / "long.json").read_text())["settings"]["seed"],
            )
            renders.append(plain_render_seconds(played, soundfont, length))
            encodes.append(plain_encode_seconds(out / "long.wav", Path(folder) / "plain.m4a"))

    wall = statistics.median(seconds for _, seconds in runs)
    peak = statistics.median(rss for rss, _ in runs)
    render, encode = statistics.median(renders), statistics.median(encodes)
    print(f"video: {args.minutes:g} min, 96x64, 4 fps, with sound; bank {soundfont.name}")
    print(f"generate.py, whole command: {wall:.1f} s, peak RSS {peak:.0f} MB (medians of {args.repeats})")
    rows = [
        ("x real time", f"{length / wall:.1f}", f"target >= 50, i.e. <= {length / 50:.0f} s"),
        ("vs plain FluidSynth, 1 core", f"{wall / render:.2f}x", f"{render:.1f} s, {length / render:.0f}x"),
        ("vs plain AAC encode of its WAV", f"{wall / encode:.2f}x", f"{encode:.1f} s"),
        ("vs the two, one after the other", f"{wall / (render + encode):.2f}x", f"{render + encode:.1f} s"),
    ]
    for name, ratio, note in rows:
        print(f"  {name:<32} {ratio:>7}  ({note})")
    print("stages the JSON reports (median s; render and mux overlap work in threads):")
    for stage, values in stages.items():
        print(f"  {stage:<12} {statistics.median(values):6.2f}")
    print("target: <= 30 s and < 600 MB on a quiet 2-core machine")


if __name__ == "__main__":
    main()
