"""The built-in training corpus: real music from music21's own corpus, with no paired videos.

Neither MuVi-Sync nor the published weights can be downloaded everywhere, so the default model
learns from the scores that ship inside music21. Music and video meet through a shared
description, the per-second timeline the model reads (the unpaired idea of SONIQUE): every
input a video would give is derived here from the music itself.

Sources (one piece each, split train/val/test by piece):
- Bach's four-part chorales (``corpus.chorales``); where a RomanText analysis of the same
  chorale ships (the Riemenschneider files, matched by BWV number), its chords replace the
  recognised ones, because a human analysis is more reliable than pitch-set matching.
- Monteverdi's madrigals that ship with a RomanText analysis (chords from the analysis, notes,
  fermatas and dynamics from the score).
- The lead sheets (``leadSheet/*``, the Nottingham tunes): chords from their chord symbols.

Time runs at 120 bpm: one second is a half note (two quarter lengths), so second ``t`` covers
quarter lengths ``[2t, 2t + 2)`` and holds one chord.

Chords. Every chord source is reduced to labelled spans first: analysis and chord-symbol chords
are spans as written; a score without them is cut into quarter-note beats, and each beat's
notes give a pitch-class profile (each pitch class weighted by how long it sounds in the beat)
and a bass (the lowest pitch sounding); pitch classes holding under 15% of the beat are passing
notes and dropped. ``match_chord`` scores every root and quality of the
vocabulary against that profile: the weight of the template's tones, minus the weight outside
the template, minus a fixed penalty for each template tone that is absent, plus a small bonus
when the root is the bass; exact ties go to the simpler quality (``maj`` before ``min`` before
``7`` ...). A known root (RomanText, chord symbols) restricts the search to that root. Each
second takes the chord that covers most of it (the earlier one on a tie, i.e. the downbeat);
a second is ``N`` only where nothing sounds in all of it; where an analysis stops before the
score ends (some madrigal analyses do), the remaining seconds are recognised from the score.
Chords are then transposed by the piece's key (the analysis key that lasts longest, else
music21's key estimate) into C major / A minor.

Per-second inputs derived from the music (see ``derive_timeline``):
- note density: note onsets per second across all voices (tie continuations excluded);
- loudness 0-1: the share of the piece's voices sounding and how busy they are, scaled by the
  written dynamic (``mf`` when none is written);
- scene offset: seconds since the current phrase began; phrases end at fermatas, double and
  final barlines and, in pieces with few fermatas, at authentic cadences (dominant -> tonic);
- motion: onset rate mapped piecewise-linearly onto the range video motion takes (mean absolute
  RGB difference at second boundaries, 0-255; on examples/*.mp4 steady shots give 0-10 and a
  hard cut 40-90) through the quantile anchors of ``model.dynamics_rule`` (the inverse of the
  rule that turns a video's motion into note density), with a cut-sized value on each phrase's
  first second, as a cut gives in video;
- emotion: the affective table inverted (each chord quality votes for the emotions whose
  quality set holds it, ``neutral`` for qualities in none and for ``N``), smoothed over a few
  seconds, mixed with a mode prior (minor leans sad/fearful, major exciting/relaxing) and an
  arousal term from the onset rate, rows normalised to sum to 1.

Command line: ``python -m video2music.commands.corpus --out dataset/corpus [--jobs 2]`` writes the
MuVi-Sync layout (``data.muvisync.write_video`` / ``write_split``); each piece's parsed score
is cached in ``<out>/.cache`` (parsing is the slow part), so a rerun takes seconds.
"""

from __future__ import annotations

import logging
import pickle
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from video2music.model.dynamics_rule import DENSITY_ANCHORS, MOTION_ANCHORS, gaussian_smooth
from video2music.theory import vocab
from video2music.utils.errors import UserError
from video2music.utils.fileio import atomic_output

logger = logging.getLogger(__name__)

READER_VERSION = "music-v1"  # bump when reading scores changes, to invalidate the cache
QL_PER_SECOND = 2.0  # 120 bpm: a half note per second

