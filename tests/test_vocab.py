import mido
import pytest
from hypothesis import given
from hypothesis import strategies as st

from video2music.theory import vocab
from video2music.utils.errors import UserError

chord_ids = st.integers(min_value=0, max_value=vocab.NUM_CHORDS - 1)
keys = st.builds(vocab.Key, tonic=st.integers(0, 11), mode=st.sampled_from(["major", "minor"]))


def test_vocabulary_layout_matches_muvisync():
    assert vocab.VOCAB_SIZE == 159 and vocab.END_ID == 157 and vocab.PAD_ID == 158
    assert vocab.parse_chord("N") == 0
    assert vocab.parse_chord("C") == 1
    assert vocab.parse_chord("C:maj7") == 13
    assert vocab.parse_chord("C#") == 14
    assert vocab.parse_chord("B:maj7") == 156
    assert vocab.chord_id(9, "min") == 1 + 13 * 9 + 4


@pytest.mark.parametrize(
    ("symbol", "label", "pitch_classes"),
    [
        ("C", "C", [0, 4, 7]),
        ("Am", "A:min", [9, 0, 4]),
        ("Bb", "A#", [10, 2, 5]),
        ("F#m7", "F#:min7", [6, 9, 1, 4]),
        ("Gmaj7", "G:maj7", [7, 11, 2, 6]),
        ("G7", "G:7", [7, 11, 2, 5]),
        ("Edim", "E:dim", [4, 7, 10]),
        ("Bm7b5", "B:hdim7", [11, 2, 5, 9]),
        ("Cdim7", "C:dim7", [0, 3, 6, 9]),
        ("Csus4", "C:sus4", [0, 5, 7]),
        ("Csus2", "C:sus2", [0, 2, 7]),
        ("Caug", "C:aug", [0, 4, 8]),
        ("C6", "C:maj6", [0, 4, 7, 9]),
        ("Cm6", "C:min6", [0, 3, 7, 9]),
        ("C:min7", "C:min7", [0, 3, 7, 10]),
        ("Db/F", "C#", [1, 5, 8]),
        ("N", "N", []),
    ],
)
def test_parses_symbols_people_type(symbol, label, pitch_classes):
    cid = vocab.parse_chord(symbol)
    assert vocab.chord_label(cid) == label
    assert vocab.chord_pitch_classes(cid) == pitch_classes


def test_progression_accepts_spaces_commas_and_bars():
    assert vocab.parse_progression("C Am | F, G") == [1, 122, 66, 92]


@pytest.mark.parametrize("bad", ["H", "Cxyz", "C:foo", "7", "", "Cmaj9"])
def test_unknown_symbol_names_it_and_the_accepted_forms(bad):
    with pytest.raises(UserError) as info:
        vocab.parse_chord(bad)
    message = str(info.value)
    assert repr(bad) in message and "m7b5" in message and "\n" not in message


def test_spellings_use_the_right_letters():
    assert vocab.chord_note_names(vocab.parse_chord("Cdim7")) == ["C", "Eb", "Gb", "Bbb"]
    assert vocab.chord_note_names(vocab.parse_chord("A#")) == ["Bb", "D", "F"]
    assert vocab.chord_note_names(vocab.parse_chord("C#")) == ["Db", "F", "Ab"]
    assert vocab.chord_note_names(vocab.parse_chord("F#")) == ["F#", "A#", "C#"]  # a tie keeps sharps
    f_major = vocab.parse_key("F major")
    assert vocab.chord_label(vocab.parse_chord("A#"), f_major) == "Bb"
    assert vocab.chord_label(vocab.parse_chord("A#:min7"), vocab.parse_key("E major")) == "A#:min7"


@pytest.mark.parametrize(
    ("symbol", "key", "written"),
    [
        ("A:min", "C major", "Am"),
        ("C:min7", "Bb major", "Cm7"),
        ("B:hdim7", "C major", "Bm7b5"),
        ("F:maj7", "C major", "Fmaj7"),
        ("C:maj6", "C major", "C6"),
        ("C:sus4", "C major", "Csus4"),
        ("F:dim", "F# minor", "E#dim"),  # the leading-tone diminished chord, not F:dim
        ("F:maj7", "F# minor", "Fmaj7"),  # not in the key: not E#maj7, whose third is G##
        ("A#", "F# minor", "Bb"),  # not A# C## E#
        ("D#:7", "G# minor", "D#7"),  # the dominant keeps its letter, F## and all
        ("G:dim", "G# minor", "F##dim"),
        ("A#:7", "F major", "Bb7"),
        ("G#", "C major", "Ab"),  # bVI
        ("F#", "C major", "F#"),  # #IV
        ("A#", "D minor", "Bb"),
        ("C#", "C minor", "Db"),  # the Neapolitan
        ("C#:dim7", "D minor", "C#dim7"),
        ("N", "C major", "N"),
    ],
)
def test_chord_symbols_are_written_as_musicians_write_them(symbol, key, written):
    cid = vocab.parse_chord(symbol)
    assert vocab.chord_symbol(cid, vocab.parse_key(key)) == written
    assert vocab.parse_chord(written) == cid


def _music21_scale(key: vocab.Key) -> list[str]:
    """The key's seven scale degrees as music21 spells them (harmonic minor: raised seventh)."""
    from music21 import scale

    tonic = key.tonic_name.replace("b", "-")
    kind = scale.MajorScale if key.mode == "major" else scale.HarmonicMinorScale
    return [p.name.replace("-", "b") for p in kind(tonic).getPitches()[:7]]


