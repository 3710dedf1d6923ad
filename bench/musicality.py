"""Benchmark: does the music sound like pop? Our MIDI output against held-out POP909 songs.

The bundled sample videos (examples/*.mp4) are chained into one timeline of at least
``--min-seconds`` (their features concatenated, each clip start a cut) in two orders, A and B
(two different "videos" of the same length). For each of ``--seeds`` seeds and each tempo the
façade scores both timelines and writes the MIDI file; every statistic is then measured from
that file as read back (chord markers, tempo, key signature, end of file:
``video2music.analysis.musicality.piece_from_midi``), never from the result's internal fields. The
same statistics are computed in the same run on the held-out POP909 test songs (split by song,
seed 0) at their own tempos, with their phrase starts as the "cuts".

Columns: ours at each tempo (mean over the 2 x seeds pieces; shares of pieces for the endings;
for cut alignment the share of all cuts), POP909's median (p10-p90) per song (shares of songs
for the endings), and the target of issue 11's "Done when".

    .venv/bin/python bench/musicality.py [--weights default] [--seeds 10] [--tempos 90,120]
"""

from __future__ import annotations

import argparse
import math
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from video2music import Video2Music
from video2music.analysis import musicality as m
from video2music.compose.arrangement import write_midi
from video2music.data import pop909
from video2music.features import VideoFeatures
from video2music.features.pace import pace_from

REPO = Path(__file__).resolve().parent.parent
TARGETS = {
    "in-key share": ">= 0.90",
    "mean chord length (s)": "1.6-2.9",
    "changes on half-bar lines": ">= 0.90",
    "distinct chords per 30 s": "5-10",
    "4-chord repetition": "0.45-0.9",
    "ends on the tonic": ">= 0.90",
    "ends on the tonic, held >= 1 bar": ">= 0.90",
    "same-seed cross-video identity": "<= 0.15",
    "cut alignment (change within 1/2 beat)": ">= 0.90",
    "  time-shifted cuts (chance)": "<= 0.6",
}


def chain(clips: Sequence[VideoFeatures], min_seconds: int) -> VideoFeatures:
    """The clips back to back, repeated until ``min_seconds``: arrays concatenated, the scene
    offsets restarted at every clip start and every cut inside a clip, the pace's cut rate
    counted over the joined cuts."""
    parts: list[VideoFeatures] = []
    while sum(p.T for p in parts) < min_seconds:
        parts.extend(clips)
    starts = np.cumsum([0] + [p.T for p in parts[:-1]])
    cuts = sorted(
        {float(s) for s in starts[1:]}
        | {s + c for s, p in zip(starts, parts, strict=True) for c in p.scene_cuts}
    )
    offsets = np.concatenate([p.scene_offset for p in parts])
    for s in starts:
        offsets[s] = 0
    for t in range(1, len(offsets)):
        offsets[t] = 0 if offsets[t] == 0 else offsets[t - 1] + 1
    movement = np.concatenate([p.movement for p in parts])
    return VideoFeatures(
        duration=float(sum(p.T for p in parts)),
        fps=parts[0].fps,
        semantic=None,
        emotion=np.concatenate([p.emotion for p in parts]),
        scene_offset=offsets,
        scene_cuts=cuts,
        motion=np.concatenate([p.motion for p in parts]),
        backend=parts[0].backend,
        movement=movement,
        pace=pace_from(movement, cuts),
    )


def write_ours(
    v2m: Video2Music, features: VideoFeatures, tempo: float, seed: int, folder: Path, stem: str
) -> Path:
    """The one piece of glue with the façade: generate, then write the MIDI file the way the
    result writers write it (``compose.arrangement.write_midi``: the arrangement's standard MIDI file,
    the same bytes as the ``.mid`` generate.py saves), which works whichever save API wraps it."""
    result = v2m.generate(None, features=features, tempo=tempo, seed=seed)
    return write_midi(result.arrangement, folder / f"{stem}.mid")


