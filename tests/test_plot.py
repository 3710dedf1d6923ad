"""The timeline PNG, read back from the figure as drawn: panels that span the video, legends clear
of every label, chords told apart, chord names clear of the cut lines, short clips drawn."""

from __future__ import annotations

import numpy as np
import pytest

from video2music import Video2Music
from video2music.features import extract
from video2music.output.plot import plot_timeline, timeline_figure


@pytest.fixture(scope="module")
def v2m() -> Video2Music:
    return Video2Music.from_pretrained("debug")


@pytest.fixture(scope="module")
def sample(v2m, examples_dir):
    video = examples_dir / "testvideo.mp4"
    return v2m.generate(video, features=extract(video), seed=0, melody=False)


@pytest.fixture(scope="module")
def drawn(sample):
    import matplotlib.pyplot as plt

    fig = timeline_figure(sample)
    fig.canvas.draw()
    yield fig
    plt.close(fig)


def _panels(fig):
    emotion, motion, chords, dynamics = fig.axes[1:5]  # after the form
    return emotion, motion, chords, dynamics, fig.axes[-1]  # the loudness scale, made last


def _overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_the_legends_cover_no_label(drawn):
    renderer = drawn.canvas.get_renderer()
    labels = [
        text.get_window_extent(renderer)
        for ax in drawn.axes
        for text in [*ax.get_xticklabels(), *ax.get_yticklabels(), ax.xaxis.label, ax.yaxis.label]
        if text.get_text()
    ]
    legends = [ax.get_legend().get_window_extent(renderer) for ax in drawn.axes if ax.get_legend()]
    assert len(legends) == 4
    assert not [(legend, label) for legend in legends for label in labels if _overlap(legend, label)]


def test_every_chord_change_is_a_line_between_two_chords(drawn, sample):
    _, _, chords, _, _ = _panels(drawn)
    image = np.asarray(drawn.canvas.buffer_rgba())[:, :, :3].astype(int)
    height = image.shape[0]
    starts = [start for start, *_ in sample.chord_timeline()][1:]
    assert len(starts) >= 3
    for start in starts:
        x, y = chords.transData.transform((start, 0.15))  # below the chord names
        column = image[height - int(round(y)), int(round(x)) - 1 : int(round(x)) + 2]
        assert (column.min(axis=1) > 245).any(), (start, column)  # white, whatever the colours beside


def test_no_cut_line_crosses_a_chord_name(drawn, sample):
    renderer = drawn.canvas.get_renderer()
    _, _, chords, _, _ = _panels(drawn)
    names = [t.get_window_extent(renderer) for t in chords.texts]
    assert len(names) == len(sample.chord_timeline())
    cuts = [chords.transData.transform((cut, 0.5))[0] for cut in sample.features.scene_cuts]
    assert not [(name, x) for name in names for x in cuts if name.x0 <= x <= name.x1]


def test_the_per_second_panels_span_the_whole_video(drawn, sample):
    emotion, motion, _, dynamics, loudness = _panels(drawn)
    f = sample.features
    assert dynamics.get_xlim() == (0.0, f.duration)
    for line in (*motion.get_lines()[:1], *dynamics.get_lines()[:1], *loudness.get_lines()[:1]):
        assert line.get_xdata()[-1] >= f.duration, line.get_label()  # the last second drawn too
    reach = max(path.vertices[:, 0].max() for c in emotion.collections for path in c.get_paths())
    assert reach >= f.duration


def test_a_sub_second_clip_is_drawn_over_its_own_length(v2m, tmp_path, make_clip):
    frames = [np.full((48, 64, 3), 30 + 12 * i, np.uint8) for i in range(15)]  # 0.6 s at 25 fps
    clip = make_clip(tmp_path / "blink.mp4", frames)
    result = v2m.generate(clip, seed=1, melody=False)
    assert result.features.T == 1 and result.features.duration < 1
    fig = timeline_figure(result)
    try:
        fig.canvas.draw()
        emotion, motion, chords, dynamics, _ = _panels(fig)
        assert dynamics.get_xlim()[1] < 1  # not the 2-s bar the music fills
        line = motion.get_lines()[0]
        assert list(line.get_xdata()) == [0, 1]  # its one second, drawn as a step
        paths = [p.vertices for c in emotion.collections for p in c.get_paths()]
        # The emotion's shares, not an empty panel.
        assert max(np.ptp(v[:, 0]) for v in paths) > 0.5 and max(np.ptp(v[:, 1]) for v in paths) > 0.5
        box = chords.get_window_extent()
        assert all(
            box.x0 <= t.get_window_extent().x0 and t.get_window_extent().x1 <= box.x1 for t in chords.texts
        )
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
    assert plot_timeline(result, tmp_path / "blink.png").stat().st_size > 10_000


def test_the_form_panel_names_every_section_where_it_starts(drawn, sample):
    form = drawn.axes[0]
    labels = {text.get_text(): text.get_position()[0] for text in form.texts}
    sections = sample.form.summary(sample.grid)
    assert list(labels) == [s["section"] for s in sections] and len(sections) >= 2
    for section in sections:
        assert labels[section["section"]] == pytest.approx(section["start"] + 0.1)
