"""Metrics, checked against values worked out by hand, and the evaluate.py command on generated output."""

import json
import logging
import math

import numpy as np
import pytest
import torch

from video2music.analysis.evaluation import (
    CutChordF1,
    chord_changes,
    chord_entropy,
    cut_chord_f1,
    emotion_agreement,
    evaluate_generated,
    repetition_rate,
)
from video2music.commands.evaluate import main as evaluate_main
from video2music.theory import vocab
from video2music.training.tasks import ChordBaselines, evaluate_split, hits_at_k

C, G, A_MIN, B_DIM, C_MAJ7 = (vocab.parse_chord(c) for c in ("C", "G", "A:min", "B:dim", "C:maj7"))


def one_hot_emotion(names, strength=0.9):
    rows = np.full((len(names), 6), (1 - strength) / 5)
    for t, name in enumerate(names):
        rows[t, vocab.EMOTIONS.index(name)] = strength
    return rows


def test_cut_chord_f1_matches_one_to_one_within_tolerance():
    result = cut_chord_f1([5, 10], [4, 10, 15])
    assert (result.matched, result.cuts, result.changes) == (2, 2, 3)
    assert (
        result.precision == pytest.approx(2 / 3) and result.recall == 1.0 and result.f1 == pytest.approx(0.8)
    )
    assert cut_chord_f1([5], [4, 6]).matched == 1  # one change per cut
    assert cut_chord_f1([5, 6], [5]).f1 == pytest.approx(2 / 3)
    assert cut_chord_f1([5], [7]).matched == 0 and cut_chord_f1([5], [7], tolerance=2).matched == 1
    assert cut_chord_f1([3.4], [4]).matched == 1  # cut times may be fractional
    assert math.isnan(cut_chord_f1([], []).f1) and cut_chord_f1([], [3]).f1 == 0.0
    total = CutChordF1(1, 2, 2) + CutChordF1(3, 3, 5)
    assert (total.matched, total.cuts, total.changes) == (4, 5, 7)


def test_emotion_agreement_counts_only_confident_non_neutral_seconds():
    emotion = one_hot_emotion(["sad", "sad", "exciting", "neutral", "relaxing", "fearful"])
    emotion[5] = one_hot_emotion(["fearful"], strength=0.5)[0]  # not confident: left out
    chords = [A_MIN, C, G, B_DIM, C_MAJ7, C]
    # sad: A:min fits, C does not; exciting: G fits; neutral: left out; relaxing: C:maj7 fits
    assert emotion_agreement(chords, emotion) == pytest.approx(3 / 4)
    assert math.isnan(emotion_agreement([C], one_hot_emotion(["neutral"])))
    assert emotion_agreement([vocab.N_ID], one_hot_emotion(["sad"])) == 0.0


def test_changes_entropy_and_repetition():
    chords = [C, C, G, G, A_MIN, C]
    assert chord_changes(chords) == [2, 4, 5]
    assert chord_entropy([C] * 8) == 0.0
    assert chord_entropy([C, G] * 4) == pytest.approx(1.0)
    assert chord_entropy([C, G, A_MIN, B_DIM]) == pytest.approx(2.0)
    assert repetition_rate(chords) == pytest.approx(2 / 5)
    assert math.isnan(repetition_rate([C]))


def test_hits_at_k_ignores_padding():
    logits = torch.tensor([[[0.0, 5, 4, 3, 2, 1, -1], [9, 1, 2, 3, 4, 5, 6], [0, 1, 2, 3, 4, 5, 6]]])
    logits = torch.nn.functional.pad(logits, (0, vocab.VOCAB_SIZE - 7), value=-9)
    targets = torch.tensor([[1, 6, vocab.PAD_ID]])
    # position 0: id 1 is top-1; position 1: id 6 ranks 2nd; position 2 is padding
    assert hits_at_k(logits, targets) == {1: 1, 3: 2, 5: 2}


def write_result(path, chords, emotion_names, scene_offset):
    path.write_text(
        json.dumps(
            {
                "chord_ids_normalised": chords,
                "emotion": one_hot_emotion(emotion_names).tolist(),
                "scene_offset": scene_offset,
                "chords": [vocab.chord_label(c) for c in chords],
            }
        )
    )


