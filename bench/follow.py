"""Benchmark: does the music follow the video? Tempo, energy, mode, styles, section starts, endings.

    .venv/bin/python bench/follow.py [--seeds 3] [--weights default]

Clips: footage filmed for the purpose (``tests/footage.py``: calm, busy, calm-then-busy, night;
H.264 files decoded like any upload), the real clips (``examples/*.mp4``, the same as
``../shared/videos``), a clip with a voice-over of its own (fades.mp4 with an espeak-ng voice,
so the mix with the video's sound is measured too) and a 0.96-s clip (shorter than a bar). Each
is scored with ``--seeds`` seeds by the façade with its defaults (``--tempo auto``, style pop)
and written as generate.py writes it, stems included; every figure is read back from the files.

Printed, with the targets of issue 22:

* the tempo each clip got (calm 60-90 bpm, busy 115-150, calm and busy at least 15 apart);
* the energy arc: Spearman between the WAV's level and the intensity curve the music follows,
  per 2-s window (>= 0.5 on calm-then-busy), with the mix's integrated loudness (-16 LUFS);
* the mode: the share of minor pieces over the mixed set (25-65%) and per clip (dark above
  bright);
* section starts: the share opened by a crash on the downbeat (>= 80%) and led in by a fill;
* endings, for every WAV (mixes, stems, mixes with the video's sound): the final 50 ms at least
  30 dB under the file's level or under -50 dBFS; the music's last sound within a beat of the
  picture's end; the 0.96-s clip's WAV exactly as long as the clip;
* styles: on calm-then-busy at one tempo, the share of (onset, pitch) pairs any two styles have
  in common (<= 0.5), and the tempo each style picks on its own.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import mido
import numpy as np
from scipy.stats import spearmanr

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the footage the tests film
from footage import CONTRASTS, NIGHT, Shot, speak, write_footage  # noqa: E402

from video2music import Video2Music  # noqa: E402
from video2music.analysis import stats  # noqa: E402
from video2music.audio import mux  # noqa: E402
from video2music.compose import energy  # noqa: E402
from video2music.compose.arrangement import is_section_label  # noqa: E402
from video2music.compose.drums import HIGH_TOM, LOW_TOM, MID_TOM, SNARE  # noqa: E402
from video2music.compose.instruments import Instruments  # noqa: E402
from video2music.compose.styles import STYLES  # noqa: E402
from video2music.output.writer import plan_result, write_result  # noqa: E402
from video2music.utils.video_io import probe  # noqa: E402

WINDOW = 2.0  # seconds a level is measured over
FILL_DRUMS = {SNARE, HIGH_TOM, MID_TOM, LOW_TOM}
VOICE = ("Here is the valley at dawn, before anyone is up.", "And this is where the path turns to the lake.")


def film(folder: Path) -> dict[str, Path]:
    clips = {name: write_footage(folder / f"{name}.mp4", shots) for name, shots in CONTRASTS.items()}
    clips["night"] = write_footage(folder / "night.mp4", (NIGHT,))
    clips.update({path.stem: path for path in sorted((REPO / "examples").glob("*.mp4"))})
    voice = speak(folder / "voice.wav", VOICE, gap=2.0)
    clips["voice_over"] = folder / "voice_over.mp4"
    mux.mux_into(REPO / "examples" / "fades.mp4", voice, clips["voice_over"])
    clips["short"] = write_footage(folder / "short.mp4", (Shot(0.96, pan=10),))
    return clips


def ending(path: Path, picture: float, beat: float) -> dict[str, float]:
    """How a WAV ends against the picture: its final 50 ms under its own level (dB), where its
    last sound within 30 dB of that level falls before the picture's end (beats), and its length."""
    samples, rate = stats.read_wav(path)
    below, tail, last_sound = stats.ending(samples, rate)
    return {
        "dies_away": float(below >= 30 or tail < -50),
        "tail_below": below,
        "gap_beats": (picture - last_sound) / beat,
        "seconds": len(samples) / rate,
    }


def section_starts(path: Path) -> list[dict[str, bool]]:
    """For each section after the first: a crash on its downbeat, and drums in the beat before."""
    midi = mido.MidiFile(path)
    starts, drums, now = [], [], 0
    for message in midi.tracks[0]:
        now += message.time
        if message.type == "marker" and is_section_label(message.text):
            starts.append(now)
    for track in midi.tracks[1:]:
        now = 0
        for message in track:
            now += message.time
            if message.type == "note_on" and message.velocity and message.channel == 9:
                drums.append((now, message.note))
    beat = midi.ticks_per_beat
    return [
        {
            "crash": any(t == start and note in stats.CRASHES for t, note in drums),
            "fill": any(start - beat <= t < start and note in FILL_DRUMS for t, note in drums),
        }
        for start in starts[1:]
    ]


def matrix(title: str, sets: dict[str, set], share) -> None:
    print(f"  {title}")
    names = list(sets)
    print("  " + " " * 12 + "".join(f"{n:>12}" for n in names))
    for a in names:
        cells = "".join(f"{share(sets[a], sets[b]):>12.2f}" if a != b else f"{'-':>12}" for b in names)
        print(f"  {a:<12}{cells}")


def arc(result, wav: Path) -> float:
    """Spearman between the WAV's level and the intensity the music follows, per 2-s window."""
    samples, rate = stats.read_wav(wav)
    heard = stats.window_levels(samples, rate, WINDOW)
    curve = energy.intensity(result.density, result.loudness)
    steps = int(WINDOW)
    planned = [curve[i : i + steps].mean() for i in range(0, len(curve) - steps + 1, steps)]
    count = min(len(heard), len(planned))
    return float(spearmanr(heard[:count], planned[:count]).statistic)


