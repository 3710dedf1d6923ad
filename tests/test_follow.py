"""The music follows the video: tempo from its pace, the energy arc heard in the WAV, the mode from
its mood, styles that play differently, endings on the last frame.

The footage is filmed here (``footage.py``: real H.264 files) so its pace and mood are known;
the music is written by the façade and the writer and read back from the files.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from footage import BUSY, CALM, NIGHT, Shot, write_footage
from scipy.stats import spearmanr

from video2music import Video2Music
from video2music.analysis import stats
from video2music.compose import energy
from video2music.compose.instruments import Instruments
from video2music.compose.key import minor_probability
from video2music.compose.styles import STYLES
from video2music.features import extract
from video2music.output.writer import plan_result, write_result
from video2music.utils.video_io import probe

SHORT_CALM, SHORT_BUSY = (dataclasses.replace(shot, seconds=12) for shot in (CALM, BUSY))


@pytest.fixture(scope="module")
def v2m() -> Video2Music:
    return Video2Music.from_pretrained("debug")


@pytest.fixture(scope="module")
def filmed(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("footage")
    shots = {
        "calm": (SHORT_CALM,),
        "busy": (SHORT_BUSY,),
        "calm_then_busy": (SHORT_CALM, dataclasses.replace(SHORT_BUSY, seconds=20)),
        "night": (dataclasses.replace(NIGHT, seconds=12),),
        "short": (Shot(0.96, pan=10),),
    }
    return {name: write_footage(folder / f"{name}.mp4", shot) for name, shot in shots.items()}


def test_calm_and_busy_footage_get_tempi_from_their_pace(v2m, filmed):
    calm, busy = (v2m.generate(filmed[name], melody=False) for name in ("calm", "busy"))
    assert 60 <= calm.tempo <= 90 and 115 <= busy.tempo <= 150
    assert busy.tempo - calm.tempo >= 15
    assert calm.settings["tempo_chosen"] == "auto" and "no cuts" in calm.settings["tempo_reason"]
    assert "cuts lie" in busy.settings["tempo_reason"]  # the busy clip's cuts picked among nearby tempi
    assert v2m.generate(filmed["busy"], melody=False, tempo=96).tempo == 96  # a given tempo wins


def test_the_level_of_the_wav_follows_the_energy_arc(v2m, filmed, tmp_path):
    result = v2m.generate(filmed["calm_then_busy"], seed=1)
    plan = plan_result(tmp_path, "arc", video=False, json=False, lead_sheet=False)
    wav = write_result(result, plan)["wav"]
    heard = stats.window_levels(*stats.read_wav(wav), 2.0)
    curve = energy.intensity(result.density, result.loudness)
    planned = curve[: 2 * len(heard)].reshape(-1, 2).mean(axis=1)
    assert spearmanr(heard[: len(planned)], planned).statistic >= 0.5
    assert heard[7:13].mean() - heard[1:5].mean() >= 5  # the busy footage is clearly louder
    assert stats.audio_stats(wav)["lufs"] == pytest.approx(-16, abs=0.5)  # and the whole meets its target


def test_dark_footage_goes_minor_and_bright_busy_footage_major(filmed):
    night, busy = (extract(filmed[name], backend="basic").emotion for name in ("night", "busy"))
    assert minor_probability(night) > 0.8 > 0.2 > minor_probability(busy)


def test_the_mode_is_calibrated_between_its_extremes():
    neutral = np.zeros((10, 6))
    neutral[:, 5] = 1.0  # all neutral: no mood either way leans a little to major
    assert 0.05 < minor_probability(neutral) < 0.5


def test_styles_play_different_notes_and_keep_to_their_tempi(v2m, filmed, tmp_path):
    """A style re-arranges the song: the tune stays, the accompaniment's notes change."""
    clip = filmed["calm_then_busy"]
    features = extract(clip, backend="basic")
    written = {}
    for name, style in STYLES.items():
        instruments = Instruments.preset(name)
        auto = v2m.generate(clip, features=features, style=name, instruments=instruments, melody=False)
        assert style.tempo_range[0] <= auto.tempo <= style.tempo_range[1]
        fixed = v2m.generate(clip, features=features, style=name, instruments=instruments, tempo=100)
        plan = plan_result(tmp_path, name, wav=False, video=False, json=False, lead_sheet=False)
        written[name] = write_result(fixed, plan)["midi"]
    for a, b in itertools.combinations(STYLES, 2):
        every = [stats.pitched_pairs(written[name]) for name in (a, b)]
        assert len(every[0] & every[1]) / len(every[0] | every[1]) <= 0.5, (a, b)
        backing = [stats.pitched_pairs(written[name], melody=False) for name in (a, b)]
        assert len(backing[0] & backing[1]) / min(map(len, backing)) <= 0.5, (a, b)


def test_every_wav_dies_away_on_the_last_frame(v2m, filmed, tmp_path):
    clip = filmed["calm"]
    picture = probe(clip).duration
    result = v2m.generate(clip, seed=2)
    written = write_result(result, plan_result(tmp_path, "calm", stems=True, lead_sheet=False, json=False))
    wavs = [path for path in written.values() if path.suffix == ".wav"]
    assert len(wavs) >= 3  # the mix and the stems that play
    for path in wavs:
        below, tail, _ = stats.ending(*stats.read_wav(path))
        assert below >= 30 or tail < -50, (path.name, below, tail)
        assert len(stats.read_wav(path)[0]) == round(picture * 44100)
    *_, last_sound = stats.ending(*stats.read_wav(written["wav"]))
    assert picture - last_sound <= result.grid.seconds_per_beat  # music until the picture ends


def test_a_clip_shorter_than_a_bar_gets_music_exactly_as_long(v2m, filmed, tmp_path):
    clip = filmed["short"]
    picture = probe(clip).duration
    written = write_result(v2m.generate(clip), plan_result(tmp_path, "short", lead_sheet=False, json=False))
    samples, rate = stats.read_wav(written["wav"])
    assert len(samples) == round(picture * rate) and stats.rms_dbfs(samples) > -40  # music, not silence
    below, tail, _ = stats.ending(samples, rate)
    assert below >= 30 or tail < -50
