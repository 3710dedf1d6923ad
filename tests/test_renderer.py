"""audio.renderer: the WAV rendered in a process of its own is the one rendered here, errors come
back as this process's, and the process never outlives its use."""

from __future__ import annotations

import errno

import mido
import numpy as np
import pytest

from video2music.audio import synth
from video2music.audio.renderer import Renderer
from video2music.compose.arrange import arrange
from video2music.compose.instruments import Instruments
from video2music.theory import vocab
from video2music.theory.grid import Grid
from video2music.utils.errors import UserError

SONG = np.repeat(vocab.parse_progression("C Am F G"), 2)  # 8 s at 120 bpm
DEFAULTS = Instruments()


@pytest.fixture(scope="module")
def song() -> mido.MidiFile:
    grid = Grid.for_video(len(SONG), 120.0, cuts=[4.0])
    return arrange(SONG, 10.0, 0.2, "G major", grid=grid).to_midi()


def _renderer() -> Renderer:
    programs = [DEFAULTS.chords, DEFAULTS.arpeggio, DEFAULTS.bass, DEFAULTS.melody]
    return Renderer(synth.find_soundfont(), programs, [DEFAULTS.drums])


def test_the_wav_is_the_one_rendered_here_byte_for_byte(song, tmp_path):
    here = synth.render_wav(song, tmp_path / "here.wav", duration=9.0)
    with _renderer() as renderer:
        there = renderer.render_wav(song, tmp_path / "there.wav", duration=9.0)
        process = renderer._process
    assert process is None  # it rendered once and is gone
    assert (tmp_path / "there.wav").read_bytes() == (tmp_path / "here.wav").read_bytes()
    assert there.gain == here.gain and there.frames == here.frames == 9 * 44100


def test_synth_render_wav_hands_the_work_to_a_renderer(song, tmp_path):
    with _renderer() as renderer:
        synth.render_wav(song, tmp_path / "handed.wav", renderer=renderer)
        assert renderer._process is None  # used: the render was made there
    assert (tmp_path / "handed.wav").stat().st_size > 44 + 4 * 8 * 44100


def test_a_write_error_there_is_an_oserror_here_naming_the_file(song, tmp_path):
    missing = tmp_path / "gone" / "song.wav"
    with _renderer() as renderer, pytest.raises(OSError) as raised:
        renderer.render_wav(song, missing)
    assert raised.value.errno == errno.ENOENT and raised.value.filename == str(missing)


def test_a_bad_duration_is_refused_there_as_here(song, tmp_path):
    with _renderer() as renderer, pytest.raises(UserError, match="positive number of seconds"):
        renderer.render_wav(song, tmp_path / "song.wav", duration=-1.0)


def test_a_renderer_that_died_leaves_the_render_to_this_process(song, tmp_path):
    with _renderer() as renderer:
        renderer._process.kill()
        renderer._process.wait()
        renderer.render_wav(song, tmp_path / "song.wav", duration=9.0)
    synth.render_wav(song, tmp_path / "here.wav", duration=9.0)
    assert (tmp_path / "song.wav").read_bytes() == (tmp_path / "here.wav").read_bytes()


def test_closing_an_unused_renderer_ends_its_process():
    renderer = _renderer()
    process = renderer._process
    renderer.close()
    assert process.poll() is not None and renderer._process is None
    renderer.close()  # twice is harmless