def test_evaluate_generated_folder_and_command(tmp_path, capsys, caplog):
    folder = tmp_path / "out"
    folder.mkdir()
    # a: cuts at 2 and 4, changes at 2 and 5 (both match within 1 s); sad chords on sad seconds
    write_result(folder / "a.json", [A_MIN, A_MIN, C, C, C, G], ["sad"] * 6, [0, 1, 0, 1, 0, 1])
    # b: no cut, one change at 1; exciting seconds, C fits and A:min does not
    write_result(folder / "b.json", [C, A_MIN, A_MIN], ["exciting"] * 3, [0, 1, 2])
    results = evaluate_generated(folder)
    overall = results["overall"]
    assert overall["videos"] == 2 and overall["seconds"] == 9
    assert overall["cut_chord_recall"] == 1.0 and overall["cut_chord_precision"] == pytest.approx(2 / 3)
    assert overall["cut_chord_f1"] == pytest.approx(0.8)
    assert overall["emotion_agreement"] == pytest.approx(3 / 9)  # 2 of 6 sad, 1 of 3 exciting
    assert results["videos"][1]["cut_chord_f1"] == 0.0  # one change, no cut

    out_json = tmp_path / "metrics" / "m.json"
    assert evaluate_main(["--generated", str(folder), "--json", str(out_json)]) == 0
    assert "cut_chord_f1" in capsys.readouterr().out
    assert json.loads(out_json.read_text())["overall"]["cut_chord_f1"] == pytest.approx(0.8)
    assert evaluate_main(["--generated", str(folder), "--json", str(out_json)]) == 2  # no overwrite
    assert "already exists" in capsys.readouterr().err

    # Another JSON (the metrics, say) is skipped with a warning; results in subfolders (one per
    # take) count too, named by their path.
    (folder / "metrics.json").write_text('{"chords": []}')
    take = folder / "take2"
    take.mkdir()
    write_result(take / "a.json", [C, G, G], ["sad"] * 3, [0, 1, 2])
    with caplog.at_level(logging.WARNING, logger="video2music"):
        assert evaluate_main(["--generated", str(folder), "--json", str(tmp_path / "all.json")]) == 0
    assert "metrics.json is not a result file of generate.py ('chord_ids_normalised'); skipped" in caplog.text
    written = json.loads((tmp_path / "all.json").read_text())
    assert [v["name"] for v in written["videos"]] == ["a", "b", "take2/a"]

    empty = tmp_path / "empty"
    (empty / "clips").mkdir(parents=True)
    assert evaluate_main(["--generated", str(empty)]) == 2
    err = capsys.readouterr().err
    assert "no result of generate.py (NAME.json) in" in err and "--json" not in err
    assert evaluate_main([]) == 2


def test_a_metric_with_nothing_to_count_reads_n_a_and_says_why(tmp_path, capsys, caplog):
    # Soft emotions (the basic backend's, as on the sample): no second reaches the 0.8 the
    # agreement counts from.
    folder = tmp_path / "out"
    folder.mkdir()
    soft = np.full((4, 6), 0.1)
    soft[:, vocab.EMOTIONS.index("sad")] = 0.5
    (folder / "clip.json").write_text(
        json.dumps(
            {"chord_ids_normalised": [A_MIN] * 4, "emotion": soft.tolist(), "scene_offset": [0, 1, 2, 3]}
        )
    )
    with caplog.at_level(logging.INFO, logger="video2music"):
        assert evaluate_main(["--generated", str(folder), "--json", str(tmp_path / "m.json")]) == 0
    table = capsys.readouterr().out
    assert "emotion_agreement    n/a" in table and "nan" not in table
    assert "no second here has one" in caplog.text
    assert json.loads((tmp_path / "m.json").read_text())["overall"]["emotion_agreement"] is None


def test_a_json_output_that_is_a_folder_is_refused_before_the_work(tmp_path, capsys, monkeypatch):
    from video2music.analysis import evaluation

    monkeypatch.setattr(evaluation, "evaluate_generated", lambda folder: pytest.fail("the work ran"))
    folder = tmp_path / "metrics"
    folder.mkdir()
    assert evaluate_main(["--generated", str(tmp_path), "--json", str(folder), "--overwrite"]) == 2
    assert f"{folder} is a folder; give a file name" in capsys.readouterr().err


def corpus_video(video_id: str, chords: list[int]):
    from video2music.data.muvisync import MuViSyncVideo

    T = len(chords)
    rng = np.random.default_rng(T)
    return MuViSyncVideo(
        video_id=video_id,
        key="C major",
        chords=np.array(chords, dtype=np.int64),
        emotion=np.full((T, 6), 1 / 6, dtype=np.float32),
        motion=rng.uniform(0, 10, T).astype(np.float32),
        scene_offset=np.arange(T, dtype=np.int64) % 4,
        loudness=np.full(T, 0.3, dtype=np.float32),
        note_density=np.full(T, 4.0, dtype=np.float32),
    )


