"""The web app without a browser: feature cache, run folders, request handling and the launcher."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import mido
import pretty_midi
import pytest

from video2music.app.cache import FeatureCache, file_digest
from video2music.app.runs import RunFolders, safe_stem
from video2music.app.service import KEY_CHOICES, Request, Scorer
from video2music.commands.app import MARKER, check_port, parse_args, prepare_output_dir
from video2music.compose.arrangement import is_section_label
from video2music.features import extract
from video2music.theory import vocab
from video2music.utils.errors import UserError

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def short_features(examples_dir):
    return extract(examples_dir / "delayed_start.mp4")


def _counting(features, calls):
    def extract_once(path):
        calls.append(Path(path))
        return features

    return extract_once


# --- feature cache ------------------------------------------------------------------------------


def test_cache_keys_on_content_not_path(tmp_path, examples_dir, short_features):
    first, second = tmp_path / "a.mp4", tmp_path / "renamed upload.mp4"
    data = (examples_dir / "delayed_start.mp4").read_bytes()
    first.write_bytes(data)
    second.write_bytes(data)
    calls: list[Path] = []
    cache = FeatureCache(4)
    miss = cache.get_or_extract(first, "basic", _counting(short_features, calls))
    hit = cache.get_or_extract(second, "basic", _counting(short_features, calls))
    assert (miss.hit, hit.hit) == (False, True)
    assert calls == [first]
    assert hit.features is miss.features
    assert hit.extract_seconds == miss.extract_seconds > 0
    # Another backend is another entry.
    assert not cache.get_or_extract(second, "clip", _counting(short_features, calls)).hit
    assert len(cache) == 2


def test_cache_is_bounded_and_least_recently_used(tmp_path, short_features):
    files = []
    for i in range(3):
        files.append(tmp_path / f"{i}.bin")
        files[-1].write_bytes(bytes([i]) * 100)
    calls: list[Path] = []
    cache = FeatureCache(2)
    extract_once = _counting(short_features, calls)
    cache.get_or_extract(files[0], "basic", extract_once)
    cache.get_or_extract(files[1], "basic", extract_once)
    cache.get_or_extract(files[0], "basic", extract_once)  # 0 is now the most recent
    cache.get_or_extract(files[2], "basic", extract_once)  # evicts 1
    assert len(cache) == 2
    assert cache.get_or_extract(files[0], "basic", extract_once).hit
    assert not cache.get_or_extract(files[1], "basic", extract_once).hit
    assert calls == [files[0], files[1], files[2], files[1]]
    with pytest.raises(ValueError):
        FeatureCache(0)


def test_cache_extracts_once_for_simultaneous_requests(tmp_path, short_features):
    video = tmp_path / "v.bin"
    video.write_bytes(b"same bytes")
    calls: list[Path] = []

    def slow_extract(path):
        time.sleep(0.3)
        return _counting(short_features, calls)(path)

    cache = FeatureCache(2)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get_or_extract(video, "basic", slow_extract)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert sorted(r.hit for r in results) == [False, True, True]


def test_cache_does_not_keep_failures(tmp_path, examples_dir):
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("not a video\n")
    cache = FeatureCache(2)
    for _ in range(2):  # the second attempt extracts again and fails the same way
        with pytest.raises(UserError, match="not a readable video"):
            cache.get_or_extract(not_video, "basic", extract)
    assert len(cache) == 0
    assert file_digest(not_video) != file_digest(examples_dir / "delayed_start.mp4")


# --- run folders --------------------------------------------------------------------------------


def test_run_folders_are_fresh_random_and_pruned(tmp_path):
    runs = RunFolders(tmp_path, keep=3)
    made = []
    for _ in range(5):
        made.append(runs.new())
        time.sleep(0.01)  # distinct modification times for the pruning order
    assert len({p.name for p in made}) == 5
    assert all(len(p.name) >= 20 and p.parent == runs.runs for p in made)
    kept = sorted(p for p in runs.runs.iterdir())
    assert kept == sorted(made[-3:])


def test_run_folders_own_only_files_inside_a_run(tmp_path):
    runs = RunFolders(tmp_path)
    folder = runs.new()
    assert runs.owns(folder / "clip.mid")
    assert not runs.owns(runs.runs / "loose.mid")  # directly under runs/, in no run
    assert not runs.owns(folder / ".." / ".." / "secret.txt")
    assert not runs.owns("/etc/passwd")
    outside = tmp_path / "outside"
    outside.mkdir()
    (folder / "link").symlink_to(outside)
    assert not runs.owns(folder / "link" / "x.mid")


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("my clip.mp4", "my_clip"),
        ("../../etc/passwd", "passwd"),
        ("..mp4", "video"),
        ("", "video"),
        ("été à Paris.mov", "t_Paris"),
    ],
)
def test_safe_stem(name, stem):
    assert safe_stem(name) == stem


# --- requests -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scorer(tmp_path_factory):
    from video2music.pipeline import Video2Music

    root = tmp_path_factory.mktemp("app-root")
    return Scorer(Video2Music.from_pretrained("debug"), FeatureCache(4), RunFolders(root, keep=8))


@pytest.mark.slow
def test_requests_get_separate_folders_and_reuse_features(scorer, examples_dir):
    video = examples_dir / "fades.mp4"
    first = scorer.run(Request(video=video, seed=1))
    second = scorer.run(Request(video=video, seed=2, key="D minor", tempo=90, drums=False, melody=False))
    assert (first.features_cached, second.features_cached) == (False, True)
    assert first.folder != second.folder
    for outcome in (first, second):
        assert set(outcome.files) == {"midi", "wav", "video", "json", "plot", "leadsheet"}
        assert sorted(outcome.folder.iterdir()) == sorted(outcome.files.values())
        assert all(p.stat().st_size > 0 for p in outcome.files.values())
    assert second.key == "D minor" and first.key in KEY_CHOICES
    assert "reused from cache" in second.status() and "extracted" in first.status()
    assert "Song form: Verse 1 0s" in first.status()  # a 10-s clip is one section
    tracks = [t.name for t in mido.MidiFile(second.files["midi"]).tracks[1:]]
    assert tracks == ["Chords", "Arpeggio", "Bass"]  # drums and melody off
    assert "Melody" in {i.name for i in pretty_midi.PrettyMIDI(str(first.files["midi"])).instruments}
    assert second.chords_text.startswith("0s Dm")
    # What the cache saved: the second request skipped the extraction entirely.
    assert second.timings["features"] == 0.0
    assert second.timings["features_saved"] == pytest.approx(first.timings["features"], rel=0.2)
    # The JSON says the same: the first request's extraction, none for the second.
    written = [json.loads(o.files["json"].read_text())["timings"]["features"] for o in (first, second)]
    assert written[0] == pytest.approx(first.timings["features"], rel=0.3) and written[1] == 0.0


def test_edited_chords_render_as_a_new_take_beside_the_first(scorer, examples_dir):
    video = examples_dir / "fades.mp4"
    first = scorer.run(Request(video=video, seed=1, tempo=120.0, audio="replace", music_gain=-3.0))
    edited = first.chords_text.split(" | ")
    edited[1] = edited[1].split()[0] + " Bbmaj7"
    second = scorer.run(Request(video=video, seed=1, tempo=120.0, chords=" | ".join(edited), take=2))

    def chords(text: str) -> list[tuple[str, int]]:  # spelled for the key, so compared as chords
        return [(entry.split()[0], vocab.parse_chord(entry.split()[1])) for entry in text.split(" | ")]

    assert chords(second.chords_text) == chords(" | ".join(edited)) and second.take == 2
    assert second.files["midi"].name == "fades_take2.mid" and first.files["midi"].name == "fades_take1.mid"
    assert first.files["midi"].exists() and first.folder != second.folder
    markers = [
        m.text
        for t in mido.MidiFile(second.files["midi"]).tracks
        for m in t
        if m.type == "marker" and not is_section_label(m.text)
    ]
    assert vocab.parse_chord(markers[1]) == vocab.parse_chord("Bbmaj7")
    assert json.loads(second.files["json"].read_text())["settings"]["chords_from"] == "the chord text"
    assert "Take 2:" in second.status()


@pytest.mark.slow
def test_simultaneous_requests_never_share_outputs(scorer, examples_dir):
    outcomes = []
    errors = []

    def one(seed):
        try:
            outcomes.append(scorer.run(Request(video=examples_dir / "delayed_start.mp4", seed=seed)))
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=one, args=(seed,)) for seed in (3, 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    folders = {o.folder for o in outcomes}
    assert len(folders) == 2
    seeds = set()
    for outcome in outcomes:
        assert all(p.parent == outcome.folder for p in outcome.files.values())
        seeds.add(json.loads(outcome.files["json"].read_text())["settings"]["seed"])
    assert seeds == {3, 4}  # each folder holds its own request's result


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"primer": "C Xm9 F"}, "Xm9"),
        ({"key": "H major"}, "unknown key"),
        ({"tempo": 0}, "tempo"),
        ({"temperature": -1}, "temperature"),
        ({"emotion_strength": -0.5}, "emotion strength"),
        ({"backend": "fancy"}, "fancy"),
        ({"video": None}, "no video yet"),
        ({"audio": "loud"}, "unknown audio mode"),
        ({"music_gain": 40.0}, "music gain"),
        ({"chords": "0s Am | later F"}, "the chord text: cannot read 'later F'"),
        ({"chords_program": 300}, "not a General MIDI program"),
    ],
)
def test_bad_settings_are_refused_before_any_work(scorer, examples_dir, change, message):
    before = len(scorer.cache), len(list(scorer.runs.runs.iterdir()))
    request = Request(**{"video": examples_dir / "testvideo.mp4", **change})
    with pytest.raises(UserError, match=message):
        scorer.run(request)
    assert (len(scorer.cache), len(list(scorer.runs.runs.iterdir()))) == before


def test_bad_videos_give_one_line_without_the_server_path(scorer, tmp_path):
    import av

    text = tmp_path / "holiday.mp4"
    text.write_text("not a video\n")
    empty = tmp_path / "empty.mp4"
    with av.open(str(empty), "w") as out:  # a container with a video stream but no frames
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        out.start_encoding()
    for video, expected in ((text, "holiday.mp4 is not a readable video"), (empty, "empty.mp4 has no video")):
        with pytest.raises(UserError) as error:
            scorer.run(Request(video=video))
        assert str(error.value).startswith(expected)
        assert str(tmp_path) not in str(error.value) and "\n" not in str(error.value)
        assert "Errno" not in str(error.value)


# --- launcher -----------------------------------------------------------------------------------


def test_arguments_default_to_this_machine_only():
    args = parse_args([])
    assert (args.host, args.port, args.share) == ("127.0.0.1", 7860, False)
    for bad in (["--port", "0"], ["--concurrency", "0"], ["--max-upload-mb", "-1"]):
        with pytest.raises(UserError, match="out of range|must be positive"):
            parse_args(bad)


def test_a_taken_port_is_refused_before_the_model_loads():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UserError, match=f"cannot listen on 127.0.0.1:{port}"):
            check_port("127.0.0.1", port)
    check_port("127.0.0.1", port)  # free again


def test_output_dir_must_be_the_apps_own(tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "private.txt").write_text("mine")
    with pytest.raises(UserError, match="already holds other files"):
        prepare_output_dir(busy)
    fresh = prepare_output_dir(tmp_path / "new" / "out")
    assert (fresh / MARKER).exists()
    (fresh / "runs").mkdir()
    assert prepare_output_dir(fresh) == fresh  # reusing the app's own folder is fine


@pytest.mark.slow
def test_core_import_does_not_import_gradio():
    code = (
        "import sys, video2music, video2music.pipeline, video2music.app\n"
        "from video2music import Video2Music\n"
        "assert 'gradio' not in sys.modules, 'gradio imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=120)


def test_missing_gradio_says_how_to_install():
    code = (
        "import runpy, sys\n"
        "sys.modules['gradio'] = None  # as if not installed\n"
        "sys.argv = ['app.py']\n"
        "runpy.run_path('app.py', run_name='__main__')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), done.stderr
    assert "pip install -e '.[app]'" in lines[0]


def test_the_downloads_label_names_the_files_of_the_take():
    pytest.importorskip("gradio")
    from video2music.app.ui import downloads_label

    silent = downloads_label({"midi", "wav", "video", "json", "leadsheet", "plot"})
    assert silent == "Downloads of this take: MIDI, music WAV, MP4, JSON, MusicXML lead sheet"
    assert "mixed WAV" in downloads_label({"midi", "wav", "video", "mix", "json"})