def pop909_pieces(source: Path) -> list[m.Piece]:
    songs = pop909.read_songs(source)
    test = set(pop909.split_songs(songs, seed=0)["test"])
    return [m.piece_from_pop909(s, cuts=pop909.phrase_start_times(s)) for s in songs if s.song_id in test]


def measure(pieces: list[m.Piece], pairs: list[tuple[m.Piece, m.Piece]]) -> dict[str, list[float]]:
    """Per-piece values of every statistic (pairs for the identity; shifted cuts as a baseline)."""
    rng = np.random.default_rng(0)
    values: dict[str, list[float]] = {name: [fn(p) for p in pieces] for name, fn in m.STATISTICS.items()}
    values["ends on the tonic"] = [float(m.ends_on_tonic(p)) for p in pieces]
    values["ends on the tonic, held >= 1 bar"] = [
        float(m.ends_on_tonic(p) and m.final_chord_bars(p) >= 1 - 1e-6) for p in pieces
    ]
    values["same-seed cross-video identity"] = [m.identity_share(a, b) for a, b in pairs]
    values["cut alignment (change within 1/2 beat)"] = [m.cut_alignment(p) for p in pieces]
    values["  time-shifted cuts (chance)"] = [m.cut_alignment(p, m.shifted_cuts(p, rng)) for p in pieces]
    return values


def summary(values: list[float], spread: bool) -> str:
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return "n/a"
    if not spread:
        return f"{np.mean(finite):.3f}"
    p10, p50, p90 = np.percentile(finite, [10, 50, 90])
    return f"{p50:.3f} ({p10:.2f}-{p90:.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="default", help="model to score with (default: default)")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--tempos", default="90,120")
    parser.add_argument("--min-seconds", type=int, default=120)
    parser.add_argument(
        "--pop909", type=Path, default=pop909.COMPACT_FILE, help="POP909 folder or compact file"
    )
    parser.add_argument("--keep", type=Path, help="keep the MIDI files in this folder")
    args = parser.parse_args()
    tempos = [float(t) for t in args.tempos.split(",")]

    v2m = Video2Music.from_pretrained(args.weights)
    clips = [v2m.extract_features(path, "basic") for path in sorted((REPO / "examples").glob("*.mp4"))]
    timelines = {"A": chain(clips, args.min_seconds), "B": chain(clips[::-1], args.min_seconds)}
    ours: dict[float, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="musicality-") as scratch:
        folder = args.keep or Path(scratch)
        for tempo in tempos:
            pieces: dict[tuple[str, int], m.Piece] = {}
            for seed in range(args.seeds):
                for name, features in timelines.items():
                    stem = f"{name}-{tempo:g}bpm-seed{seed}"
                    path = write_ours(v2m, features, tempo, seed, folder, stem)
                    pieces[(name, seed)] = m.piece_from_midi(path, cuts=features.scene_cuts)
            pairs = [(pieces[("A", s)], pieces[("B", s)]) for s in range(args.seeds)]
            ours[tempo] = measure(list(pieces.values()), pairs)

    reference = pop909_pieces(args.pop909)
    theirs = measure(reference, list(zip(reference, reference[1:], strict=False)))
    seconds = int(timelines["A"].T)
    print(
        f"model {args.weights}; ours: {len(clips)} sample videos chained to {seconds} s, 2 orders x "
        f"{args.seeds} seeds per tempo; POP909: {len(reference)} held-out songs (median, p10-p90)"
    )
    header = ["statistic", *(f"ours@{t:g}" for t in tempos), "POP909", "target"]
    rows = [header, ["---"] * len(header)]
    for name, target in TARGETS.items():
        per_song = summary(theirs[name], spread=not name.startswith("ends"))  # endings: a share of songs
        rows.append([name, *(summary(ours[t][name], False) for t in tempos), per_song, target])
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if args.keep:
        print(f"MIDI files in {args.keep}")


if __name__ == "__main__":
    main()
