"""Benchmark: does it sound like a song? Song form and melody against held-out POP909 songs.

Ours: the bundled sample videos (examples/*.mp4, short), and timelines chained from their
features (``musicality.chain``) of ``--short-seconds`` and ``--long-seconds``, each scored with
``--seeds`` seeds by the façade with its defaults; every MIDI file is written and every statistic
measured from the file as read back (``video2music.analysis.structure.song_from_midi``). POP909:
the held-out test songs (split by song, seed 0: neither the chord model nor the melody model saw
them), read from the raw folder (``song_from_pop909``: MELODY against PIANO), in the same
run. Columns: median (p10-p90) over the pieces or songs, and the target of issue 21.

Also timed: composing (everything before rendering: chords, dynamics, melody, arrangement) a
``--compose-minutes`` timeline, as a multiple of real time.

    .venv/bin/python bench/form.py [--seeds 3] [--short-seconds 120] [--long-seconds 600] [--songs 86]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np
from musicality import chain  # bench/musicality.py, beside this script

from video2music import Video2Music
from video2music.analysis import structure
from video2music.compose.arrangement import write_midi
from video2music.data import pop909

REPO = Path(__file__).resolve().parent.parent
RAW_POP909 = REPO.parent / "shared" / "datasets" / "pop909"
ROWS = {
    "pch_entropy_1": ("pitch-class entropy, 1 bar (melody)", "inside POP909 p10-p90"),
    "pch_entropy_4": ("pitch-class entropy, 4 bars (melody)", "inside POP909 p10-p90"),
    "grooving": ("grooving pattern similarity", "inside POP909 p10-p90"),
    "motif_reuse_2": ("2-bar melody reuse (exact)", ">= 0.5"),
    "motif_reuse_4": ("4-bar melody reuse (exact)", ">= 0.4"),
    "rhythm_reuse_2": ("2-bar rhythm reuse", ""),
    "phrase_beats": ("median phrase (beats)", "5-16"),
    "phrases_per_minute": ("phrases per minute", "2-10"),
    "note_beats": ("median note (beats)", "0.25-0.6"),
    "range_p5_p95": ("melody range p5-p95 (semitones)", ">= 10"),
    "leap_share": ("leaps over 7 semitones", "0.01-0.10"),
    "chord_tones_strong": ("chord tones on beats 1 and 3", "0.6-0.9"),
    "melody_below": ("melody notes below the accompaniment", "<= 0.10"),
    "polyphony": ("accompaniment notes sounding", "2-4.5"),
    "longest_note_bars": ("longest accompaniment note (bars)", "<= 2"),
    "inversion_share": ("inversions at chord changes", "0.03-0.12"),
    "block_ratio": ("busiest / quietest 4-bar block", ">= 1.7"),
    "loop_recurrence": ("4-bar chord loop recurs", ""),
    "sections": ("sections", "4-8 on 2 minutes"),
}


def summary(values: list[float]) -> str:
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return "n/a"
    p10, p50, p90 = np.percentile(finite, [10, 50, 90])
    return f"{p50:.2f} ({p10:.2f}-{p90:.2f})"


def measure(v2m: Video2Music, features, seed: int, folder: Path, stem: str) -> dict[str, float]:
    result = v2m.generate(None, features=features, seed=seed)
    path = write_midi(result.arrangement, folder / f"{stem}.mid", overwrite=True)
    return structure.structure_stats(structure.song_from_midi(path))


def pop909_rows(raw: Path, limit: int) -> list[dict[str, float]]:
    songs = pop909.read_songs(pop909.COMPACT_FILE)
    test = sorted(pop909.split_songs(songs, seed=0)["test"])[:limit]
    return [structure.structure_stats(structure.song_from_pop909(raw / song)) for song in test]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="default", help="chord model (default: default)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--short-seconds", type=int, default=120)
    parser.add_argument("--long-seconds", type=int, default=600)
    parser.add_argument("--compose-minutes", type=float, default=25.0)
    parser.add_argument("--songs", type=int, default=86, help="held-out POP909 songs to measure")
    parser.add_argument("--pop909-raw", type=Path, default=RAW_POP909)
    parser.add_argument("--keep", type=Path, help="keep the MIDI files in this folder")
    args = parser.parse_args()

    v2m = Video2Music.from_pretrained(args.weights)
    clips = [v2m.extract_features(path, "basic") for path in sorted((REPO / "examples").glob("*.mp4"))]
    chained = [chain(clips, args.short_seconds), chain(clips, args.long_seconds)]
    sets = {"clips": clips, **{f"{t.duration:.0f} s": [t] for t in chained}}  # whole clips: a little over
    ours: dict[str, list[dict[str, float]]] = {name: [] for name in sets}
    with tempfile.TemporaryDirectory(prefix="form-") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        for name, timelines in sets.items():
            for i, features in enumerate(timelines):
                for seed in range(args.seeds):
                    stem = f"{name.replace(' ', '')}-{i}-seed{seed}"
                    ours[name].append(measure(v2m, features, seed, folder, stem))
    reference = pop909_rows(args.pop909_raw, args.songs)

    long = chain(clips, int(args.compose_minutes * 60))
    v2m.generate(None, features=clips[0], seed=0)  # warm: first-call costs are not the long piece's
    start = time.perf_counter()
    result = v2m.generate(None, features=long, seed=0)
    composing = time.perf_counter() - start
    stages = ", ".join(f"{k} {v:.2f}" for k, v in result.timings.items() if k != "features")

    print(
        f"chord model {args.weights}; ours: {len(clips)} sample clips, a {chained[0].duration:.0f}-s and a "
        f"{chained[1].duration:.0f}-s timeline chained from them, x {args.seeds} seeds; POP909: "
        f"{len(reference)} held-out songs; median (p10-p90)"
    )
    print("| statistic | " + " | ".join(f"ours: {n}" for n in ours) + " | POP909 | target |")
    print("|" + " --- |" * (len(ours) + 3))
    for key, (label, target) in ROWS.items():
        cells = [summary([row[key] for row in rows]) for rows in ours.values()]
        theirs = summary([row[key] for row in reference]) if key != "sections" else "n/a"
        print(f"| {label} | " + " | ".join(cells) + f" | {theirs} | {target} |")
    print(
        f"composing {args.compose_minutes:g} minutes: {composing:.2f} s, "
        f"{args.compose_minutes * 60 / composing:.0f}x real time ({stages}; target <= 5 s)"
    )


if __name__ == "__main__":
    main()
