"""What generate.py's sound files hold, read back: every WAV (the music, its stems, the mix with
the video's own sound) on the loudness target under the true-peak ceiling, without DC offset,
and the stems that a set leaves out listed in its JSON."""

from __future__ import annotations

import json
import wave

import av
import mido
import numpy as np
import pytest

from video2music.audio import synth
from video2music.audio.master import LOUDNESS_TARGET, TRUE_PEAK_CEILING
from video2music.commands.generate import main

FLUID = synth.DEBIAN_SOUNDFONT  # its strings pad carries a DC offset: what the master must take out


def _wav(path) -> np.ndarray:
    with wave.open(str(path)) as handle:
        assert (handle.getframerate(), handle.getsampwidth(), handle.getnchannels()) == (44100, 2, 2)
        return np.frombuffer(handle.readframes(handle.getnframes()), "<i2").reshape(-1, 2) / 32768.0


def _lufs(samples: np.ndarray) -> float:
    import pyloudnorm

    return float(pyloudnorm.Meter(44100).integrated_loudness(samples))


def _true_peak_db(samples: np.ndarray) -> float:
    from scipy.signal import resample_poly

    return float(20 * np.log10(np.abs(resample_poly(samples, 4, 1, axis=0)).max()))


def _left_out(take) -> dict[str, str]:
    return json.loads((take / "talk.json").read_text())["render"]["stems_left_out"]


@pytest.fixture(scope="module")
def talk_take(speech_clip, tmp_path_factory):
    """generate.py's set for a clip with a voice of its own, stems and all, rendered with FluidR3."""
    if not FLUID.is_file():
        pytest.skip("fluid-soundfont-gm is not installed (setup.sh installs it)")
    out = tmp_path_factory.mktemp("talk")
    args = ["--video", str(speech_clip), "--out", str(out), "--weights", "debug", "--stems"]
    assert main([*args, "--soundfont", str(FLUID), "--no-lead-sheet"]) == 0
    return out


def test_every_wav_and_the_video_play_at_the_target_under_the_ceiling(talk_take):
    for name in ("talk.wav", "talk_with_music.wav"):
        samples = _wav(talk_take / name)
        assert _lufs(samples) == pytest.approx(LOUDNESS_TARGET, abs=0.3), name
        assert _true_peak_db(samples) <= TRUE_PEAK_CEILING + 0.05, name
    # The video carries that mix (AAC, so a little looser), both channels.
    with av.open(str(talk_take / "talk_with_music.mp4")) as container:
        video = np.concatenate([frame.to_ndarray() for frame in container.decode(audio=0)], axis=1).T
    assert video.shape[1] == 2
    assert _lufs(video) == pytest.approx(LOUDNESS_TARGET, abs=0.6)


def test_no_wav_has_a_dc_offset(talk_take):
    wavs = sorted(talk_take.glob("*.wav"))
    # The music, the mix with the voice, a stem for each part that plays.
    assert len(wavs) == 2 + 5 - len(_left_out(talk_take)) >= 2 + 3  # chords, arpeggio, bass play
    for path in wavs:
        assert np.abs(_wav(path).mean(axis=0)).max() <= 0.001, path.name


def test_the_stems_add_up_to_the_music(talk_take):
    mix = _wav(talk_take / "talk.wav")
    stems = [_wav(path) for path in talk_take.glob("talk_*.wav") if path.name != "talk_with_music.wav"]
    assert len(stems) == 5 - len(_left_out(talk_take)) >= 3
    assert all(len(stem) == len(mix) for stem in stems)
    residual = mix - sum(stems)
    assert 20 * np.log10(np.sqrt(np.mean(residual**2)) / np.sqrt(np.mean(mix**2))) < -40


def test_a_part_that_plays_nothing_gets_no_stem_and_the_json_says_so(examples_dir, tmp_path):
    out = tmp_path / "calm"
    args = ["--video", str(examples_dir / "testvideo.mp4"), "--out", str(out), "--weights", "debug"]
    assert main([*args, "--stems", "--no-melody", "--no-video", "--no-lead-sheet"]) == 0
    playing = {
        track.name: any(m.type == "note_on" for m in track)
        for track in mido.MidiFile(out / "testvideo.mid").tracks[1:]
    }
    assert set(playing) == {"Chords", "Arpeggio", "Bass", "Drums"}
    for part, plays in playing.items():
        assert (out / f"testvideo_{part.lower()}.wav").exists() == plays, part
    left_out = json.loads((out / "testvideo.json").read_text())["render"]["stems_left_out"]
    expected = {part: "plays no notes" for part, plays in playing.items() if not plays}
    assert left_out == expected | {"Melody": "not in the arrangement"}