def row(label: str, values: Iterable[float], target: str, form: str = "{:.2f}") -> None:
    values = [v for v in values if not math.isnan(v)]
    if not values:
        print(f"  {label:<46} n/a")
        return
    low, mid, high = np.percentile(values, [0, 50, 100])
    spread = f"{form.format(mid)} ({form.format(low)}-{form.format(high)})"
    print(f"  {label:<46} {spread:<24} {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--weights", default="default", help="chord model (default: default)")
    args = parser.parse_args()

    v2m = Video2Music.from_pretrained(args.weights)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        clips = film(folder)
        pictures = {name: probe(path).duration for name, path in clips.items()}
        runs = []
        for (name, path), seed in itertools.product(clips.items(), range(args.seeds)):
            result = v2m.generate(path, seed=seed)
            plan = plan_result(folder / "out", f"{name}_{seed}", stems=True, lead_sheet=False, overwrite=True)
            written = write_result(result, plan)
            runs.append((name, seed, result, written))

        print(f"Clips: {', '.join(f'{n} ({pictures[n]:.1f} s)' for n in clips)}; seeds 0-{args.seeds - 1}\n")
        print("Tempo (--tempo auto), bpm                    median (min-max)        target")
        for name in clips:
            row(name, [r.tempo for n, _, r, _ in runs if n == name], "", "{:.0f}")
        calm = np.median([r.tempo for n, _, r, _ in runs if n == "calm"])
        busy = np.median([r.tempo for n, _, r, _ in runs if n == "busy"])
        print(
            f"  calm {calm:.0f} vs busy {busy:.0f}: {busy - calm:+.0f} bpm "
            "(target: calm 60-90, busy 115-150, >= 15 apart)"
        )

        print("\nEnergy arc")
        for name in ("calm_then_busy", "testvideo", "fades"):
            row(
                f"Spearman(level, intensity), {name}",
                [arc(r, w["wav"]) for n, _, r, w in runs if n == name],
                ">= 0.5 on calm_then_busy",
            )
        lufs = [stats.audio_stats(w["wav"])["lufs"] for n, _, _, w in runs if n != "short"]
        row("integrated loudness of the mix (LUFS)", lufs, "-16", "{:.1f}")

        print("\nMode")
        minor = [r.key.mode == "minor" for *_, r, _ in runs]
        print(f"  minor share over all {len(minor)} pieces: {np.mean(minor):.0%} (target 25-65%)")
        for name in clips:
            share = np.mean([r.key.mode == "minor" for n, _, r, _ in runs if n == name])
            print(f"    {name:<22} {share:.0%} minor")

        print("\nSection starts (after the first)")
        opened = [s for *_, w in runs for s in section_starts(w["midi"])]
        crashes, fills = np.mean([s["crash"] for s in opened]), np.mean([s["fill"] for s in opened])
        print(
            f"  {len(opened)} starts: crash on the downbeat {crashes:.0%} (>= 80%), fill before {fills:.0%}"
        )

        print("\nEndings, every WAV")
        ends = []
        for name, _, result, written in runs:
            beat = result.grid.seconds_per_beat
            for kind, path in written.items():
                if path.suffix == ".wav":
                    ends.append((name, kind, ending(path, pictures[name], beat)))
        print(
            f"  {len(ends)} WAVs ({sum(k == 'wav' for _, k, _ in ends)} mixes, "
            f"{sum(k.startswith('stem:') for _, k, _ in ends)} stems, "
            f"{sum(k == 'mix' for _, k, _ in ends)} mixes with the video's sound)"
        )
        print(
            "  final 50 ms 30 dB under the level or under -50 dBFS: "
            f"{np.mean([e['dies_away'] for *_, e in ends]):.0%} (target 100%)"
        )
        row("final 50 ms under the file's level (dB)", [e["tail_below"] for *_, e in ends], ">= 30", "{:.0f}")
        row(
            "picture end - last sound (beats), mixes",
            [e["gap_beats"] for _, k, e in ends if k == "wav"],
            "<= 1",
        )
        short = [e["seconds"] for n, k, e in ends if n == "short" and k == "wav"]
        print(
            f"  0.96-s clip ({pictures['short']:.3f} s picture): "
            f"WAVs of {', '.join(f'{s:.3f}' for s in short)} s"
        )

        print("\nStyles on calm_then_busy, seed 0")
        every, backing, tempi = {}, {}, {}
        for style in STYLES:
            instruments = Instruments.preset(style)
            tempi[style] = v2m.generate(
                clips["calm_then_busy"], seed=0, style=style, instruments=instruments
            ).tempo
            fixed = v2m.generate(
                clips["calm_then_busy"], seed=0, style=style, instruments=instruments, tempo=100
            )
            plan = plan_result(
                folder / "styles", style, wav=False, video=False, json=False, lead_sheet=False, overwrite=True
            )
            midi = write_result(fixed, plan)["midi"]
            every[style], backing[style] = stats.pitched_pairs(midi), stats.pitched_pairs(midi, melody=False)
        print("  tempo --tempo auto: " + ", ".join(f"{s} {t:.0f}" for s, t in tempi.items()))
        print("  At 100 bpm, (onset, pitch) pairs two styles have in common (target <= 0.5):")
        matrix(
            "every pitched note, over the two styles' pairs together",
            every,
            lambda a, b: len(a & b) / len(a | b),
        )
        matrix(
            "the accompaniment, over the smaller set", backing, lambda a, b: len(a & b) / min(len(a), len(b))
        )
        matrix(
            "every pitched note, over the smaller set (the tune is shared)",
            every,
            lambda a, b: len(a & b) / min(len(a), len(b)),
        )


if __name__ == "__main__":
    main()
