"""The song form: planned from a video's timeline, typed by a user, kept in the JSON and the MIDI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from video2music.compose.form_planner import PRE_CHORUS_SECONDS, plan_form, shape_form
from video2music.compose.form_planner import _names as body_names
from video2music.features.video_features import VideoFeatures
from video2music.theory.form import Form, form_from_json, parse_form
from video2music.theory.grid import Grid
from video2music.theory.vocab import EMOTIONS
from video2music.utils.errors import UserError

CALM = np.eye(len(EMOTIONS))[EMOTIONS.index("relaxing")]
BUSY = np.eye(len(EMOTIONS))[EMOTIONS.index("exciting")]


def _plan(intensity: list[float], cuts: dict[int, int] | None = None, emotion=None) -> Form:
    bars = len(intensity)
    emotions = np.array([CALM if e is None else e for e in (emotion or [None] * bars)])
    cut_counts = np.zeros(bars)
    for bar, count in (cuts or {}).items():
        cut_counts[bar] = count
    return plan_form(np.array(intensity, dtype=float), emotions, cut_counts)


def _names(form: Form) -> list[tuple[str, int]]:
    return [(s.name, s.bars) for s in form.sections]


def test_a_two_minute_video_gets_a_song_whose_boundaries_follow_the_changes():
    # 60 bars: calm, busy, calm, busy, each a stretch of the video; the planner should cut there.
    intensity = [0.15] * 16 + [0.6] * 16 + [0.15] * 12 + [0.6] * 16
    form = _plan(intensity)
    assert 4 <= len(form.sections) <= 10
    # It ends busy: on a chorus, not an outro that would thin out under the busiest footage.
    assert form.sections[0].name == "intro" and form.sections[-1].name == "chorus"
    assert sum(s.bars for s in form.sections) == 60 and form.bars == 60
    calm_end = _plan(intensity + [0.15] * 12)
    assert calm_end.sections[-1].name == "outro"  # calm again at the end: it thins out
    starts = {s.first_bar for s in form.sections}
    assert {16, 32, 44} <= starts  # the three sustained changes start sections
    for section in form.sections:
        expected = "chorus" if np.mean(intensity[section.first_bar : section.end_bar]) > 0.4 else None
        if expected and section.name not in ("intro", "outro"):
            assert section.name == expected, _names(form)
    quiet = [s for s in form.sections if s.name in ("verse", "bridge", "break")]
    assert all(np.mean(intensity[s.first_bar : s.end_bar]) < 0.4 for s in quiet)


@pytest.mark.parametrize("tempo", [150.0, 90.0])
def test_sections_last_long_enough_to_be_heard_at_any_tempo(tempo):
    # Two minutes of footage that changes every 8 bars (13 s at 150 bpm) or every 4 (11 s at 90):
    # counted in bars alone, each change started a section, 11 of them at 150 bpm.
    bar_seconds = 4 * 60 / tempo
    bars = round(120 / bar_seconds)
    every = 8 if tempo > 120 else 4
    intensity = [0.2 if (b // every) % 2 == 0 else 0.7 for b in range(bars)]
    for footage in (intensity, [0.3] * bars):
        form = plan_form(np.array(footage), np.array([CALM] * bars), np.zeros(bars), bar_seconds)
        assert 4 <= len(form.sections) <= 8, _names(form)
        for s in form.sections:
            if s.name not in ("intro", "outro"):
                assert s.bars * bar_seconds >= (PRE_CHORUS_SECONDS if s.name == "pre-chorus" else 12.0), (
                    _names(form)
                )
    # The biggest changes still start sections.
    footage = (
        [0.15] * 24 + [0.7] * 24 + [0.15] * (bars - 48)
        if bars > 60
        else [0.15] * 12 + [0.7] * 20 + [0.15] * (bars - 32)
    )
    form = plan_form(np.array(footage), np.array([CALM] * bars), np.zeros(bars), bar_seconds)
    starts = {s.first_bar for s in form.sections}
    assert ({24, 48} if bars > 60 else {12, 32}) <= starts, _names(form)


@pytest.mark.parametrize("odd_line", [9, 11, 15, 21])
def test_changes_on_odd_bar_lines_keep_the_body_in_whole_phrases_and_an_edge_takes_the_odd_bar(odd_line):
    # 45 bars, the footage changing for good on an odd bar line, then again 16 bars later.
    intensity = [0.2] * odd_line + [0.7] * 16 + [0.2] * (45 - odd_line - 16)
    form = _plan(intensity)
    body = [s for s in form.sections if s.name not in ("intro", "outro")]
    assert all(s.bars % 2 == 0 for s in body), _names(form)
    edges = [form.sections[0], form.sections[-1]]
    assert [s.name for s in edges] == ["intro", "outro"] and sum(s.bars % 2 for s in edges) == 1


def test_a_single_cut_does_not_start_a_section_but_a_sustained_change_does():
    intensity = [0.3] * 48
    with_cut = _plan(intensity, cuts={21: 1})
    assert 21 not in {s.first_bar for s in with_cut.sections}
    shifted = _plan(intensity, emotion=[CALM] * 24 + [BUSY] * 24)
    assert 24 in {s.first_bar for s in shifted.sections}


def test_a_song_opens_with_a_verse_even_when_the_video_opens_busy():
    # Busy from the start, a calm stretch, busy again: by energy alone the body would open with a
    # chorus and hold nothing but choruses around one quiet section.
    form = _plan([0.6] * 28 + [0.1] * 12 + [0.55] * 24)
    names = [s.name for s in form.sections if s.name not in ("intro", "outro")]
    assert names[0] == "verse" and "chorus" in names


def test_busy_footage_to_the_last_frame_ends_on_a_chorus_and_calm_footage_thins_out():
    assert _plan([0.9] * 40).sections[-1].name == "chorus"
    assert _plan([0.3] * 40).sections[-1].name == "outro"


def test_steady_footage_still_gets_verses_and_choruses_in_the_pop_order():
    form = _plan([0.3] * 64)
    # A pre-chorus may lead into a chorus: still the pop order.
    names = [s.name for s in form.sections if s.name not in ("intro", "outro", "pre-chorus")]
    assert names[:4] == ["verse", "chorus", "verse", "chorus"]
    assert all(s.bars in (2, 4, 8, 12, 16) for s in form.sections)


@pytest.mark.parametrize("middle", [2, 3, 4, 5, 6, 7, 8])
def test_steady_footage_ends_its_body_on_a_chorus_and_a_bridge_leads_back_to_one(middle):
    names = body_names(np.full(middle, 0.3))
    assert names[0] == "verse" and names[-1] == "chorus"
    bridges = [i for i, name in enumerate(names) if name == "bridge"]
    assert all(names[i + 1] == "chorus" and "chorus" in names[:i] for i in bridges)
    if middle == 5:  # the sample timeline at 120 and 150 bpm ended "... chorus, bridge, outro"
        assert names == ["verse", "chorus", "verse", "bridge", "chorus"]


def test_sections_are_numbered_and_repeat_their_material():
    form = _plan([0.3] * 64)
    labels = [s.label for s in form.sections]
    assert labels[:3] == ["Intro 1", "Verse 1", "Chorus 1"] and "Verse 2" in labels and "Chorus 2" in labels
    verses = [s for s in form.sections if s.name == "verse"]
    assert len({s.chords_key for s in verses}) == 1 and len({s.tune_key for s in verses}) == 1
    intro = form.sections[0]
    assert intro.chords_key == verses[0].chords_key and intro.tune_key is None  # the verse's loop, no tune


def test_a_long_video_gets_fresh_material_and_a_lifted_chorus():
    form = _plan([0.3] * 400)
    cycles = {s.cycle for s in form.sections}
    assert len(cycles) >= 3  # a new song's worth every CYCLE_BARS or so
    assert any(s.lift == 2 for s in form.sections if s.name == "chorus")
    for cycle in cycles:
        lifted = [s for s in form.sections if s.cycle == cycle and s.lift]
        choruses = [s for s in form.sections if s.cycle == cycle and s.name == "chorus"]
        if lifted:
            assert lifted[0] is choruses[-1]  # only a cycle's last chorus goes up
    assert {s.name for s in form.sections} >= {"verse", "chorus", "bridge"}


@pytest.mark.parametrize("bars", [1, 2, 3, 5, 7, 9, 11])
def test_short_pieces_get_a_form_that_covers_them(bars):
    form = _plan([0.3] * bars)
    assert form.bars == bars and all(s.bars >= 1 for s in form.sections)


def test_a_typed_form_is_parsed_placed_and_checked():
    entries = parse_form("intro 4, Verse 8 | pre 4, chorus 8 +2, breakdown 4, outro 2")
    assert [name for name, _, _ in entries] == ["intro", "verse", "pre-chorus", "chorus", "break", "outro"]
    assert [(bars, lift) for _, bars, lift in entries] == [(4, 0), (8, 0), (4, 0), (8, 2), (4, 0), (2, 0)]
    features = _features(70)
    grid = Grid.for_video(features.duration, 120.0)
    density, loudness = np.full(70, 5.0), np.full(70, 0.3)
    form = shape_form(features, grid, density, loudness, entries)
    assert form.given and [s.bars for s in form.sections] == [4, 8, 4, 8, 4, 7]  # the outro runs to the end
    assert form.sections[3].lift == 2
    for text, message in [
        ("verse", "cannot read 'verse'"),
        ("verse 8, solo 4", "unknown section 'solo'"),
        ("verse 0", "no bars"),
        ("", "names no sections"),
    ]:
        with pytest.raises(UserError, match=message):
            parse_form(text)
    with pytest.raises(UserError, match="has 40 bars but the music holds 35 at 120 bpm"):
        shape_form(features, grid, density, loudness, [("verse", 40, 0)])


def test_the_form_goes_into_the_json_and_comes_back():
    features = _features(64)
    grid = Grid.for_video(features.duration, 120.0)
    form = shape_form(features, grid, np.full(64, 5.0), np.full(64, 0.3))
    summary = json.loads(json.dumps(form.summary(grid)))
    assert [s["section"] for s in summary] == [s.label for s in form.sections]
    assert summary[1]["start"] == pytest.approx(2.0 * form.sections[1].first_bar)
    entries = form_from_json(summary, "clip.json")
    again = shape_form(features, grid, np.full(64, 5.0), np.full(64, 0.3), entries, "clip.json")
    assert [(s.name, s.first_bar, s.bars, s.lift) for s in again.sections] == [
        (s.name, s.first_bar, s.bars, s.lift) for s in form.sections
    ]
    with pytest.raises(UserError, match="clip.json: its form is not a list of sections"):
        form_from_json([{"name": "verse"}], "clip.json")


def _features(seconds: int) -> VideoFeatures:
    return VideoFeatures(
        duration=float(seconds),
        fps=25.0,
        semantic=None,
        emotion=np.tile(CALM, (seconds, 1)),
        scene_offset=np.arange(seconds),
        scene_cuts=[],
        motion=np.full(seconds, 2.0, dtype=np.float32),
        backend="basic",
    )