# Chord matching weights (profiles are normalised to sum to 1).
MISSING_TONE_PENALTY = 0.15
BASS_ROOT_BONUS = 0.1
PASSING_SHARE = 0.15
QUALITY_PREFERENCE = (
    "maj", "min", "7", "min7", "dim", "dim7", "hdim7", "maj7", "sus4", "maj6", "min6", "sus2", "aug",
)  # fmt: skip

MOTION_CAP = 30.0
CUT_MOTION = 45.0  # the motion a hard cut gives (examples/testvideo.mp4: 87; fades stay < 10)

MIN_PHRASE_SECONDS = 3  # a boundary closer than this to the previous one is dropped
EMOTION_SMOOTH_SECONDS = 2.0  # Gaussian sigma
EMOTION_SHARPNESS = 3.0
DEFAULT_DYNAMIC = 0.6  # ~mf as a 0-1 level, when the score writes no dynamic

_SPLIT_SHARES = (0.8, 0.1)  # train, val; the rest is test


@dataclass(frozen=True)
class PieceSource:
    """Where one piece comes from: a score (notes), an analysis (chords), or both."""

    piece_id: str
    score: str | None  # music21 corpus path of the score
    analysis: str | None = None  # corpus path of a RomanText analysis
    opus_index: int | None = None  # which tune, for files that hold several


@dataclass
class PieceTimeline:
    """One piece as the model sees a video: per-second arrays, chords in C major / A minor."""

    piece_id: str
    key: str  # "C major" or "A minor": the normalised key
    original_key: str
    chords: np.ndarray  # (T,) int64 chord ids
    emotion: np.ndarray  # (T, 6) float32, rows sum to 1
    motion: np.ndarray  # (T,) float32, 0-255
    scene_offset: np.ndarray  # (T,) int64
    loudness: np.ndarray  # (T,) float32, 0-1
    note_density: np.ndarray  # (T,) float32, onsets per second

    @property
    def T(self) -> int:
        return len(self.chords)


# ----------------------------------------------------------------------------- chord matching


def _templates() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every chord but ``N``: its id, (12,) 0/1 pitch-class mask, root and tie-break rank."""
    ids = np.array([cid for cid in range(vocab.NUM_CHORDS) if cid != vocab.N_ID])
    masks = np.zeros((len(ids), 12))
    for row, cid in enumerate(ids):
        masks[row, vocab.chord_pitch_classes(int(cid))] = 1.0
    roots = np.array([vocab.chord_root(int(cid)) for cid in ids])
    ranks = np.array([QUALITY_PREFERENCE.index(vocab.chord_quality(int(cid))) for cid in ids])
    return ids, masks, roots, ranks


_IDS, _MASKS, _ROOTS, _RANKS = _templates()


def match_chord(
    weights: Sequence[float] | np.ndarray, bass: int | None = None, root: int | None = None
) -> int:
    """The vocabulary chord whose template best explains a pitch-class profile.

    ``weights`` (12,) are how much each pitch class sounds (any scale; normalised here).
    ``bass`` is the lowest pitch class, used as a tie-breaker between chords sharing their tones
    (C E G A: ``A:min7`` over A, ``C:maj6`` over C). ``root`` restricts the search to one root.
    An empty profile is ``N``.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (12,) or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be 12 finite non-negative numbers")
    total = w.sum()
    if total <= 0:
        return vocab.N_ID
    w = w / total
    inside = _MASKS @ w
    missing = _MASKS @ (w == 0)
    score = inside - (1.0 - inside) - MISSING_TONE_PENALTY * missing - 1e-4 * _RANKS
    if bass is not None:
        score = score + BASS_ROOT_BONUS * (bass % 12 == _ROOTS)
    if root is not None:
        score = np.where(root % 12 == _ROOTS, score, -np.inf)
    return int(_IDS[np.argmax(score)])


# ----------------------------------------------------------------------------- reading scores


@dataclass
class _Span:
    start: float  # quarter lengths
    end: float
    chord: int