def test_chord_baselines_rank_as_counted():
    baselines = ChordBaselines.fit([corpus_video("a", [C, C, G, C, G]), corpus_video("b", [G, A_MIN])])
    assert baselines.bigram[C, G] == 2 and baselines.bigram[C, C] == 1 and baselines.bigram[G, A_MIN] == 1
    previous = torch.tensor([C, G, B_DIM])
    bigram = baselines.scores("bigram", previous).topk(2).indices.tolist()
    # after C: G (twice) then C (once); after G: C and A:min once each, C more frequent overall;
    # after B:dim (never seen): the most frequent chords, C and G (3 each)
    assert bigram[0] == [G, C] and bigram[1] == [C, A_MIN] and set(bigram[2]) == {C, G}
    repeat = baselines.scores("repeat", previous).topk(2).indices.tolist()
    assert [r[0] for r in repeat] == [C, G, B_DIM] and repeat[0][1] == G and repeat[1][1] == C


def test_split_metrics_with_baselines_on_change_seconds(tmp_path, capsys):
    from video2music.data.muvisync import write_split, write_video
    from video2music.model.checkpoint import load_any, resolve_checkpoint

    train = [corpus_video(f"train{i}", [C, G, C, G, C, G, A_MIN, A_MIN]) for i in range(3)]
    test = [corpus_video("test0", [C, C, G, C, G, G])]
    checkpoint = load_any(resolve_checkpoint("debug"), kind="amt")
    metrics = evaluate_split(checkpoint, test, baselines=ChordBaselines.fit(train))
    # targets C G C G G after C C G C G: 2 repeats, 3 changes
    assert metrics["targets"] == 5 and metrics["change_targets"] == 3
    assert metrics["repeat_hits@1"] == pytest.approx(2 / 5) and metrics["repeat_hits@1_change"] == 0.0
    # bigram: after C guess G, after G guess C: hits on G (after C), C (after G), G (after C)
    assert metrics["bigram_hits@1"] == pytest.approx(3 / 5) and metrics["bigram_hits@1_change"] == 1.0
    assert 0.0 <= metrics["hits@1_change"] <= metrics["hits@5_change"] <= 1.0

    root = tmp_path / "corpus"
    for video in train + test:
        write_video(root, video)
    write_split(root, "train", [v.video_id for v in train])
    write_split(root, "test", ["test0"])
    out = tmp_path / "m.json"
    args = [
        "--checkpoint",
        str(resolve_checkpoint("debug")),
        "--data",
        str(root),
        "--baselines",
        "--json",
        str(out),
    ]
    assert evaluate_main([*args, "--no-progress"]) == 0
    assert "bigram_hits@1_change" in capsys.readouterr().out
    (scored,) = json.loads(out.read_text())["models"].values()
    assert scored["bigram_hits@1"] == pytest.approx(3 / 5) and scored["hits@1"] == metrics["hits@1"]


def test_evaluate_generated_reports_the_song_form_metrics_of_the_midi_beside(tmp_path):
    from video2music.compose.arrange import arrange
    from video2music.compose.arrangement import write_midi
    from video2music.compose.melody import MelodyNote
    from video2music.theory.form import Form, Section, numbered

    folder = tmp_path / "out"
    folder.mkdir()
    chords = [C, C, A_MIN, A_MIN, C, C, G, G] * 2  # 8 bars at 120 bpm, 16 s
    write_result(folder / "song.json", chords, ["sad"] * 16, list(range(16)))
    motif = [MelodyNote(72, 0, 4), MelodyNote(74, 4, 8), MelodyNote(76, 8, 16), MelodyNote(72, 16, 24)]
    melody = [MelodyNote(n.pitch, n.start + 64 * k, n.end + 64 * k) for k in range(2) for n in motif]
    form = Form(numbered([Section("verse", 0, 4), Section("chorus", 4, 4)]))
    write_midi(arrange(chords, 8.0, 0.2, "C major", melody=melody, form=form), folder / "song.mid")
    overall = evaluate_generated(folder)["overall"]
    assert overall["median_sections"] == 2
    # Windows from bars 0, 1, 3, 4 and 5 hold notes; all but the one from bar 3 (an empty bar, then
    # the motif) recur: the motif comes back.
    assert overall["median_motif_reuse_2"] == pytest.approx(0.8)
    assert overall["median_melody_below"] == 0.0
    assert overall["median_phrase_beats"] == pytest.approx(6.0)
