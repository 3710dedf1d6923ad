"""The video2music-music command, run as users run it (a subprocess), on good and bad input."""

from __future__ import annotations

import subprocess
import sys
import wave

import av
import mido
import numpy as np
import pytest

from video2music.audio.synth import MAX_TAIL
from video2music.commands.music import main, spread
from video2music.theory import vocab


def _run(args: list[str], cwd, repo_dir) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(repo_dir), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "video2music.music", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _markers(path) -> list[str]:
    return [m.text for track in mido.MidiFile(path).tracks for m in track if m.type == "marker"]


def _key_signature(path) -> str:
    return next(m.key for track in mido.MidiFile(path).tracks for m in track if m.type == "key_signature")


@pytest.mark.slow
def test_writes_into_a_fresh_output_folder(repo_dir, tmp_path):
    # out/ does not exist yet: the command creates it.
    result = _run(
        [
            "--chords",
            "C Am F G C F G C",
            "--seconds",
            "24",
            "--key",
            "C major",
            "--out",
            "out/demo",
            "--overwrite",
        ],
        tmp_path,
        repo_dir,
    )
    assert result.returncode == 0, result.stderr
    midi, wav = tmp_path / "out" / "demo.mid", tmp_path / "out" / "demo.wav"
    assert _markers(midi) == ["C", "Am", "F", "G", "C", "F", "G", "C"]  # as typed: chords are absolute
    assert _key_signature(midi) == "C"
    assert mido.MidiFile(midi).length == pytest.approx(24.0)
    with wave.open(str(wav)) as audio:
        assert (audio.getframerate(), audio.getsampwidth(), audio.getnchannels()) == (44100, 2, 2)
        assert 24.5 < audio.getnframes() / 44100 < 24 + MAX_TAIL  # 24 s and the tail as it rings out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["demo.mid", "demo.wav"]


@pytest.mark.parametrize(
    ("extra", "markers", "key_signature"),
    [
        (["--key", "C major"], ["C", "Am", "F", "G"], "C"),
        (["--key", "D major"], ["C", "Am", "F", "G"], "D"),
        (["--key", "D major", "--normalised"], ["D", "Bm", "G", "A"], "D"),
        (["--key", "Bb major", "--normalised"], ["Bb", "Gm", "Eb", "F"], "Bb"),
    ],
)
def test_chords_are_absolute_unless_normalised(tmp_path, extra, markers, key_signature):
    # In-process: the same main() the console script runs, without a new interpreter each time.
    args = ["--chords", "C Am F G", "--seconds", "8", "--out", str(tmp_path / "song"), "--no-drums"]
    assert main([*args, *extra]) == 0
    assert _markers(tmp_path / "song.mid") == markers
    assert _key_signature(tmp_path / "song.mid") == key_signature
    names = [t.name for t in mido.MidiFile(tmp_path / "song.mid").tracks]
    assert names == ["video2music", "Chords", "Arpeggio", "Bass"]


def test_options_reach_the_file(tmp_path):
    args = ["--chords", "Dm7 G7 Cmaj7", "--seconds", "6", "--tempo", "90", "--out", str(tmp_path / "song")]
    args += ["--instruments", "chords=0,arpeggio=46,bass=33,drums=25", "--density", "25", "--loudness", "0.5"]
    assert main(args) == 0
    midi = mido.MidiFile(tmp_path / "song.mid")
    programs = [m.program for t in midi.tracks for m in t if m.type == "program_change"]
    assert programs == [0, 46, 33, 25]
    assert [m.tempo for t in midi.tracks for m in t if m.type == "set_tempo"] == [mido.bpm2tempo(90)]
    assert _markers(tmp_path / "song.mid") == ["Dm7", "G7", "Cmaj7"]


