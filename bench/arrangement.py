"""Benchmark: the arrangement (melody, parts, dynamics, audio) against held-out POP909 songs.

The bundled sample videos (examples/*.mp4) are scored with ``--seeds`` seeds each, and so is
one timeline of at least ``--min-seconds`` chained from their features (``musicality.chain``).
Each run is written as generate.py writes it (MIDI and WAV through ``video2music.output.writer``) and
every statistic is measured from the written files as read back (``video2music.analysis.stats``).
In the same run the same melody statistics are computed on the held-out POP909 test songs
(split by song, seed 0), with the velocity ranges of their MELODY and PIANO tracks when the
raw POP909 folder is there.

Columns: ours on the clips and on the timeline (median, p10-p90 over the runs), POP909 (median,
p10-p90 over the songs) and the target of issue 12's "Done when". The RMS spread is the
difference in mean RMS level between the busiest and the calmest clip (by the note density
the dynamics gave them), measured on their WAVs rendered a second time without loudness
normalisation; every other audio statistic is of the WAVs as generate.py writes them.

    .venv/bin/python bench/arrangement.py [--weights default] [--seeds 10] [--keep DIR]
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

import numpy as np
from musicality import chain  # bench/musicality.py, beside this script

from video2music import Video2Music
from video2music.analysis import stats
from video2music.data import pop909
from video2music.output.writer import plan_result, write_result

REPO = Path(__file__).resolve().parent.parent
RAW_POP909 = REPO.parent / "shared" / "datasets" / "pop909"
MELODY_ROWS = {
    "melody sounding share": ("sounding", "0.50-0.80"),
    "melody notes per second": ("notes_per_second", "1.0-1.8"),
    "melody stepwise share (0-2 semitones)": ("stepwise", "0.55-0.78"),
    "chord tones on beats 1 and 3": ("chord_tones_beats_1_3", ">= 0.70"),
    "melody median pitch (MIDI)": ("pitch_median", "67-77"),
    "melody p10 pitch": ("pitch_p10", ""),
    "melody p90 pitch": ("pitch_p90", ""),
    "melody lowest pitch": ("pitch_low", ""),
    "melody highest pitch": ("pitch_high", ""),
}
TRACKS = ("chords", "arpeggio", "bass", "drums", "melody")


def summary(values: list[float]) -> str:
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return "n/a"
    p10, p50, p90 = np.percentile(finite, [10, 50, 90])
    return f"{p50:.2f} ({p10:.2f}-{p90:.2f})"


def score(v2m: Video2Music, features, seed: int, folder: Path, stem: str, raw: bool) -> dict[str, float]:
    """Generate, write MIDI and WAV as generate.py does, and measure the written files; with
    ``raw`` also the WAV as rendered, before loudness normalisation (its level is ``raw_rms_dbfs``)."""
    result = v2m.generate(None, features=features, seed=seed)
    outputs = plan_result(folder, stem, video=False, json=False, lead_sheet=False, overwrite=True)
    paths = write_result(result, outputs)
    measured = stats.arrangement_stats(paths["midi"])
    measured.update(stats.audio_stats(paths["wav"]))
    measured["density"] = float(np.mean(result.density))
    if raw:
        unlevelled = plan_result(
            folder, f"{stem}-raw", video=False, json=False, lead_sheet=False, loudness=None, overwrite=True
        )
        measured["raw_rms_dbfs"] = stats.rms_dbfs(stats.read_wav(write_result(result, unlevelled)["wav"])[0])
    return measured


def pop909_rows(source: Path, raw: Path) -> list[dict[str, float]]:
    songs = pop909.read_songs(source)
    test = set(pop909.split_songs(songs, seed=0)["test"])
    rows = []
    for song in (s for s in songs if s.song_id in test):
        row = stats.pop909_melody_stats(song)
        midi = raw / song.song_id / f"{song.song_id}.mid"
        if midi.is_file():
            parts = stats.midi_parts(stats.read_midi(midi))
            for name in ("MELODY", "PIANO"):
                if name in parts:
                    row[f"velocity_range_{name.lower()}"] = stats.velocity_range(parts[name])
        rows.append(row)
    return rows


def column(rows: list[dict[str, float]], key: str) -> list[float]:
    return [float(r[key]) for r in rows if key in r]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="default", help="chord model (default: default)")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--min-seconds", type=int, default=120)
    parser.add_argument(
        "--pop909", type=Path, default=pop909.COMPACT_FILE, help="POP909 folder or compact file"
    )
    parser.add_argument("--pop909-raw", type=Path, default=RAW_POP909, help="raw POP909 (for velocities)")
    parser.add_argument("--keep", type=Path, help="keep the MIDI and WAV files in this folder")
    args = parser.parse_args()

    v2m = Video2Music.from_pretrained(args.weights)
    videos = sorted((REPO / "examples").glob("*.mp4"))
    clips = {path.stem: v2m.extract_features(path, "basic") for path in videos}
    timeline = chain(list(clips.values()), args.min_seconds)
    ours: dict[str, list[dict[str, float]]] = {"clips": [], "timeline": []}
    per_clip: dict[str, list[dict[str, float]]] = {name: [] for name in clips}
    with tempfile.TemporaryDirectory(prefix="arrangement-") as scratch:
        folder = args.keep or Path(scratch)
        for seed in range(args.seeds):
            for name, features in clips.items():
                per_clip[name].append(score(v2m, features, seed, folder, f"{name}-seed{seed}", raw=True))
            ours["timeline"].append(score(v2m, timeline, seed, folder, f"timeline-seed{seed}", raw=False))
    ours["clips"] = [row for rows in per_clip.values() for row in rows]
    reference = pop909_rows(args.pop909, args.pop909_raw)

    print(
        f"chord model {args.weights}; ours: {len(clips)} sample videos x {args.seeds} seeds, and a "
        f"{timeline.T}-s timeline x {args.seeds} seeds; POP909: {len(reference)} held-out songs"
    )
    rows = [["statistic", "ours: clips", "ours: timeline", "POP909", "target"], ["---"] * 5]
    for label, (key, target) in MELODY_ROWS.items():
        rows.append(
            [label, *(summary(column(ours[k], key)) for k in ours), summary(column(reference, key)), target]
        )
    rows.append(
        [
            "arpeggio notes doubling the pad",
            *(summary(column(ours[k], "arpeggio_doubling")) for k in ours),
            "n/a",
            "<= 0.30",
        ]
    )
    for track in TRACKS:
        key = f"velocity_range_{track}"
        theirs = summary(column(reference, key)) if track == "melody" else "n/a"
        rows.append(
            [f"velocity range: {track}", *(summary(column(ours[k], key)) for k in ours), theirs, ">= 30"]
        )
    rows.append(
        ["velocity range: POP909 piano", "", "", summary(column(reference, "velocity_range_piano")), ""]
    )
    rows.append(
        [
            "crashes on beat 1",
            *(summary(column(ours[k], "crashes_on_beat_1")) for k in ours),
            "n/a",
            ">= 0.80",
        ]
    )
    rows.append(
        ["integrated loudness (LUFS)", *(summary(column(ours[k], "lufs")) for k in ours), "n/a", "-16 +- 1"]
    )
    rows.append(
        ["true peak (dBTP)", *(summary(column(ours[k], "true_peak_dbtp")) for k in ours), "n/a", "<= -1"]
    )
    rows.append(["RMS level (dBFS)", *(summary(column(ours[k], "rms_dbfs")) for k in ours), "n/a", ""])
    for row in rows:
        print("| " + " | ".join(row) + " |")

    by_density = sorted(per_clip, key=lambda name: np.mean(column(per_clip[name], "density")))
    calm, busy = by_density[0], by_density[-1]
    level = {name: float(np.mean(column(per_clip[name], "raw_rms_dbfs"))) for name in (calm, busy)}
    print(
        f"RMS spread: busiest clip {busy} {level[busy]:.1f} dBFS - calmest {calm} {level[calm]:.1f} dBFS = "
        f"{level[busy] - level[calm]:.1f} dB (target >= 6 dB before loudness normalisation)"
    )
    if args.keep:
        print(f"files in {args.keep}")


if __name__ == "__main__":
    main()