@pytest.mark.parametrize(
    "key", [vocab.Key(tonic, mode) for mode in ("major", "minor") for tonic in range(12)]
)
def test_diatonic_chords_are_spelled_with_the_scales_letters_in_all_24_keys(key):
    # Triads and sevenths on every degree (harmonic minor in minor keys: V and vii dim there),
    # spelled against music21's own spelling of the scale.
    qualities = {
        "major": ("maj7", "min7", "min7", "maj7", "7", "min7", "hdim7"),
        "minor": ("min", "dim", "aug", "min7", "7", "maj7", "dim7"),
    }[key.mode]
    scale_names = _music21_scale(key)
    written = [
        vocab.chord_symbol(vocab.chord_id(vocab.chord_root(vocab.parse_chord(name)), quality), key)
        for name, quality in zip(scale_names, qualities, strict=True)
    ]
    assert [w[: len(n)] for w, n in zip(written, scale_names, strict=True)] == scale_names, written
    assert [w[len(n) :] for w, n in zip(written, scale_names, strict=True)] == [
        vocab.SYMBOL_SUFFIXES[q] for q in qualities
    ]
    assert len({w[0] for w in written}) == 7  # one letter per degree


@given(chord_ids, keys)
def test_chord_symbol_round_trip(cid, key):
    assert vocab.parse_chord(vocab.chord_symbol(cid, key)) == cid
    assert vocab.parse_chord(vocab.chord_symbol(cid)) == cid


@pytest.mark.parametrize(
    ("text", "tonic", "mode", "transpose", "midi_name"),
    [
        ("C major", 0, "major", 0, "C"),
        ("F# minor", 6, "minor", -3, "F#m"),
        ("Bb major", 10, "major", -2, "Bb"),
        ("Am", 9, "minor", 0, "Am"),
        ("AM", 9, "major", -3, "A"),
        ("D major", 2, "major", 2, "D"),
        ("eb minor", 3, "minor", 6, "Ebm"),
        ("G:min", 7, "minor", -2, "Gm"),
    ],
)
def test_key_names(text, tonic, mode, transpose, midi_name):
    key = vocab.parse_key(text)
    assert (key.tonic, key.mode, key.transpose, key.midi_name) == (tonic, mode, transpose, midi_name)
    assert key.mode_bit == (mode == "minor")


def test_key_keeps_the_users_spelling():
    assert vocab.parse_key("F# major").name == "F# major"
    assert vocab.parse_key("Gb major").name == "Gb major"
    assert vocab.parse_key("F# major") == vocab.parse_key("Gb major")
    assert vocab.parse_key("A#m").midi_name == "A#m"
    assert vocab.parse_key("G# major").midi_name == "Ab"  # no key signature has eight sharps


@pytest.mark.parametrize("bad", ["H major", "C dorian", "", "major"])
def test_unknown_key_is_explained(bad):
    with pytest.raises(UserError, match="unknown key"):
        vocab.parse_key(bad)


def test_root_quality_ids_cover_special_tokens():
    roots, qualities = vocab.root_quality_ids([0, 1, 122, 157, 158])
    assert roots.tolist() == [0, 1, 10, 13, 14]
    assert qualities.tolist() == [0, 1, 5, 14, 15]


def test_affective_table_marks_exactly_the_allowed_qualities():
    table = vocab.affective_target_matrix()
    assert table.shape == (6, 159)
    sad = vocab.EMOTIONS.index("sad")
    assert table[sad, vocab.parse_chord("Am")] == 1 and table[sad, vocab.parse_chord("C")] == 0
    assert table[vocab.EMOTIONS.index("neutral")].sum() == 0
    assert table[:, [0, vocab.END_ID, vocab.PAD_ID]].sum() == 0
    assert table[vocab.EMOTIONS.index("exciting")].sum() == 36  # 3 qualities x 12 roots


@given(chord_ids)
def test_label_round_trip(cid):
    assert vocab.parse_chord(vocab.chord_label(cid)) == cid


@given(chord_ids, keys)
def test_key_spelled_label_round_trip(cid, key):
    assert vocab.parse_chord(vocab.chord_label(cid, key)) == cid


@given(chord_ids)
def test_spelled_names_sound_like_the_pitch_classes(cid):
    names = vocab.chord_note_names(cid)
    assert [vocab.chord_root(vocab.parse_chord(n)) for n in names] == vocab.chord_pitch_classes(cid)


@given(chord_ids, st.integers(-24, 24))
def test_transposition_round_trip(cid, semitones):
    up = vocab.transpose_chord(cid, semitones)
    assert vocab.chord_quality(up) == vocab.chord_quality(cid)
    assert vocab.transpose_chord(up, -semitones) == cid


@given(keys)
def test_key_name_round_trip(key):
    parsed = vocab.parse_key(key.name)
    assert parsed == key
    assert vocab.parse_key(key.midi_name) == key
    mido.MetaMessage("key_signature", key=key.midi_name)  # raises for a name MIDI cannot hold
    assert -5 <= key.transpose <= 6
    reference_tonic = 9 if key.mode == "minor" else 0
    assert (reference_tonic + key.transpose) % 12 == key.tonic


@given(st.lists(chord_ids, max_size=30))
def test_root_quality_ids_are_consistent(ids):
    roots, qualities = vocab.root_quality_ids(ids)
    for cid, root, quality in zip(ids, roots, qualities, strict=True):
        if cid == 0:
            assert (root, quality) == (0, 0)
        else:
            assert root - 1 == vocab.chord_root(cid)
            assert vocab.QUALITIES[quality - 1] == vocab.chord_quality(cid)