@dataclass
class _Music:
    """What the derivation needs from a score, in quarter lengths."""

    length: float
    notes: list[tuple[float, float, int, bool]]  # (start, end, midi pitch, is an onset)
    n_voices: int
    dynamics: list[tuple[float, float]]  # (offset, level 0-1)
    boundaries: list[float]  # phrase ends (fermata ends, double/final barlines)
    chord_spans: list[_Span]  # from an analysis or chord symbols; empty -> recognise
    analysed_until: float  # where the written chords stop
    key: tuple[int, str]  # (tonic pitch class, "major"|"minor") of the piece


def _load_score(source: PieceSource):
    from music21 import corpus

    score = corpus.parse(source.score)
    if source.opus_index is not None:
        score = score.scores[source.opus_index]
    return score


def _read_music(source: PieceSource) -> _Music:
    from music21 import bar, converter, corpus, dynamics, expressions, harmony, roman

    score = _load_score(source)
    flat = score.flatten()
    notes: list[tuple[float, float, int, bool]] = []
    boundaries: list[float] = []
    for element in flat.notes:
        if isinstance(element, harmony.Harmony):
            continue
        start = float(element.offset)
        end = start + float(element.quarterLength)
        onset = element.tie is None or element.tie.type == "start"
        for pitch in element.pitches:
            notes.append((start, end, pitch.midi, onset))
        if any(isinstance(e, expressions.Fermata) for e in element.expressions):
            boundaries.append(end)
    for barline in score.recurse().getElementsByClass(bar.Barline):
        if barline.type in ("double", "final", "light-heavy", "heavy-light", "light-light"):
            boundaries.append(float(barline.getOffsetInHierarchy(score)))
    levels = [
        (float(d.getOffsetInHierarchy(score)), float(d.volumeScalar))
        for d in score.recurse().getElementsByClass(dynamics.Dynamic)
        if d.volumeScalar is not None
    ]
    parts = [p for p in score.parts if p.flatten().notes] if hasattr(score, "parts") else []
    length = float(score.highestTime)

    spans: list[_Span] = []
    key_durations: Counter = Counter()
    if source.analysis is not None:
        analysis = converter.parse(corpus.getWork(source.analysis))
        for rn in analysis.flatten().getElementsByClass(roman.RomanNumeral):
            start, end = float(rn.offset), float(rn.offset + rn.quarterLength)
            key_durations[(rn.key.tonic.pitchClass, rn.key.mode)] += end - start
            spans.append(_Span(start, end, _symbol_chord(rn)))
    else:
        symbols = list(flat.getElementsByClass(harmony.ChordSymbol))
        for i, symbol in enumerate(symbols):
            end = float(symbols[i + 1].offset) if i + 1 < len(symbols) else length
            if isinstance(symbol, harmony.NoChord):
                spans.append(_Span(float(symbol.offset), end, vocab.N_ID))
            elif symbol.pitches:
                spans.append(_Span(float(symbol.offset), end, _symbol_chord(symbol)))
    if key_durations:
        tonic, mode = key_durations.most_common(1)[0][0]
    else:
        estimate = score.analyze("key")
        tonic, mode = estimate.tonic.pitchClass, estimate.mode
    return _Music(
        length=length,
        notes=notes,
        n_voices=max(1, len(parts)),
        dynamics=sorted(levels),
        boundaries=sorted(set(boundaries)),
        chord_spans=spans,
        analysed_until=max((span.end for span in spans), default=0.0),
        key=(tonic, "minor" if mode == "minor" else "major"),
    )


def _symbol_chord(chord) -> int:
    """A written chord (roman numeral or chord symbol) as a vocabulary id, its root kept."""
    weights = np.zeros(12)
    for pitch in chord.pitches:
        weights[pitch.pitchClass] = 1.0
    bass = chord.bass()
    return match_chord(weights, bass.pitchClass if bass is not None else None, chord.root().pitchClass)


