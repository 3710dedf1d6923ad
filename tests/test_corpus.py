"""The built-in corpus from music21's scores, and the checkpoints trained on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from video2music.commands.corpus import main as corpus_main
from video2music.data import music21_corpus as corpus
from video2music.data.muvisync import read_split, read_split_ids
from video2music.theory import vocab
from video2music.utils.errors import UserError

# Bach, "Aus meines Herzens Grunde" (BWV 269, G major, 3/4) with its RomanText analysis
# (riemenschneider001.rntxt); Bach BWV 433 (G major, 4/4), no analysis: chords recognised from
# the notes; Foster's "Jeanie with the Light Brown Hair" (F major), chords from its chord symbols.
CHORALE = corpus.PieceSource("chorale-bwv269", "bach/bwv269", "bach/choraleAnalyses/riemenschneider001.rntxt")
RECOGNISED = corpus.PieceSource("chorale-bwv433", "bach/bwv433")
LEAD_SHEET = corpus.PieceSource("leadsheet-fosterBrownHair", "leadSheet/fosterBrownHair.mxl")
SAVED = Path(__file__).resolve().parent.parent / "saved_models"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, dict[str, corpus.PieceTimeline]]:
    out = tmp_path_factory.mktemp("corpus")
    timelines = corpus.build_corpus(out, progress_bars=False, sources=[CHORALE, RECOGNISED, LEAD_SHEET])
    return out, {t.piece_id: t for t in timelines}


def labels(timeline: corpus.PieceTimeline, seconds: slice) -> list[str]:
    return [vocab.chord_label(int(c)) for c in timeline.chords[seconds]]


def test_written_files_are_accepted_by_the_muvisync_reader(built):
    out, timelines = built
    read = {v.video_id: v for split in ("train", "val", "test") for v in read_split(out, split)}
    assert set(read) == set(timelines) == {CHORALE.piece_id, RECOGNISED.piece_id, LEAD_SHEET.piece_id}
    for piece_id, video in read.items():
        timeline = timelines[piece_id]
        assert video.key == timeline.key and video.semantic is None
        assert np.array_equal(video.chords, timeline.chords)
        assert np.array_equal(video.scene_offset, timeline.scene_offset)
        assert np.allclose(video.emotion, timeline.emotion, atol=1e-5)
        assert np.allclose(video.motion, timeline.motion, atol=1e-3)


def test_analysed_chorale_chords_at_known_places(built):
    """BWV 269 in G major, normalised to C major (everything down a fifth). The analysis reads
    m0 b3 I | m1 (I) b2 IV6 b3 V6 | m2 I b2 V b3 vi | m3 IV ...: second 0 (quarters 0-2) is I,
    second 1 is IV then V6 (IV on the downbeat wins the tie), second 2 I then V (I), second 3
    vi then IV (vi)."""
    timeline = built[1][CHORALE.piece_id]
    assert timeline.original_key == "G major" and timeline.key == "C major"
    assert labels(timeline, slice(0, 4)) == ["C", "F", "C", "A:min"]
    assert timeline.T == 32  # 63 quarter notes at a half note per second


def test_recognised_chorale_chords_at_known_places(built):
    """BWV 433 by eye: quarter rest, then G B D G (an eighth F# passing in the bass) -> G;
    quarters 2-4 are E B G E (E minor) then D A D F# (D major): the downbeat's E minor takes the
    second; quarters 4-6 hold G D G B (G); quarter 6 is a rest, then G D G B again."""
    timeline = built[1][RECOGNISED.piece_id]
    assert timeline.original_key == "G major"
    assert labels(timeline, slice(0, 4)) == ["C", "A:min", "C", "C"]
    assert vocab.N_ID not in timeline.chords[:4]  # a rest beside a chord never makes the second N


def test_lead_sheet_chords_follow_the_symbols(built):
    """Chord symbols: F at quarter 4 (second 2), Bb at quarter 8 (second 4); F major -> C major.
    The pickup has no symbol, so the first seconds have no chord."""
    timeline = built[1][LEAD_SHEET.piece_id]
    assert timeline.original_key == "F major"
    assert labels(timeline, slice(0, 6)) == ["N", "N", "C", "C", "F", "F"]


def test_scene_offsets_reset_after_fermatas(built):
    """BWV 269's phrase-ending fermatas end at quarters 12, 21, 30, 42 and 54 (the last, at 63,
    ends the piece): new phrases start at seconds 6, 11 (10.5 rounded up), 15, 21 and 27."""
    timeline = built[1][CHORALE.piece_id]
    assert np.flatnonzero(timeline.scene_offset == 0).tolist() == [0, 6, 11, 15, 21, 27]
    assert np.all(np.diff(timeline.scene_offset)[timeline.scene_offset[1:] != 0] == 1)
    starts = np.flatnonzero(timeline.scene_offset == 0)[1:]
    assert np.all(timeline.motion[starts] == corpus.CUT_MOTION)  # a phrase start looks like a cut


def test_inputs_are_in_the_units_of_video_features(built):
    for timeline in built[1].values():
        assert np.allclose(timeline.emotion.sum(axis=1), 1.0, atol=1e-5)
        assert timeline.emotion.min() > 0
        assert timeline.motion[0] == 0 and timeline.motion.min() >= 0 and timeline.motion.max() <= 255
        assert np.all((timeline.loudness >= 0) & (timeline.loudness <= 1))
        assert timeline.note_density.max() > 0
    chorale = built[1][CHORALE.piece_id]
    # a four-voice chorale in quarter notes: about 2 onsets per voice per second
    assert 5 <= np.median(chorale.note_density) <= 10


def test_emotion_follows_the_chords_and_mode():
    major = np.full(20, vocab.parse_chord("C"))
    minor = np.full(20, vocab.parse_chord("Am"))
    rate = np.full(20, 7.0)
    names = list(vocab.EMOTIONS)
    happy = corpus.emotion_from_chords(major, "major", rate).mean(axis=0)
    sad = corpus.emotion_from_chords(minor, "minor", rate).mean(axis=0)
    assert sad[names.index("sad")] > 0.5 > happy[names.index("sad")]
    assert happy[names.index("exciting")] + happy[names.index("relaxing")] > 0.8
    busy = corpus.emotion_from_chords(major, "major", np.full(20, 12.0)).mean(axis=0)
    calm = corpus.emotion_from_chords(major, "major", np.full(20, 2.0)).mean(axis=0)
    assert busy[names.index("exciting")] > 0.6 and calm[names.index("relaxing")] > 0.6


@pytest.mark.parametrize(
    ("tones", "bass", "root", "expected"),
    [
        ("C E G", None, None, "C"),
        ("C E G Bb", None, None, "C:7"),
        ("A C E G", 9, None, "A:min7"),
        ("A C E G", 0, None, "C:maj6"),
        ("B D F", None, None, "B:dim"),
        ("B D F Ab", 11, None, "B:dim7"),  # symmetric: only the bass names the root
        ("C E", 0, None, "C"),  # no fifth: the bass decides between C and A minor
        ("C E", 9, None, "A:min"),
        ("D G", 7, 7, "G"),  # an open fifth on a known root
        ("", None, None, "N"),
    ],
)
def test_match_chord(tones, bass, root, expected):
    weights = np.zeros(12)
    for name in tones.split():
        weights[vocab.chord_root(vocab.parse_chord(name))] = 1.0
    assert vocab.chord_label(corpus.match_chord(weights, bass, root)) == expected


def test_split_is_by_piece_seeded_and_complete():
    ids = [f"piece-{i}" for i in range(50)]
    split = corpus.split_ids(ids, seed=0)
    assert split == corpus.split_ids(list(reversed(ids)), seed=0)
    assert [len(split[s]) for s in ("train", "val", "test")] == [40, 5, 5]
    assert sorted(sum(split.values(), [])) == sorted(ids)
    assert split != corpus.split_ids(ids, seed=1)
    with pytest.raises(UserError, match="at least 3 pieces"):
        corpus.split_ids(ids[:2])


def test_sources_cover_the_music21_corpus():
    sources = corpus.list_sources()
    ids = [s.piece_id for s in sources]
    assert len(ids) == len(set(ids)) > 350
    assert sum(s.piece_id.startswith("chorale-") for s in sources) > 300
    assert sum(s.analysis is not None for s in sources) >= 60  # chorale and madrigal analyses
    assert CHORALE in sources


def test_cli_rejects_bad_arguments(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert corpus_main(["--out", str(blocker)]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert corpus_main(["--out", str(tmp_path / "new"), "--jobs", "0"]) == 2


@pytest.mark.parametrize("name", ["chorale", "debug"])
def test_shipped_checkpoints_load_with_their_declared_inputs(name):
    from video2music.model.checkpoint import load_checkpoint

    path = SAVED / name / "amt.pt"
    assert path.stat().st_size < (1 << 20 if name == "debug" else 30 << 20)
    checkpoint = load_checkpoint(path)
    assert checkpoint.kind == "amt"
    assert tuple(checkpoint.config.inputs) == ("scene_offset", "motion", "emotion")
    card = (SAVED / name / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "Hits@1" in card and "music21" in card


def test_split_files_list_every_piece(built):
    out, timelines = built
    listed = [i for split in ("train", "val", "test") for i in read_split_ids(out, split)]
    assert sorted(listed) == sorted(timelines)
