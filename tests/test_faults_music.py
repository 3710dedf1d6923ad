"""Tempos the arrangement cannot keep are refused up front, in every command that takes one."""

from __future__ import annotations

import struct

import mido
import pytest
from fault_helpers import one_error_line

from video2music.audio import synth
from video2music.commands.generate import main as generate_main
from video2music.commands.music import main as music_main
from video2music.compose import arrange
from video2music.theory.grid import MIN_TEMPO


@pytest.mark.parametrize("tempo", ["3", "3.7", "19.9", "301"])
def test_music_cli_refuses_tempos_outside_the_range(tmp_path, capsys, tempo):
    status = music_main(["--chords", "C Am F G", "--tempo", tempo, "--out", str(tmp_path / "song")])
    line = one_error_line(capsys, status)
    assert f"tempo {tempo} bpm is out of range; use 20 to 300" in line
    assert list(tmp_path.iterdir()) == []


def test_generate_refuses_a_tempo_midi_cannot_hold(tmp_path, capsys, examples_dir):
    # 3 bpm used to pass the check and fail in mido.bpm2tempo after all the work.
    with pytest.raises(ValueError):
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(3))
    args = ["--video", str(examples_dir / "fades.mp4"), "--out", str(tmp_path), "--weights", "debug"]
    line = one_error_line(capsys, generate_main([*args, "--tempo", "3"]))
    assert "tempo 3 bpm is out of range" in line
    assert list(tmp_path.iterdir()) == []


def test_the_slowest_tempo_keeps_every_chord_of_the_default_spread(tmp_path):
    # Four chords over 16 s at 20 bpm (a beat is 3 s): each still gets its own beats.
    chords = [c for c in arrange.vocab.parse_progression("C Am F G") for _ in range(4)]
    music = arrange.arrange(chords, 10.0, 0.2, "C major", tempo=MIN_TEMPO)
    assert [span.label for span in music.spans] == ["C", "Am", "F", "G"]
    tempos = [m.tempo for m in music.to_midi().tracks[0] if m.type == "set_tempo"]
    assert tempos == [mido.bpm2tempo(20)]


def test_music_cli_refuses_chords_too_short_for_the_tempo(tmp_path, capsys):
    # One second per chord at 20 bpm: snapping to 3-second beats would silently drop chords.
    status = music_main(
        ["--chords", "C Am F G", "--seconds", "4", "--tempo", "20", "--out", str(tmp_path / "a")]
    )
    line = one_error_line(capsys, status)
    assert "--seconds" in line and "--tempo" in line
    assert list(tmp_path.iterdir()) == []


def test_fluidsynth_prints_nothing_before_the_error_line(tmp_path, capfd):
    # A real soundfont cut short, its RIFF size patched to match: the up-front checks pass it,
    # FluidSynth then fails on its chunks.
    data = bytearray(synth.find_soundfont().read_bytes()[:100_000])
    data[4:8] = struct.pack("<I", len(data) - 8)
    truncated = tmp_path / "cut.sf2"
    truncated.write_bytes(bytes(data))
    out = tmp_path / "out"
    status = music_main(
        ["--chords", "C Am", "--seconds", "4", "--soundfont", str(truncated), "--out", str(out)]
    )
    captured = capfd.readouterr()
    assert status == 2 and not captured.out
    assert captured.err.splitlines() == [captured.err.strip()] and captured.err.startswith("error: ")
    assert f"FluidSynth could not load the soundfont {truncated}" in captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.sf2"]