def test_a_melody_on_request_follows_the_typed_chords(tmp_path):
    import pretty_midi

    base = ["--chords", "D Bm G A", "--seconds", "16", "--key", "D major", "--out"]
    assert main([*base, str(tmp_path / "plain")]) == 0
    assert main([*base, str(tmp_path / "sung"), "--melody", "--seed", "3"]) == 0
    assert main([*base, str(tmp_path / "again"), "--melody", "--seed", "3"]) == 0
    plain, sung = (pretty_midi.PrettyMIDI(str(tmp_path / f"{n}.mid")) for n in ("plain", "sung"))
    assert "Melody" not in [i.name for i in plain.instruments]
    melody = next(i for i in sung.instruments if i.name == "Melody").notes
    assert len(melody) >= 8
    # D major's scale (the chords are diatonic), and the same line for the same seed.
    assert {n.pitch % 12 for n in melody} <= {2, 4, 6, 7, 9, 11, 1}
    assert (tmp_path / "sung.mid").read_bytes() == (tmp_path / "again.mid").read_bytes()
    # The accompaniment plays as it does without the melody, voiced under it.
    rest = [[(n.start, n.pitch % 12) for n in i.notes] for i in sung.instruments if i.name != "Melody"]
    plain_rest = [[(n.start, n.pitch % 12) for n in i.notes] for i in plain.instruments]
    assert [[t for t, _ in part] for part in rest] == [[t for t, _ in part] for part in plain_rest]
    pitched = [n for i in sung.instruments if i.name in ("Chords", "Arpeggio", "Bass") for n in i.notes]
    for note in melody:
        assert all(a.pitch < note.pitch for a in pitched if a.start <= note.start < a.end)
    # Any whole number is a seed (beyond 64 bits one used to end in a traceback from torch).
    for seed in (str(10**30), str(-(10**30))):
        assert main([*base, str(tmp_path / f"big{seed[0]}"), "--melody", "--seed", seed]) == 0


@pytest.mark.parametrize(
    ("extra", "programs"),
    [
        (["--instruments", "chords=strings,arpeggio=piano,bass=fingered bass,drums=brush"], [48, 0, 33, 40]),
        (["--instruments", "Chords = Electric Piano 1, bass=Synth Bass 1, drums=808"], [4, 0, 38, 25]),
        (["--style", "cinematic"], [48, 46, 43, 48]),
        (["--style", "lo-fi", "--instruments", "bass=upright bass"], [4, 11, 32, 32]),
        (["--style", "electronic"], [89, 80, 38, 25]),
        (["--style", "acoustic"], [25, 24, 32, 40]),
    ],
)
def test_instruments_by_name_and_preset_reach_the_file(tmp_path, extra, programs):
    assert main(["--chords", "C G", "--seconds", "4", "--out", str(tmp_path / "song"), *extra]) == 0
    midi = mido.MidiFile(tmp_path / "song.mid")
    assert [m.program for t in midi.tracks for m in t if m.type == "program_change"] == programs


