"""Benchmark: render speed with each General MIDI bank, and what the master adds to it.

    .venv/bin/python bench/render.py [--minutes 25] [--repeats 3] [--banks all|installed]

Two pieces, arranged as generate.py arranges them (default model, seed 0, basic features): the
24-s sample video's music, and a timeline of at least ``--minutes`` chained from the sample
videos' features (``musicality.chain``: their cuts, densities and moods one after another). Each
is rendered to a WAV by ``audio.synth.render_wav`` (FluidSynth with its reverb and chorus, the
humanised copy as the writer plays it, then the master: DC high-pass, loudness target,
limiter) with every bank installed: MuseScore General as an SF2 and as an SF3, FluidR3_GM and
the TimGM6mb that pretty_midi ships. For the sample the median of ``--repeats`` runs is shown,
for the long piece one run, all in this process one after another. Ratios are against
FluidR3_GM (the default before MuseScore General) in the same run, and real time (seconds of
music rendered per second). The last rows split FluidR3's render of the sample into the
synthesis alone (FluidSynth's blocks, nothing kept) and the rest (the master's two passes and the
file), so the master's own cost is measured, not guessed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from musicality import chain  # bench/musicality.py, beside this script

from video2music import Video2Music
from video2music.audio import synth
from video2music.audio.humanize import humanize

REPO = Path(__file__).resolve().parent.parent


def banks() -> dict[str, Path]:
    """The banks installed, by name, MuseScore General's first."""
    found = {
        "MuseScore General (SF2)": synth.MUSESCORE_SOUNDFONTS[0],
        "MuseScore General (SF3)": synth.MUSESCORE_SOUNDFONTS[1],
        "FluidR3_GM": synth.DEBIAN_SOUNDFONT,
        "TimGM6mb": synth._pretty_midi_soundfont(),
    }
    return {name: path for name, path in found.items() if path.is_file()}


def seconds(fn: Callable[[], object], repeats: int) -> float:
    """The median wall time of ``repeats`` calls of ``fn``."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def synthesis_only(midi, soundfont: Path) -> None:
    for _ in synth._Render(midi, soundfont, None).blocks():
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=25.0, help="length of the long piece")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the sample per bank")
    args = parser.parse_args()

    v2m = Video2Music.from_pretrained("default")
    videos = sorted((REPO / "examples").glob("*.mp4"))
    clips = {path.stem: v2m.extract_features(path, "basic") for path in videos}
    pieces = {
        "sample (24 s)": clips["testvideo"],
        f"timeline ({args.minutes:g} min)": chain(list(clips.values()), round(args.minutes * 60)),
    }
    played = {
        name: humanize(v2m.generate(None, features=features, seed=0).arrangement.to_midi(), 0)
        for name, features in pieces.items()
    }
    installed = banks()
    print(f"banks: {', '.join(f'{name} ({path})' for name, path in installed.items())}")
    rows = [["piece", "bank", "render (s)", "x real time", "vs FluidR3_GM"], ["---"] * 5]
    with tempfile.TemporaryDirectory(prefix="render-bench-") as scratch:
        wav = Path(scratch) / "out.wav"
        for piece, midi in played.items():
            length = midi.length
            repeats = args.repeats if length < 120 else 1
            timed = {
                name: seconds(lambda path=path, midi=midi: synth.render_wav(midi, wav, path), repeats)
                for name, path in installed.items()
            }
            base = timed.get("FluidR3_GM")
            for name, took in timed.items():
                ratio = f"{took / base:.2f}" if base else "n/a"
                rows.append([piece, name, f"{took:.2f}", f"{length / took:.0f}", ratio])
        if "FluidR3_GM" in installed:
            sample = played["sample (24 s)"]
            alone = seconds(lambda: synthesis_only(sample, installed["FluidR3_GM"]), args.repeats)
            whole = seconds(lambda: synth.render_wav(sample, wav, installed["FluidR3_GM"]), args.repeats)
            rows.append(["sample (24 s)", "FluidR3_GM: synthesis alone", f"{alone:.2f}", "", "1.00"])
            rows.append(
                ["sample (24 s)", "FluidR3_GM: whole render", f"{whole:.2f}", "", f"{whole / alone:.2f}"]
            )
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