def _recognise_beats(music: _Music) -> list[_Span]:
    """Cut the score into quarter-note beats and name each beat's chord from its notes."""
    n_beats = int(np.ceil(music.length))
    weights = np.zeros((n_beats, 12))
    lowest = np.full(n_beats, 999)
    for start, end, pitch, _ in music.notes:
        for beat in range(int(start), min(n_beats, int(np.ceil(end)))):
            overlap = min(end, beat + 1) - max(start, beat)
            if overlap > 0:
                weights[beat, pitch % 12] += overlap
                lowest[beat] = min(lowest[beat], pitch)
    # A pitch class under PASSING_SHARE of the beat is a passing note, not a chord tone: without
    # this an eighth-note F# under G B D makes the beat G:maj7.
    weights[weights < PASSING_SHARE * weights.sum(axis=1, keepdims=True)] = 0.0
    spans = []
    for beat in range(n_beats):
        bass = int(lowest[beat]) % 12 if lowest[beat] < 999 else None
        spans.append(_Span(beat, beat + 1, match_chord(weights[beat], bass)))
    return spans


def majority_chords(
    spans: Iterable[tuple[float, float, int]], grid: np.ndarray, tie: float = 1e-9
) -> np.ndarray:
    """(S,) the chord covering most of each of the S steps between ``grid`` lines.

    ``spans`` are (start, end, chord id) in the grid's unit. Chords within ``tie`` of the most
    covering tie and the earliest-sounding of them wins (the downbeat); an overlap of at most
    ``tie`` does not count. ``N`` loses to any chord sounding in the same step, so a step is
    ``N`` only where nothing else is annotated.
    """
    grid = np.asarray(grid, dtype=np.float64)
    steps = len(grid) - 1
    cover = np.zeros((steps, vocab.NUM_CHORDS))
    first_seen = np.full((steps, vocab.NUM_CHORDS), np.inf)
    for start, end, chord in spans:
        first = max(0, int(np.searchsorted(grid, start, side="right")) - 1)
        for t in range(first, min(steps, int(np.searchsorted(grid, end, side="left")))):
            lo, hi = max(start, grid[t]), min(end, grid[t + 1])
            if hi - lo > tie:
                cover[t, chord] += hi - lo
                first_seen[t, chord] = min(first_seen[t, chord], lo)
    cover[:, vocab.N_ID] *= 1e-6
    chords = np.full(steps, vocab.N_ID, dtype=np.int64)
    for t in np.flatnonzero(cover.max(axis=1) > 0):
        best = np.flatnonzero(cover[t] >= cover[t].max() - tie)
        chords[t] = best[np.argmin(first_seen[t, best])]
    return chords


def _per_second_chords(spans: list[_Span], T: int) -> np.ndarray:
    """Each second takes the chord covering most of it; the earlier chord wins a tie."""
    return majority_chords(((s.start, s.end, s.chord) for s in spans), np.arange(T + 1) * QL_PER_SECOND)


# ----------------------------------------------------------------------------- per-second inputs


def emotion_from_chords(chords: np.ndarray, mode: str, onset_rate: np.ndarray) -> np.ndarray:
    """(T, 6) emotion probabilities derived from the music (the affective table inverted).

    Each second's chord quality votes equally for every emotion whose quality set contains it
    (``maj`` -> exciting and relaxing; ``min`` -> sad; ``N`` and qualities in no set ->
    neutral). The votes are smoothed with a Gaussian (sigma ``EMOTION_SMOOTH_SECONDS``), then
    mixed 50/20/30 with a mode prior and an arousal term: seconds busier than the corpus median
    (``DENSITY_ANCHORS[2]`` onsets/s) lean exciting/tense, calmer ones relaxing/sad; this is what
    separates exciting from relaxing, which major chords vote for alike. Finally the rows are
    sharpened (raised to ``EMOTION_SHARPNESS`` and renormalised): the video features' emotion is
    a softmax whose top label often holds 0.5-0.9, and flat training rows would not teach the
    model what a confident emotion means.
    """
    T = len(chords)
    votes = np.zeros((T, len(vocab.EMOTIONS)))
    neutral = vocab.EMOTIONS.index("neutral")
    for t, cid in enumerate(chords):
        quality = vocab.chord_quality(int(cid))
        hits = [e for e, name in enumerate(vocab.EMOTIONS) if quality in vocab.AFFECTIVE_QUALITIES[name]]
        votes[t, hits or [neutral]] = 1.0 / max(1, len(hits))
    smoothed = gaussian_smooth(votes, EMOTION_SMOOTH_SECONDS)
    # exciting, fearful, tense, sad, relaxing, neutral
    prior = np.array([0.2, 0.25, 0.15, 0.4, 0.0, 0.0] if mode == "minor" else [0.4, 0.0, 0.1, 0.0, 0.5, 0.0])
    rate = gaussian_smooth(onset_rate.astype(np.float64), EMOTION_SMOOTH_SECONDS)
    arousal = np.tanh((rate - DENSITY_ANCHORS[2]) / 3.0)  # -1 calm .. 1 busy
    up = np.array([0.6, 0.0, 0.4, 0.0, 0.0, 0.0])
    down = np.array([0.0, 0.0, 0.0, 0.4, 0.6, 0.0])
    aroused = np.where(arousal[:, None] > 0, arousal[:, None] * up, -arousal[:, None] * down)
    mixed = 0.5 * smoothed + 0.2 * prior + 0.3 * aroused + 0.03  # floor: no emotion is impossible
    mixed = (mixed / mixed.sum(axis=1, keepdims=True)) ** EMOTION_SHARPNESS
    return (mixed / mixed.sum(axis=1, keepdims=True)).astype(np.float32)


