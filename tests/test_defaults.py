"""One default and one range per setting: generate.py's --help, the README, the web page and the
JSON of a run all state what the library uses (model.sampling, theory.grid, audio.mux)."""

from __future__ import annotations

from pathlib import Path

import pytest

from video2music.audio.mux import MIX_MUSIC_GAIN_DB, MUSIC_GAIN_RANGE
from video2music.commands.generate import parse_args
from video2music.compose.chords import GenerationSettings
from video2music.model import sampling
from video2music.theory.grid import AUTO_TEMPO, DEFAULT_TEMPO, MAX_TEMPO, MIN_TEMPO

ROOT = Path(__file__).resolve().parent.parent
USED = GenerationSettings()
# option -> (what the run uses when it is not given, its range)
SETTINGS = {
    "temperature": (USED.temperature, sampling.TEMPERATURE_RANGE),
    "top_p": (USED.top_p, sampling.TOP_P_RANGE),
    "emotion_strength": (USED.emotion_guidance, sampling.EMOTION_GUIDANCE_RANGE),
    "tempo": (AUTO_TEMPO, (MIN_TEMPO, MAX_TEMPO)),
    "music_gain": (MIX_MUSIC_GAIN_DB, MUSIC_GAIN_RANGE),
}


def _span(bounds: tuple[float, float]) -> str:
    return f"{bounds[0]:g} to {bounds[1]:g}"


def _default(value: float | str) -> str:
    return f"{value} (the default)" if isinstance(value, str) else f"default {value:g}"


def _generate_help() -> dict[str, str]:
    import argparse

    parser = None

    def catch(self, *args, **kwargs):
        nonlocal parser
        parser = self
        raise SystemExit(0)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(argparse.ArgumentParser, "parse_args", catch)
        with pytest.raises(SystemExit):
            parse_args([])
    return {action.dest: " ".join((action.help or "").split()) for action in parser._actions}


def test_the_library_uses_the_documented_defaults():
    assert (USED.temperature, USED.top_p, USED.emotion_guidance) == (
        sampling.TEMPERATURE,
        sampling.TOP_P,
        sampling.EMOTION_GUIDANCE,
    )


@pytest.mark.parametrize("option", SETTINGS)
def test_generate_help_states_each_default_and_range(option):
    default, bounds = SETTINGS[option]
    text = _generate_help()[option]
    assert _default(default) in text, text
    assert _span(bounds) in text, text


def test_the_readme_states_the_same_defaults_and_ranges():
    readme = " ".join((ROOT / "README.md").read_text().split())
    temperature, temperatures = SETTINGS["temperature"]
    top_p, top_ps = SETTINGS["top_p"]
    strength, strengths = SETTINGS["emotion_strength"]
    tempo, tempi = SETTINGS["tempo"]
    gain, gains = SETTINGS["music_gain"]
    for stated in (
        f"temperature {_span(temperatures)} (default {temperature:g}; 0 is greedy)",
        f"top-p above {_span(top_ps)} (default {top_p:g})",
        f"{_span(strengths)} (default {strength:g}; 0 = off)",
        f"beats per minute, {_span(tempi)}, or {tempo} (the default:",
        f"{_span(gains)} dB (default {gain:g} under the video's own sound",
    ):
        assert stated in readme, stated


def test_a_request_from_the_page_is_generated_with_the_defaults():
    from video2music.app.service import Request

    request = Request(video=None)
    assert request.tempo is None  # from the video
    # None: the model's own settings, which are GenerationSettings'.
    assert (request.temperature, request.emotion_strength, request.music_gain) == (None, None, None)


def test_the_page_controls_start_at_the_defaults_and_span_the_ranges(tmp_path):
    pytest.importorskip("gradio")
    from video2music.app import ui
    from video2music.app.cache import FeatureCache
    from video2music.app.runs import RunFolders
    from video2music.app.service import Scorer
    from video2music.pipeline import Video2Music

    page = ui.build(Scorer(Video2Music.from_pretrained("debug"), FeatureCache(1), RunFolders(tmp_path)))
    controls = {block.elem_id: block for block in page.blocks.values() if getattr(block, "elem_id", None)}
    for elem_id, option in (
        ("temperature", "temperature"),
        ("emotion", "emotion_strength"),
        ("tempo", "tempo"),
        ("gain", "music_gain"),
    ):
        default, (low, high) = SETTINGS[option]
        slider = controls[elem_id]
        shown = DEFAULT_TEMPO if default == AUTO_TEMPO else default  # the slider's place until unticked
        assert (slider.minimum, slider.maximum, slider.value) == (low, high, shown), option
    assert controls["tempo-auto"].value is True and not controls["tempo"].interactive
    # The level is automatic (None: the soundtrack's default) until the visitor unticks it.
    assert controls["gain-auto"].value is True and not controls["gain"].interactive


def test_the_json_records_the_settings_the_music_was_made_with(examples_dir):
    from video2music.features import extract
    from video2music.pipeline import Video2Music

    features = extract(examples_dir / "delayed_start.mp4")
    result = Video2Music.from_pretrained("debug").generate(features=features, melody=False)
    recorded = result.summary()["settings"]
    assert (recorded["temperature"], recorded["top_p"], recorded["emotion_guidance"]) == (
        sampling.TEMPERATURE,
        sampling.TOP_P,
        sampling.EMOTION_GUIDANCE,
    )
    assert recorded["tempo_chosen"] == "auto" and recorded["tempo"] == result.tempo == result.grid.tempo
    assert "from the video" in recorded["tempo_reason"]