def test_video_sets_the_length_and_gets_the_music(tmp_path, examples_dir):
    out = tmp_path / "scored"
    assert (
        main(
            [
                "--chords",
                "Am F C G",
                "--key",
                "A minor",
                "--video",
                str(examples_dir / "fades.mp4"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    with wave.open(str(tmp_path / "scored.wav")) as audio:
        assert audio.getnframes() == 10 * 44100  # exactly the video's 10 s
    assert len(_markers(tmp_path / "scored.mid")) == 4
    with av.open(str(tmp_path / "scored.mp4")) as container:
        assert [s.type for s in container.streams] == ["video", "audio"]
        assert (
            abs(float(container.streams.audio[0].duration * container.streams.audio[0].time_base) - 10.0)
            < 0.05
        )


def test_spread_starts_chord_i_at_ceil_i_times_steps_over_n():
    c, am, f = vocab.parse_progression("C Am F")
    assert spread([c, am, f], 8) == [c, c, c, am, am, am, f, f]  # starts at 0, 3 and 6
    assert spread([c], 3) == [c, c, c]


def _bad(tmp_path, capsys, *args: str) -> str:
    # In-process: the same main() the console script runs (one subprocess test above is enough).
    returncode = main(["--out", str(tmp_path / "out" / "song"), *args])
    result = capsys.readouterr()
    assert returncode == 2, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    assert "Traceback" not in result.err and not result.out
    outputs = [
        p.name for p in tmp_path.rglob("*") if p.suffix in (".mid", ".wav", ".mp4") or ".part" in p.name
    ]
    assert outputs in ([], ["kept.mid"])  # kept.mid is the user's own file in one test
    return lines[0]


def test_bad_input_is_one_line_exit_2_and_leaves_no_files(tmp_path, capsys):
    assert "unknown chord symbol 'H7'" in _bad(tmp_path, capsys, "--chords", "C H7 F")
    assert "unknown key 'H major'" in _bad(tmp_path, capsys, "--chords", "C", "--key", "H major")
    assert "unknown key ''" in _bad(tmp_path, capsys, "--chords", "C", "--key", "")
    assert "give one of them" in _bad(tmp_path, capsys, "--chords", "C", "--no-humanize", "--humanize-midi")
    assert "tempo 0 bpm is out of range" in _bad(tmp_path, capsys, "--chords", "C", "--tempo", "0")
    assert "tempo 301 bpm is out of range" in _bad(tmp_path, capsys, "--chords", "C", "--tempo", "301")
    fake = tmp_path / "fake.sf2"
    fake.write_text("not a soundfont")
    assert "is not a SoundFont" in _bad(tmp_path, capsys, "--chords", "C", "--soundfont", str(fake))
    assert "does not exist" in _bad(
        tmp_path, capsys, "--chords", "C", "--soundfont", str(tmp_path / "no.sf2")
    )
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder is needed")
    message = _bad(tmp_path, capsys, "--chords", "C", "--out", str(blocker / "song"))
    assert "cannot create the output folder" in message
    assert "do not fit" in _bad(tmp_path, capsys, "--chords", "C Am F G", "--seconds", "3")
    assert "instrument" in _bad(tmp_path, capsys, "--chords", "C", "--instruments", "piano=1")
    assert "not a readable video" in _bad(tmp_path, capsys, "--chords", "C", "--video", str(fake))
    # Values outside what the help states (100 notes a second used to be played).
    assert "--density 100 is out of range; use 0 to 40" in _bad(
        tmp_path, capsys, "--chords", "C", "--density", "100"
    )
    assert "--loudness -0.5 is out of range" in _bad(tmp_path, capsys, "--chords", "C", "--loudness=-0.5")


def test_an_out_folder_gets_the_files_inside(tmp_path, examples_dir):
    # An existing folder, or a path ending in /, holds the files (they used to land beside it as
    # DIR.mid, and a/b/ as a/b.mid), named after the video, or 'music' without one.
    folder = tmp_path / "existing"
    folder.mkdir()
    assert main(["--chords", "C G", "--seconds", "4", "--out", str(folder)]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["music.mid", "music.wav"]
    assert not (tmp_path / "existing.mid").exists()
    fresh = tmp_path / "a" / "b"
    args = ["--chords", "C G", "--video", str(examples_dir / "fades.mp4"), "--out", f"{fresh}/"]
    assert main(args) == 0
    assert sorted(p.name for p in fresh.iterdir()) == ["fades.mid", "fades.mp4", "fades.wav"]
    assert not (tmp_path / "a" / "b.mid").exists()


def test_existing_outputs_are_kept_without_overwrite(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    kept = tmp_path / "out" / "kept.mid"
    kept.write_bytes(b"mine")
    message = _bad(tmp_path, capsys, "--chords", "C", "--out", str(tmp_path / "out" / "kept"))
    assert "already exists; pass --overwrite" in message
    assert kept.read_bytes() == b"mine"


def test_missing_fluidsynth_library_is_reported(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "fluidsynth", None)  # "import fluidsynth" now fails as if not installed
    assert main(["--chords", "C Am", "--out", str(tmp_path / "song")]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "libfluidsynth3" in error[0]
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("target", [-18.0, -8.0])  # at -8 LUFS the limiter holds the peaks
def test_stems_sum_to_the_mix_at_the_loudness_target(tmp_path, target):
    import pyloudnorm
    from scipy.signal import resample_poly

    base = tmp_path / "song"
    args = ["--chords", "C Am F G", "--seconds", "8", "--out", str(base), "--stems"]
    assert main([*args, "--loudness-target", str(target)]) == 0
    mix = _wav(base.with_name("song.wav"))
    stems = {
        part: _wav(base.with_name(f"song_{part}.wav")) for part in ("chords", "arpeggio", "bass", "drums")
    }
    assert not base.with_name("song_melody.wav").exists()  # no melody part, no melody stem
    assert all(np.abs(s).max() > 0 for s in stems.values())
    residual = mix - sum(stems.values())
    assert 20 * np.log10(np.sqrt(np.mean(residual**2)) / np.sqrt(np.mean(mix**2))) < -40
    true_peak = 20 * np.log10(np.abs(resample_poly(mix / 32768, 4, 1, axis=0)).max())
    assert true_peak <= -1.0 + 0.05
    loudness = pyloudnorm.Meter(44100).integrated_loudness(mix / 32768)
    if target == -18.0:
        assert loudness == pytest.approx(target, abs=0.3)
    else:  # -8 would need more than the limiter's 4 dB off the peaks: left quieter, not squashed
        assert target - 6 < loudness < target - 1


def test_a_bad_loudness_target_is_one_line_and_writes_nothing(tmp_path, capsys):
    for target in ("loud", "0", "-60"):
        assert main(["--chords", "C", "--out", str(tmp_path / "x"), "--loudness-target", target]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "loudness target" in err
    assert list(tmp_path.iterdir()) == []


def _wav(path):
    import wave

    with wave.open(str(path)) as handle:
        return (
            np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2")
            .reshape(-1, 2)
            .astype(np.float64)
        )
