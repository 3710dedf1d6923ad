"""How a line is written in bars: values by beat, rests, ties, beams, spelling and accidentals."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from video2music.output import engraving as e
from video2music.output.engraving import Bar, Played
from video2music.theory import vocab

FOUR, THREE, FIVE = Bar(0, 4), Bar(0, 3), Bar(0, 5)


def shapes(bar: Bar, *notes: tuple[int, int], splits=()) -> list[tuple[str, int, int]]:
    """The bar's symbols as (kind, start, length): 'n' a note, 'n~' a note tied on, 'r' a rest,
    'R' a whole-bar rest."""
    (symbols,) = e.write_line([Played(60, a, b) for a, b in notes], [bar], splits)
    kinds = {(True, False): "n", (True, True): "n~", (False, False): "r"}
    return [
        ("R" if s.whole_bar else kinds[(s.pitch is not None, s.tie_start)], s.start, s.length)
        for s in symbols
    ]


def test_four_four_shows_the_middle_of_the_bar():
    # A dotted half or a whole on the downbeat is one note; from beat 2 the middle is tied over.
    assert shapes(FOUR, (0, 12)) == [("n", 0, 12), ("r", 12, 4)]
    assert shapes(FOUR, (0, 16)) == [("n", 0, 16)]
    assert shapes(FOUR, (4, 16)) == [("r", 0, 4), ("n~", 4, 4), ("n", 8, 8)]
    # From the "and" of beat 2 across beat 3: tied at the middle, not a dotted quarter.
    assert shapes(FOUR, (6, 12)) == [("r", 0, 4), ("r", 4, 2), ("n~", 6, 2), ("n", 8, 4), ("r", 12, 4)]
    # Eighth-quarter-eighth inside a half bar stays untied; so does an "and" to the half bar.
    assert shapes(FOUR, (0, 2), (2, 6), (6, 8)) == [("n", 0, 2), ("n", 2, 4), ("n", 6, 2), ("r", 8, 8)]
    assert shapes(FOUR, (2, 8)) == [("r", 0, 2), ("n", 2, 6), ("r", 8, 8)]
    # Rests fill whole beats and never run over the middle: beats 2-3 are two quarter rests.
    assert shapes(FOUR, (0, 4), (12, 16)) == [("n", 0, 4), ("r", 4, 4), ("r", 8, 4), ("n", 12, 4)]
    assert shapes(FOUR) == [("R", 0, 16)]


def test_rests_inside_a_beat_show_the_half_beat():
    # The case: a sixteenth in beat 2, then silence: a sixteenth and an eighth rest,
    # never a dotted-eighth rest.
    assert shapes(FOUR, (0, 4), (4, 5), (8, 16)) == [
        ("n", 0, 4), ("n", 4, 1), ("r", 5, 1), ("r", 6, 2), ("n", 8, 8),
    ]  # fmt: skip
    assert shapes(FOUR, (3, 4), (8, 16)) == [("r", 0, 2), ("r", 2, 1), ("n", 3, 1), ("r", 4, 4), ("n", 8, 8)]
    # A sixteenth off the half-beat grid never crosses a beat: tied at it.
    assert shapes(FOUR, (1, 8)) == [("r", 0, 1), ("n~", 1, 3), ("n", 4, 4), ("r", 8, 8)]
    assert shapes(FOUR, (0, 7), (8, 16))[:2] == [("n~", 0, 4), ("n", 4, 3)]  # not a dotted quarter~sixteenth


def test_three_four_and_five_four():
    assert shapes(THREE) == [("R", 0, 12)]
    assert shapes(THREE, (0, 12)) == [("n", 0, 12)]
    assert shapes(THREE, (0, 4)) == [("n", 0, 4), ("r", 4, 4), ("r", 8, 4)]  # no half rest from beat 2
    assert shapes(THREE, (8, 12)) == [("r", 0, 8), ("n", 8, 4)]
    # 5/4 is read 2 + 3 (the bar's chord steps): a five-beat note is a half tied to a dotted half.
    assert shapes(FIVE, (0, 20)) == [("n~", 0, 8), ("n", 8, 12)]
    assert shapes(FIVE, (0, 4)) == [("n", 0, 4), ("r", 4, 4), ("r", 8, 8), ("r", 16, 4)]
    assert shapes(FIVE, (4, 12)) == [("r", 0, 4), ("n~", 4, 4), ("n", 8, 4), ("r", 12, 4), ("r", 16, 4)]


def test_notes_and_rests_split_where_a_chord_symbol_starts():
    assert shapes(FOUR, (0, 16), splits=[8]) == [("n~", 0, 8), ("n", 8, 8)]
    assert shapes(FOUR, splits=[8]) == [("r", 0, 8), ("r", 8, 8)]
    assert shapes(FOUR, (0, 8), splits=[4]) == [("n~", 0, 4), ("n", 4, 4), ("r", 8, 8)]


def test_ties_run_across_bar_lines():
    bars = [Bar(0, 4), Bar(16, 3)]
    first, second = e.write_line([Played(67, 12, 24)], bars)
    assert [(s.start, s.length, s.tie_stop, s.tie_start) for s in first[-1:] + second] == [
        (12, 4, False, True), (16, 8, True, False), (24, 4, False, False),
    ]  # fmt: skip


def beams(*notes: tuple[int, int]) -> list[tuple[int, tuple[str, ...]]]:
    (symbols,) = e.write_line([Played(72, a, b) for a, b in notes], [FOUR])
    return [(s.length, s.beams) for s in symbols if s.pitch is not None]


def test_beams_join_the_notes_of_a_beat():
    assert beams((0, 1), (1, 2), (2, 3), (3, 4)) == [
        (1, ("begin", "begin")), (1, ("continue", "continue")),
        (1, ("continue", "continue")), (1, ("end", "end")),
    ]  # fmt: skip
    assert beams((0, 3), (3, 4)) == [(3, ("begin",)), (1, ("end", "backward hook"))]
    assert beams((0, 1), (1, 4)) == [(1, ("begin", "forward hook")), (3, ("end",))]
    assert beams((0, 2), (2, 3), (3, 4)) == [(2, ("begin",)), (1, ("continue", "begin")), (1, ("end", "end"))]
    # A rest parts a run, and eighths of two beats are beamed per beat.
    assert beams((0, 1), (2, 4)) == [(1, ()), (2, ())]
    assert beams((0, 2), (2, 4), (4, 6), (6, 8)) == [
        (2, ("begin",)), (2, ("end",)), (2, ("begin",)), (2, ("end",)),
    ]  # fmt: skip


meters = st.lists(st.sampled_from([3, 4, 4, 4, 5]), min_size=1, max_size=4)


@st.composite
def lines(draw):
    beats = draw(meters)
    bars = [Bar(4 * sum(beats[:i]), b) for i, b in enumerate(beats)]
    end = 4 * sum(beats)
    points = sorted(draw(st.sets(st.integers(0, end), min_size=2, max_size=24)))
    sounding = draw(st.lists(st.booleans(), min_size=len(points), max_size=len(points)))
    notes = [Played(60, a, b) for (a, b), on in zip(itertools.pairwise(points), sounding, strict=False) if on]
    splits = draw(st.sets(st.integers(1, end // 4).map(lambda beat: 4 * beat), max_size=4))
    return bars, notes, splits


@given(lines())
def test_every_line_keeps_its_rhythm_and_the_rules(line):
    bars, notes, splits = line
    written = e.write_line(notes, bars, splits)
    heard, tied_on = [], False
    for bar, symbols in zip(bars, written, strict=True):
        lines_ = [bar.start + g for g in bar.group_lines]
        position = bar.start
        for s in symbols:
            assert s.start == position and (s.whole_bar or s.length in e.VALUES)
            position += s.length
            end = s.start + s.length
            assert not any(s.start < cut < end for cut in splits)
            assert s.beams == () or (s.length < 4 and s.start // 4 == (end - 1) // 4)
            if s.pitch is None:
                assert not tied_on and (s.whole_bar == (s.length == bar.length))
                assert s.whole_bar or (s.start % 4 == 0 and s.length % 4 == 0) or end <= s.start // 4 * 4 + 4
                assert s.whole_bar or s.value[1] == 0  # no dotted rests
                continue
            downbeat_4_4 = s.start == bar.start and bar.beats == 4
            assert downbeat_4_4 or not any(s.start < g < end for g in lines_)
            if end > s.start // 4 * 4 + 4:  # crosses a beat
                assert s.start % 2 == 0 and (end % 4 == 0 or not s.tie_start)
            if s.tie_stop:
                assert tied_on
                heard[-1] = (heard[-1][0], end)
            else:
                assert not tied_on
                heard.append((s.start, end))
            tied_on = s.tie_start
        assert position == bar.start + bar.length
    assert heard == [(n.start, n.end) for n in notes]


def test_spelling_follows_the_chord_then_the_key():
    c_major, d_minor = vocab.parse_key("C major"), vocab.parse_key("D minor")
    e7, ab = vocab.parse_chord("E7"), vocab.parse_chord("Ab")
    assert e.spell(68, c_major, e7) == e.Spelled("G", 1, 4)
    assert e.spell(68, c_major, ab) == e.Spelled("A", -1, 4)
    assert e.spell(61, c_major) == e.Spelled("D", -1, 4)  # not a chord tone: bII
    assert e.spell(73, d_minor, vocab.parse_chord("A")) == e.Spelled("C", 1, 5)
    assert e.spell(60, vocab.parse_key("C# major"), vocab.parse_chord("G#")) == e.Spelled("B", 1, 3)
    assert e.spell(71, vocab.parse_key("Gb major")) == e.Spelled("C", -1, 5)


def test_key_signatures():
    fifths = {
        k: e.key_fifths(vocab.parse_key(k)) for k in ("C", "D minor", "F# major", "Bb", "C# minor", "Eb")
    }
    assert fifths == {"C": 0, "D minor": -1, "F# major": 6, "Bb": -2, "C# minor": 4, "Eb": -3}
    assert e.notation_key(vocab.parse_key("G# major")).name == "Ab major"
    assert e.notation_key(vocab.parse_key("D# minor")).name == "D# minor"


def test_accidentals_only_where_the_bar_needs_them():
    sp = e.Spelled
    d_minor = -1
    # E and G in D minor need none; C# does, once per line and octave in the bar; C after it a natural.
    notes = [(sp("E", 0, 5), False), (sp("G", 0, 5), False), (sp("C", 1, 5), False), (sp("C", 1, 5), False)]
    notes += [(sp("C", 1, 4), False), (sp("C", 0, 5), False), (sp("B", -1, 4), False), (sp("B", 0, 4), False)]
    assert e.accidentals(notes, d_minor) == [None, None, 1, None, 1, 0, None, 0]
    # A note tied over the bar line shows nothing; the same pitch struck after it shows it again.
    assert e.accidentals([(sp("C", 1, 5), True), (sp("C", 1, 5), False)], d_minor) == [None, 1]