def motion_from_onsets(onset_rate: np.ndarray, phrase_starts: np.ndarray) -> np.ndarray:
    """Video-like motion (0-255) from note onsets per second, with a cut at each phrase start."""
    motion = np.interp(onset_rate, DENSITY_ANCHORS, MOTION_ANCHORS)
    motion = np.minimum(motion + np.maximum(onset_rate - DENSITY_ANCHORS[-1], 0), MOTION_CAP)
    motion[phrase_starts] = np.maximum(motion[phrase_starts], CUT_MOTION)
    motion[0] = 0.0  # as in video features: there is no frame before the first
    return motion.astype(np.float32)


def _phrase_starts(music: _Music, chords: np.ndarray, mode: str, T: int) -> list[int]:
    """Seconds that begin a new phrase (never 0), at least MIN_PHRASE_SECONDS apart."""
    ends = [b for b in music.boundaries if b < music.length - 1e-6]
    seconds = {int(b / QL_PER_SECOND + 0.5) for b in ends}
    fermatas_per_minute = 60 * len(ends) / max(1.0, music.length / QL_PER_SECOND)
    if fermatas_per_minute < 2:
        # Few marked phrase ends (madrigals, lead sheets): also cut after authentic cadences.
        tonic_root = 9 if mode == "minor" else 0
        dominant = vocab.chord_id(tonic_root + 7, "maj"), vocab.chord_id(tonic_root + 7, "7")
        for t in range(1, T - 1):
            if int(chords[t - 1]) in dominant and vocab.chord_root(int(chords[t])) == tonic_root:
                seconds.add(t + 1)
    starts, last = [], 0
    for t in sorted(seconds):
        if t - last >= MIN_PHRASE_SECONDS and t <= T - MIN_PHRASE_SECONDS:
            starts.append(t)
            last = t
    return starts


