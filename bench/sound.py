"""Benchmark: the sound of our renders beside held-out POP909 songs rendered the same way.

    .venv/bin/python bench/sound.py [--seeds 3] [--soundfont PATH] [--songs 850 851 ...]

Ours: the two longer sample videos and a 140-s timeline chained from all three sample videos
(``musicality.chain``), each with ``--seeds`` seeds, written as generate.py writes them (the
humanised render, the room, the master). POP909: the held-out songs ``--songs`` (850-859 by
default) from the raw folder, each track given the sends of a part the arrangement does not
name (``compose.arrangement.DEFAULT_SENDS``), rendered by ``audio.synth.render_wav`` with the same
bank, room and master. Each WAV is read back and measured (``analysis.stats.audio_stats``): DC
offset, crest factor, spectral centroid, integrated loudness, loudness range and true peak;
the table gives the median and the range of each group. Targets from issue 23: DC offset at most
0.001, -16 LUFS with the true peak at most -1 dBTP, our crest factor within POP909's range.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import mido
import numpy as np
from arrangement import RAW_POP909  # bench/arrangement.py, beside this script
from musicality import chain

from video2music import Video2Music
from video2music.analysis import stats
from video2music.audio import synth
from video2music.compose.arrangement import CHORUS_CC, DEFAULT_SENDS, REVERB_CC
from video2music.output.writer import plan_result, write_result

REPO = Path(__file__).resolve().parent.parent
MEASURES = {
    "DC offset": ("dc_offset", "{:.4f}", "<= 0.001"),
    "crest factor (dB)": ("crest_db", "{:.1f}", "ours within POP909's range"),
    "spectral centroid (Hz)": ("centroid_hz", "{:.0f}", ""),
    "integrated loudness (LUFS)": ("lufs", "{:.1f}", "-16"),
    "loudness range (LU)": ("loudness_range", "{:.1f}", ""),
    "true peak (dBTP)": ("true_peak_dbtp", "{:.1f}", "<= -1"),
}


def with_sends(midi: mido.MidiFile) -> mido.MidiFile:
    """``midi`` with every track's channel given the default reverb and chorus sends at its start."""
    for track in midi.tracks:
        channel = next((m.channel for m in track if hasattr(m, "channel")), None)
        if channel is not None:
            reverb, chorus = DEFAULT_SENDS
            track.insert(0, mido.Message("control_change", channel=channel, control=CHORUS_CC, value=chorus))
            track.insert(0, mido.Message("control_change", channel=channel, control=REVERB_CC, value=reverb))
    return midi


def summary(values: list[float], form: str) -> str:
    return f"{form.format(np.median(values))} ({form.format(min(values))} to {form.format(max(values))})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--soundfont", help="a bank other than the default order's first")
    parser.add_argument("--songs", nargs="+", default=[str(n) for n in range(850, 860)])
    parser.add_argument("--pop909-raw", type=Path, default=RAW_POP909, help="the raw POP909 folder")
    args = parser.parse_args()

    v2m = Video2Music.from_pretrained("default")
    clips = {
        path.stem: v2m.extract_features(path, "basic") for path in sorted((REPO / "examples").glob("*.mp4"))
    }
    pieces = {name: clips[name] for name in ("fades", "testvideo")}
    pieces["timeline"] = chain(list(clips.values()), 140)
    measured: dict[str, list[dict[str, float]]] = {"ours": [], "POP909": []}
    with tempfile.TemporaryDirectory(prefix="sound-bench-") as scratch:
        folder = Path(scratch)
        for seed in range(args.seeds):
            for name, features in pieces.items():
                result = v2m.generate(None, features=features, seed=seed)
                outputs = plan_result(
                    folder, f"{name}-{seed}", video=False, json=False, lead_sheet=False,
                    soundfont=args.soundfont, overwrite=True,
                )  # fmt: skip
                measured["ours"].append(stats.audio_stats(write_result(result, outputs)["wav"]))
        for song in args.songs:
            midi = with_sends(mido.MidiFile(args.pop909_raw / song / f"{song}.mid"))
            synth.render_wav(midi, folder / f"pop{song}.wav", args.soundfont)
            measured["POP909"].append(stats.audio_stats(folder / f"pop{song}.wav"))

    print(
        f"bank: {synth.find_soundfont(args.soundfont).name}; ours: {len(measured['ours'])} renders; "
        f"POP909: songs {', '.join(args.songs)}"
    )
    print("| measure | ours | POP909 | target |")
    print("| --- | --- | --- | --- |")
    for label, (key, form, target) in MEASURES.items():
        columns = [summary([row[key] for row in rows], form) for rows in measured.values()]
        print(f"| {label} | {' | '.join(columns)} | {target} |")


if __name__ == "__main__":
    main()
