"""The creator's and musician's workflow on real clips: features reused, chords edited and
re-rendered over the same features, dynamics and cuts, and the refusals that go with them."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import mido
import pretty_midi
import pytest

from video2music.commands.generate import main
from video2music.features import extract
from video2music.theory import vocab

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "examples" / "fades.mp4"  # 10 s
# Still shots and four cuts: calm, but with a light groove and crashes (fades.mp4 is so still
# that its drums rest).
SAMPLE = ROOT / "examples" / "testvideo.mp4"
OTHER = ROOT / "examples" / "delayed_start.mp4"
CRASH = 49
COMPOSER = "Ada Lovelace"


@pytest.fixture(scope="module")
def features_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("features") / "fades.npz"
    extract(CLIP).save(path)
    return path


@pytest.fixture(scope="module")
def first_take(tmp_path_factory) -> Path:
    """generate.py on the clip, as a user runs it first: fades.mid/.wav/.json/_with_music.mp4 and
    the lead sheet, naming its composer."""
    out = tmp_path_factory.mktemp("take1")
    args = ["--video", str(CLIP), "--out", str(out), "--weights", "debug", "--seed", "5"]
    assert main([*args, "--composer", COMPOSER]) == 0
    return out


def composer(sheet: Path) -> str | None:
    return ET.parse(sheet).getroot().findtext("identification/creator[@type='composer']")


@pytest.fixture(scope="module")
def sample_take(tmp_path_factory) -> Path:
    """generate.py's music for the sample: testvideo.mid/.wav/.json and the lead sheet, naming its
    composer."""
    out = tmp_path_factory.mktemp("sample")
    args = ["--video", str(SAMPLE), "--out", str(out), "--weights", "debug", "--seed", "5", "--no-video"]
    assert main([*args, "--composer", COMPOSER]) == 0
    return out


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def test_the_json_times_every_stage_and_names_the_models_as_given(first_take):
    summary = json.loads((first_take / "fades.json").read_text())
    timings = summary["timings"]
    # The features were extracted in a child process while torch imported: timed there.
    assert timings["features"] > 0.05, timings
    assert {"features", "chords", "melody", "arrange", "save_midi", "render", "mux", "leadsheet"} <= set(
        timings
    )
    assert summary["models"]["transformer"] == "debug" and summary["models"]["melody"] == "melody"


def test_features_file_reuses_the_extraction(first_take, features_file, tmp_path):
    out = tmp_path / "again"
    args = ["--video", str(CLIP), "--features", str(features_file), "--out", str(out), "--weights", "debug"]
    assert main([*args, "--seed", "5", "--no-video"]) == 0
    first, again = (json.loads((folder / "fades.json").read_text()) for folder in (first_take, out))
    assert again["chords"] == first["chords"] and again["note_density"] == first["note_density"]
    assert first["composer"] == composer(first_take / "fades.musicxml") == COMPOSER
    assert "composer" not in again and composer(out / "fades.musicxml") is None  # none unless given
    assert sorted(p.name for p in out.iterdir()) == ["fades.json", "fades.mid", "fades.musicxml", "fades.wav"]
    # Without a video only the music is written, named after the features file.
    alone = tmp_path / "alone"
    assert main(["--features", str(features_file), "--out", str(alone), "--weights", "debug"]) == 0
    assert sorted(p.name for p in alone.iterdir()) == [
        "fades.json",
        "fades.mid",
        "fades.musicxml",
        "fades.wav",
    ]


def test_edited_chords_rerender_over_the_same_dynamics_and_cuts(sample_take, tmp_path, midi_check):
    summary = json.loads((sample_take / "testvideo.json").read_text())
    changes = summary["chord_changes"]
    assert len(changes) >= 2
    new_chord = next(
        c
        for c in ("Fmaj7", "Bbmaj7", "C#m7")
        if vocab.parse_chord(c) != vocab.parse_chord(changes[1]["chord"])
    )
    changes[1]["chord"] = new_chord
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(summary))
    out = tmp_path / "take2"
    args = ["--video", str(SAMPLE), "--chords", str(edited), "--out", str(out), "--weights", "debug"]
    assert main([*args, "--no-video"]) == 0

    before, after = (
        midi_check.markers(sample_take / "testvideo.mid"),
        midi_check.markers(out / "testvideo.mid"),
    )
    assert [t for t, _ in after] == [t for t, _ in before]
    assert [vocab.parse_chord(label) for _, label in after] == [
        vocab.parse_chord(c["chord"]) for c in changes
    ]
    assert vocab.parse_chord(after[1][1]) == vocab.parse_chord(new_chord) != vocab.parse_chord(before[1][1])
    # The drums (their density follows note density) and the cut crashes are untouched.
    assert midi_check.drums(out / "testvideo.mid") == midi_check.drums(sample_take / "testvideo.mid")
    assert CRASH in {pitch for _, pitch in midi_check.drums(out / "testvideo.mid")}
    rerendered = json.loads((out / "testvideo.json").read_text())
    assert rerendered["note_density"] == summary["note_density"]
    assert rerendered["grid"]["cut_steps"] == summary["grid"]["cut_steps"]
    # The tempo the video chose comes back with the chords (no --tempo given either time).
    assert summary["settings"]["tempo_chosen"] == "auto"
    assert rerendered["settings"]["tempo"] == summary["settings"]["tempo"] != 120
    assert rerendered["settings"]["chords_from"] == str(edited)
    assert rerendered["composer"] == composer(out / "testvideo.musicxml") == COMPOSER  # the JSON's


def test_a_progression_with_times_lands_on_the_nearest_half_bar(tmp_path, midi_check):
    out = tmp_path / "typed"
    progression = "0 Am | 2s F | 4.4 C | 6 E7"
    args = ["--video", str(CLIP), "--chords", progression, "--key", "A minor", "--out", str(out)]
    assert main([*args, "--tempo", "120", "--weights", "debug", "--no-video", "--no-cut-changes"]) == 0
    beat = mido.MidiFile(out / "fades.mid").ticks_per_beat
    assert midi_check.markers(out / "fades.mid") == [
        (0, "Am"),
        (4 * beat, "F"),
        (8 * beat, "C"),
        (12 * beat, "E7"),
    ]
    summary = json.loads((out / "fades.json").read_text())
    assert summary["chords"][:7] == ["Am", "Am", "F", "F", "C", "C", "E7"]
    assert summary["chords_harte"][6] == "E:7"


def test_a_chords_json_moves_into_the_key_asked_for(first_take, tmp_path, midi_check):
    summary = json.loads((first_take / "fades.json").read_text())
    own = vocab.parse_key(summary["key"])
    other = vocab.Key((own.tonic + 2) % 12, own.mode)  # a tone up, same mode
    out = tmp_path / "moved"
    args = ["--video", str(CLIP), "--chords", str(first_take / "fades.json"), "--key", other.name]
    assert main([*args, "--out", str(out), "--weights", "debug", "--no-video"]) == 0
    moved = json.loads((out / "fades.json").read_text())
    assert moved["key"] == other.name
    assert [vocab.parse_chord(c) for c in moved["chords"]] == [
        vocab.transpose_chord(vocab.parse_chord(c), 2) for c in summary["chords"]
    ]
    assert [t for t, _ in midi_check.markers(out / "fades.mid")] == [
        t for t, _ in midi_check.markers(first_take / "fades.mid")
    ]


def test_a_chords_json_refuses_a_key_of_the_other_mode(first_take, tmp_path, capsys):
    summary = json.loads((first_take / "fades.json").read_text())
    own = vocab.parse_key(summary["key"])
    other = vocab.Key(own.tonic, "major" if own.mode == "minor" else "minor")
    out = tmp_path / "out"
    args = ["--video", str(CLIP), "--chords", str(first_take / "fades.json"), "--key", other.name]
    assert main([*args, "--out", str(out), "--weights", "debug"]) == 2
    assert f"is in {own.name}; its chords can move to another {own.mode} key" in _one_error_line(capsys)
    assert not out.exists()


def test_typed_chords_without_a_key_are_in_the_key_they_fit(tmp_path):
    # The README's example: Am F C G is in A minor, whatever the clip's mood would choose.
    out = tmp_path / "typed"
    args = ["--video", str(CLIP), "--chords", "0 Am | 2 F | 4 C | 6 G", "--out", str(out), "--no-video"]
    assert main([*args, "--weights", "debug", "--seed", "5"]) == 0
    summary = json.loads((out / "fades.json").read_text())
    assert summary["key"] == "A minor" and not summary["settings"]["key_chosen_from_mood"]
    assert [c["chord"] for c in summary["chord_changes"]] == ["Am", "F", "C", "G"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("0 Am | two F", "cannot read 'two F'"),
        ("0 Am | 2 Xq", "unknown chord symbol 'Xq'"),
        ("0 Am | 4 F | 2 C", "must start at 0 and increase"),
        ("1 Am | 2 F", "must start at 0 and increase"),
        ("0 Am | 60 F", "past the end of the music's last bar"),
        (
            "0 Am | 10 F",
            "a chord at 10 s starts at or past the end of the music's last bar (10 s at 120 bpm)",
        ),
        ('{"chord_changes": [{"time": 0, "chord": "Am"}], "tempo": 0}', "tempo 0 bpm is out of range"),
        ('{"chord_changes": [{"time": 0, "chord": "Am"}], "key": "H major"}', "unknown key 'H major'"),
        ("", "holds no chords"),
        ('{"chords": ["Am"]}', "is not a chord file written by generate.py"),
        ('{"chord_changes": [{"time": 0, "chord": "Hm"}]}', "unknown chord symbol 'Hm'"),
        ("{ not json", "is not a chord file written by generate.py"),
    ],
)
def test_a_malformed_chord_file_is_one_line_and_writes_nothing(tmp_path, capsys, content, message):
    suffix = ".json" if content.startswith("{") else ".txt"
    chords = tmp_path / f"chords{suffix}"
    chords.write_text(content)
    out = tmp_path / "out"
    args = ["--video", str(CLIP), "--chords", str(chords), "--tempo", "120"]  # 10-s clip: 5 bars
    assert main([*args, "--out", str(out), "--weights", "debug"]) == 2
    assert message in _one_error_line(capsys)
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--features", "{features}", "--video", str(OTHER)], "were extracted from"),
        (["--chords", "{first}/fades.json", "--video", str(OTHER)], "was written for a video of 10"),
        (["--chords", "no-such.json", "--video", str(CLIP)], "chord file no-such.json does not exist"),
        (["--chords", "0 Am", "--primer", "C", "--video", str(CLIP)], "--primer"),
        (["--features", "nothing.npz", "--video", str(CLIP)], "does not exist"),
        (["--features", "clipp", "--video", str(CLIP)], "neither a backend"),
        (["--instruments", "bass=violn", "--video", str(CLIP)], "did you mean violin"),
        (["--style", "cinema", "--video", str(CLIP)], "unknown style 'cinema'; did you mean cinematic?"),
        (["--style", "chorale", "--video", str(CLIP)], "give --harmony chorale"),
        (["--audio", "loud", "--video", str(CLIP)], "unknown audio mode 'loud'; use one of mix, replace"),
        (["--music-gain", "99", "--video", str(CLIP)], "music gain 99 dB is out of range"),
        ([], "give --video"),
    ],
)
def test_refusals_are_one_line_and_write_nothing(tmp_path, capsys, features_file, first_take, args, message):
    out = tmp_path / "out"
    args = [a.format(features=features_file, first=first_take) for a in args]
    assert main([*args, "--out", str(out), "--weights", "debug"]) == 2
    assert message in _one_error_line(capsys)
    assert not out.exists()


def test_instrument_names_and_presets_reach_the_generated_midi(tmp_path):
    out = tmp_path / "named"
    args = ["--video", str(SAMPLE), "--no-video", "--out", str(out), "--weights", "debug"]
    assert main([*args, "--style", "lo-fi", "--instruments", "chords=strings,bass=Synth Bass 1"]) == 0
    midi = mido.MidiFile(out / "testvideo.mid")  # every track, also one a short piece leaves empty
    programs = {t.name: m.program for t in midi.tracks for m in t if m.type == "program_change"}
    assert programs == {
        "Chords": 48,
        "Arpeggio": 11,
        "Bass": 38,
        "Drums": 32,
        "Melody": 59,  # lo-fi's muted trumpet
    }
    summary = json.loads((out / "testvideo.json").read_text())
    assert vocab.parse_chord(summary["chords"][0]) != vocab.N_ID
    assert summary["settings"]["instrument_names"] == {
        "chords": "String Ensemble 1", "arpeggio": "Vibraphone", "bass": "Synth Bass 1", "drums": "jazz",
        "melody": "Muted Trumpet",
    }  # fmt: skip


# --- the video's own sound --------------------------------------------------------------------


def test_mix_keeps_the_voice_and_ducks_the_music_under_it(speech_clip, sound, tmp_path):
    out = tmp_path / "mixed"
    assert main(["--video", str(speech_clip), "--out", str(out), "--weights", "debug"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "talk.json", "talk.mid", "talk.musicxml", "talk.wav", "talk_with_music.mp4", "talk_with_music.wav",
    ]  # fmt: skip
    video = out / "talk_with_music.mp4"
    assert sound.audio_streams(video) == 1
    mixed, original, music = (sound.decode(p) for p in (video, speech_clip, out / "talk.wav"))
    # The voice is there: the mix follows the original track far above chance (about 0 for
    # unrelated sounds), and the written WAV is the mix the video carries.
    assert sound.correlation(mixed, original) > 0.6
    assert sound.correlation(sound.decode(out / "talk_with_music.wav"), mixed) > 0.95
    # The music is there too, and lower while the voice speaks than in the pause between sentences.
    speaking = [sound.music_gain(mixed, original, music, a, a + 1.0) for a in (0.8, 1.8, 7.2, 8.2)]
    pause = sound.music_gain(mixed, original, music, 5.0, 6.3)
    assert sound.level(original, 5.0, 6.3) < -60 < max(sound.level(original, a, a + 1) for a in (0.8, 7.2))
    assert -9 < pause < -3  # the default -6 dB, not ducked
    assert max(speaking) < pause - 8, (speaking, pause)


def test_the_melody_rests_while_the_voice_speaks(speech_clip, sound, tmp_path):
    def take(mode: str) -> tuple[list[list[float]], list]:
        out = tmp_path / mode
        assert (
            main(
                [
                    "--video",
                    str(speech_clip),
                    "--out",
                    str(out),
                    "--weights",
                    "debug",
                    "--audio",
                    mode,
                    "--tempo",
                    "120",
                ]
            )
            == 0
        )
        rests = json.loads((out / "talk.json").read_text())["settings"]["melody_rests_under_sound"]
        midi = pretty_midi.PrettyMIDI(str(out / "talk.mid"))
        return rests, next(i for i in midi.instruments if i.name == "Melody").notes

    def sounding(notes, spans) -> list:
        return [n for n in notes for a, b in spans if n.start < b - 1e-3 and n.end > a + 1e-3]

    rests, notes = take("mix")
    original = sound.decode(speech_clip)
    # Each sentence lies in a rest; the pause between them does not.
    assert len(rests) == 2, rests
    assert all(sound.level(original, a, b) > -40 for a, b in rests)
    assert rests[0][1] <= 5.0 and rests[1][0] >= 6.3
    assert notes and not sounding(notes, rests)
    # Replacing the sound, the same take keeps its melody there.
    unmixed_rests, unmixed = take("replace")
    assert unmixed_rests == [] and sounding(unmixed, rests)


@pytest.mark.parametrize("mode", ["replace", "music-only"])
def test_replace_and_music_only(speech_clip, sound, tmp_path, mode):
    out = tmp_path / mode
    assert main(["--video", str(speech_clip), "--out", str(out), "--weights", "debug", "--audio", mode]) == 0
    names = sorted(p.name for p in out.iterdir())
    if mode == "music-only":
        assert names == ["talk.json", "talk.mid", "talk.musicxml", "talk.wav"]
        return
    assert names == ["talk.json", "talk.mid", "talk.musicxml", "talk.wav", "talk_with_music.mp4"]
    soundtrack = sound.decode(out / "talk_with_music.mp4")
    assert sound.correlation(soundtrack, sound.decode(out / "talk.wav")) > 0.9
    assert abs(sound.correlation(soundtrack, sound.decode(speech_clip))) < 0.2


def test_a_video_without_sound_gets_the_music_at_its_own_level(first_take, sound):
    # The default mix's -6 dB is for going under a video's own sound; with none, the music plays
    # at the level of NAME.wav (the loudness target), as --audio replace would.
    soundtrack = sound.decode(first_take / "fades_with_music.mp4")
    music = sound.decode(first_take / "fades.wav")
    assert abs(sound.level(soundtrack, 1, 9) - sound.level(music, 1, 9)) < 1


def test_a_video_without_sound_gets_the_music_as_before(sound, tmp_path):
    out = tmp_path / "silent"
    assert main(["--video", str(CLIP), "--out", str(out), "--weights", "debug", "--music-gain", "-3"]) == 0
    assert "fades_with_music.wav" not in {p.name for p in out.iterdir()}
    soundtrack = sound.decode(out / "fades_with_music.mp4")
    assert sound.correlation(soundtrack, sound.decode(out / "fades.wav")) > 0.9
    ratio = sound.level(soundtrack, 1, 9) - sound.level(sound.decode(out / "fades.wav"), 1, 9)
    assert abs(ratio + 3) < 1  # the gain applies to the music alone too