def derive_timeline(piece_id: str, music: _Music) -> PieceTimeline:
    """A piece's per-second chords and video-like inputs, from its score as read."""
    T = int(np.ceil(music.length / QL_PER_SECOND - 1e-9))
    if T < 2 * MIN_PHRASE_SECONDS:
        raise ValueError(f"{piece_id} is too short ({T} s)")
    chords = _per_second_chords(music.chord_spans or _recognise_beats(music), T)
    if music.chord_spans and music.analysed_until < music.length:
        unanalysed = np.arange(T) * QL_PER_SECOND >= music.analysed_until
        chords[unanalysed] = _per_second_chords(_recognise_beats(music), T)[unanalysed]
    tonic, mode = music.key
    shift = tonic - (9 if mode == "minor" else 0)
    chords = np.array([vocab.transpose_chord(int(c), -shift) for c in chords])

    onsets = np.zeros(T)
    sounding = np.zeros(T)
    for start, end, _, onset in music.notes:
        t = min(T - 1, int(start // QL_PER_SECOND))
        onsets[t] += onset
        t0, t1 = int(start // QL_PER_SECOND), min(T, int(np.ceil(end / QL_PER_SECOND)))
        for s in range(t0, t1):
            lo, hi = max(start, s * QL_PER_SECOND), min(end, (s + 1) * QL_PER_SECOND)
            sounding[s] += max(0.0, hi - lo) / QL_PER_SECOND
    level = np.full(T, DEFAULT_DYNAMIC)
    for offset, value in music.dynamics:
        level[min(T - 1, int(offset // QL_PER_SECOND)) :] = value
    voices = np.minimum(sounding / music.n_voices, 1.0)
    activity = np.minimum(onsets / (2.0 * music.n_voices), 1.0)  # a quarter note per voice = 1
    loudness = np.clip(level * (0.3 + 0.5 * voices + 0.2 * activity), 0.0, 1.0)
    loudness[sounding == 0] = 0.0

    starts = _phrase_starts(music, chords, mode, T)
    scene_offset = np.zeros(T, dtype=np.int64)
    for t in range(1, T):
        scene_offset[t] = 0 if t in starts else scene_offset[t - 1] + 1
    key = vocab.Key(9 if mode == "minor" else 0, mode)
    return PieceTimeline(
        piece_id=piece_id,
        key=key.name,
        original_key=vocab.Key(tonic % 12, mode).name,
        chords=chords.astype(np.int64),
        emotion=emotion_from_chords(chords, mode, onsets),
        motion=motion_from_onsets(onsets, np.array(starts, dtype=np.int64)),
        scene_offset=scene_offset,
        loudness=loudness.astype(np.float32),
        note_density=onsets.astype(np.float32),
    )


# ----------------------------------------------------------------------------- the corpus


def list_sources() -> list[PieceSource]:
    """Every piece of the built-in corpus, in a fixed order."""
    from music21 import corpus

    root = Path(corpus.getWork("bach/bwv269")).parent.parent
    analyses: dict[str, str] = {}
    for path in sorted((root / "bach" / "choraleAnalyses").glob("*.rntxt")):
        match = re.search(r"^BWV:\s*([\w.]+)", path.read_text(encoding="utf-8", errors="replace"), re.M)
        if match:
            analyses[f"bach/bwv{match.group(1)}"] = f"bach/choraleAnalyses/{path.name}"
    sources = []
    # The Riemenschneider numbering lists a few chorales twice; each piece is used once.
    for name in dict.fromkeys(corpus.chorales.Iterator(returnType="filename")):
        sources.append(PieceSource(f"chorale-{Path(name).name}", name, analyses.get(name)))
    for path in sorted((root / "monteverdi").glob("*.rntxt")):
        if path.with_suffix(".mxl").exists():
            stem = path.stem
            sources.append(
                PieceSource(f"monteverdi-{stem}", f"monteverdi/{stem}.mxl", f"monteverdi/{path.name}")
            )
    for path in sorted((root / "leadSheet").glob("*.mxl")):
        sources.append(PieceSource(f"leadsheet-{path.stem}", f"leadSheet/{path.name}"))
    for path in sorted((root / "nottingham-dataset").glob("*.abc")):
        tunes = len(re.findall(r"^X:", path.read_text(encoding="utf-8", errors="replace"), re.M))
        for i in range(tunes):
            sources.append(
                PieceSource(f"nottingham-{path.stem}-{i}", f"nottingham-dataset/{path.name}", None, i)
            )
    return sources


def split_ids(ids: Sequence[str], seed: int = 0) -> dict[str, list[str]]:
    """Train/val/test by piece (80/10/10, at least one piece each), shuffled with a fixed seed."""
    order = sorted(ids)
    if len(order) < 3:
        raise UserError(f"a train/val/test split needs at least 3 pieces, got {len(order)}")
    np.random.default_rng(seed).shuffle(order)
    n_val = max(1, int(round(_SPLIT_SHARES[1] * len(order))))
    n_test = max(1, int(round((1 - sum(_SPLIT_SHARES)) * len(order))))
    n_train = len(order) - n_val - n_test
    return {
        "train": sorted(order[:n_train]),
        "val": sorted(order[n_train : n_train + n_val]),
        "test": sorted(order[n_train + n_val :]),
    }


def _read_cached(args: tuple[PieceSource, Path]) -> _Music | str:
    """Worker: a piece's score as read (parsing is the slow part, so that is what is cached),
    or a message when the piece cannot be read."""
    source, cache = args
    path = cache / f"{source.piece_id}.{READER_VERSION}.pkl"
    if path.exists():
        with open(path, "rb") as handle:
            return pickle.load(handle)
    try:
        music = _read_music(source)
    except Exception as error:  # a malformed score is skipped, not fatal to the corpus
        return f"{source.piece_id}: {type(error).__name__}: {error}"
    with atomic_output(path, overwrite=True) as tmp, open(tmp, "wb") as handle:
        pickle.dump(music, handle)
    return music


def build_timelines(
    sources: Sequence[PieceSource], cache: Path, jobs: int = 1, progress_bars: bool = True
) -> list[PieceTimeline]:
    """Read (or load from ``cache``) every piece in ``jobs`` processes and derive its timeline."""
    cache.mkdir(parents=True, exist_ok=True)
    work = [(s, cache) for s in sources]
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            read = list(tqdm(pool.map(_read_cached, work), total=len(work), disable=not progress_bars))
    else:
        read = [_read_cached(w) for w in tqdm(work, disable=not progress_bars)]
    timelines = []
    for source, music in zip(sources, read, strict=True):
        if isinstance(music, str):
            logger.warning("skipped %s", music)
            continue
        try:
            timelines.append(derive_timeline(source.piece_id, music))
        except ValueError as error:
            logger.warning("skipped %s", error)
    return timelines


def to_muvisync(timeline: PieceTimeline):
    """The timeline as a data.muvisync record (no semantic features: there is no video)."""
    from video2music.data.muvisync import MuViSyncVideo

    return MuViSyncVideo(
        video_id=timeline.piece_id,
        key=timeline.key,
        chords=timeline.chords,
        emotion=timeline.emotion,
        motion=timeline.motion,
        scene_offset=timeline.scene_offset,
        loudness=timeline.loudness,
        note_density=timeline.note_density,
        semantic=None,
    )


def summarise(timelines: Sequence[PieceTimeline]) -> str:
    """Pieces, seconds and the chord distribution, for logs and the model card."""
    chords = np.concatenate([t.chords for t in timelines]) if timelines else np.zeros(0, dtype=np.int64)
    qualities = Counter(vocab.chord_quality(int(c)) or "N" for c in chords)
    labels = Counter(vocab.chord_label(int(c)) for c in chords)
    minor = sum(1 for t in timelines if t.key == "A minor")
    total = max(1, len(chords))
    return "\n".join(
        [
            f"{len(timelines)} pieces ({minor} minor), {len(chords)} seconds",
            "qualities: " + ", ".join(f"{q} {100 * n / total:.1f}%" for q, n in qualities.most_common()),
            "top chords: " + ", ".join(f"{c} {100 * n / total:.1f}%" for c, n in labels.most_common(12)),
            f"distinct chords: {len(labels)}",
        ]
    )


def build_corpus(
    out: Path,
    jobs: int = 1,
    seed: int = 0,
    progress_bars: bool = True,
    sources: Sequence[PieceSource] | None = None,
) -> list[PieceTimeline]:
    """Build the corpus (``sources``, default every piece of ``list_sources``) into ``out`` in the
    MuVi-Sync layout, split by piece; returns the timelines."""
    from video2music.data.muvisync import write_split, write_video

    sources = list_sources() if sources is None else sources
    timelines = build_timelines(sources, out / ".cache", jobs=jobs, progress_bars=progress_bars)
    if not timelines:
        raise UserError("no piece of music21's corpus could be read; check the music21 installation")
    for timeline in timelines:
        write_video(out, to_muvisync(timeline), overwrite=True)
    for split, ids in split_ids([t.piece_id for t in timelines], seed).items():
        write_split(out, split, ids, overwrite=True)
    return timelines
