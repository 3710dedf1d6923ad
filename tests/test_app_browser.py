"""The web app in a real browser: Debian's chromium, headless, driven by Playwright.

The app runs as ``python app.py --weights debug`` in a subprocess on a free local port, exactly as
a user starts it. Without chromium or Playwright the test skips locally and fails under CI=true.
Screenshots of the finished page and of an error (app_finished.png, app_error.png) are saved in
$V2M_TEST_ARTIFACTS (default: video2music-test-artifacts in the temporary folder); the path is printed.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import mido
import pretty_midi
import pytest

from video2music.theory import vocab

pytestmark = pytest.mark.slow  # a browser and a server: tens of seconds

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(
    os.environ.get("V2M_TEST_ARTIFACTS") or Path(tempfile.gettempdir()) / "video2music-test-artifacts"
)
STARTUP_SECONDS = 90
GENERATE_MS = 120_000
MAX_UPLOAD_MB = 3  # the sample (2.4 MB) fits


def _require(condition: bool, reason: str) -> None:
    if condition:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI must run the browser test)")
    pytest.skip(reason)


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    """``python app.py --model debug`` on a free port; yields (base URL, output folder)."""
    _require(_installed("gradio"), "gradio is not installed (pip install -e '.[app]')")
    out = tmp_path_factory.mktemp("app-out")
    port = _free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "GRADIO_ANALYTICS_ENABLED": "False"}
    log = (out.parent / "app.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "app.py", "--weights", "debug", "--port", str(port), "--output-dir", str(out)]
        + ["--max-upload-mb", str(MAX_UPLOAD_MB)],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + STARTUP_SECONDS
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"the app exited with {process.returncode}: {Path(log.name).read_text()[-2000:]}")
            try:
                if _status(url) == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the app did not answer within {STARTUP_SECONDS} s")
            time.sleep(0.5)
        yield url, out
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    _require(CHROMIUM.exists(), f"{CHROMIUM} not found (apt-get install chromium chromium-driver)")
    _require(_installed("playwright"), "playwright is not installed (pip install -e '.[dev]')")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _open(browser, url):
    page = browser.new_page(viewport={"width": 1400, "height": 1100}, accept_downloads=True)
    page.set_default_timeout(30_000)
    page.goto(url)
    page.wait_for_selector("#generate")
    return page


def _result_video(page) -> list[float]:
    """Waits until the browser has loaded the result video's metadata (so it is playable there);
    returns [width, height, duration]."""
    page.locator("#result-video video").wait_for(timeout=GENERATE_MS)
    page.wait_for_function(
        "() => { const v = document.querySelector('#result-video video'); return v && v.readyState >= 1; }"
    )
    return page.eval_on_selector("#result-video video", "v => [v.videoWidth, v.videoHeight, v.duration]")


def _run_folders(out: Path) -> set[Path]:
    runs = out / "runs"
    return {p for p in runs.iterdir() if p.is_dir()} if runs.exists() else set()


def _toast(page, text: str) -> str:
    """The text of the first message box on the page that contains ``text`` (waits for it)."""
    toast = page.locator(".toast-body", has_text=text).first
    toast.wait_for(timeout=GENERATE_MS)
    return toast.inner_text()


def test_generate_download_and_errors_in_browser(app_server, browser, examples_dir, tmp_path):
    url, out = app_server
    runs_before = _run_folders(out)
    page = _open(browser, url)

    # Upload the sample, set a seed, generate.
    page.locator("#input-video input[type=file]").set_input_files(str(examples_dir / "testvideo.mp4"))
    page.locator("#input-video video").wait_for()
    page.locator("#seed input").fill("7")
    page.locator("#generate").click()
    size = _result_video(page)  # the sample is 1280x720, 24 s
    assert size[:2] == [1280, 720] and 23.5 < size[2] < 24.5, size
    status = page.locator("#status").inner_text()
    assert "features extracted" in status, status
    chords = page.locator("#chords textarea").input_value()
    assert chords.startswith("0s "), chords
    page.locator("#result-audio audio[src]").first.wait_for(state="attached")
    assert page.locator("#plot img").get_attribute("src")

    # The MIDI download parses and has the five named tracks.
    links = page.locator("#downloads a")
    names = [links.nth(i).get_attribute("download") or "" for i in range(links.count())]
    assert sorted(Path(n).suffix for n in names) == [".json", ".mid", ".mp4", ".musicxml", ".wav"], names
    # Its label names those files: a lead sheet, and no mixed WAV for a video without sound.
    label = page.locator("#downloads [data-testid='block-label']").inner_text()
    assert "MusicXML lead sheet" in label and "mixed WAV" not in label, label
    midi_link = page.locator("#downloads a[download$='.mid']")
    with page.expect_download() as download_info:
        midi_link.click()
    midi_path = tmp_path / "download.mid"
    download_info.value.save_as(midi_path)
    tracks = [next(m.name for m in t if m.type == "track_name") for t in mido.MidiFile(midi_path).tracks]
    assert tracks[1:] == ["Chords", "Arpeggio", "Bass", "Drums", "Melody"]
    midi = pretty_midi.PrettyMIDI(str(midi_path))
    # The sample is calm footage: the harmonic parts play, the drums (channel 10) rest or groove softly.
    assert {"Chords", "Arpeggio", "Bass", "Melody"} <= {i.name for i in midi.instruments if i.notes}
    assert all(i.is_drum for i in midi.instruments if i.name == "Drums")

    # Another seed reuses the cached features; the page says so.
    page.locator("#seed input").fill("8")
    page.locator("#generate").click()
    page.locator("#status").filter(has_text="reused from cache").wait_for(timeout=GENERATE_MS)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "app_finished.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot of the finished page: {shot}")

    # Every output of both requests lies in its own run folder under the app's folder.
    runs = _run_folders(out) - runs_before
    assert len(runs) == 2
    assert all(
        sorted(f.suffix for f in run.iterdir())
        == sorted([".mid", ".wav", ".mp4", ".json", ".png", ".musicxml"])
        for run in runs
    )
    page.close()

    # A text file: the page refuses it as not a video.
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n")
    page = _open(browser, url)
    page.locator("#input-video input[type=file]").set_input_files(str(text))
    assert "Invalid file type" in _toast(page, "notes.txt")
    page.close()

    # A text file named .mp4 reaches the server; its message shows in the page's status line as one
    # plain sentence (no FFmpeg error number, not the server's path), no other panel turns red,
    # and the server keeps serving.
    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video either\n")
    page = _open(browser, url)
    page.locator("#input-video input[type=file]").set_input_files(str(fake))
    page.locator("#generate").click()
    status = page.locator("#status").filter(has_text="fake.mp4 is not a readable video")
    status.wait_for(timeout=GENERATE_MS)
    message = status.inner_text()
    page.screenshot(path=str(ARTIFACTS / "app_error.png"))
    assert str(out) not in message and "Errno" not in message and message.count("\n") == 0, message
    assert message.startswith("Could not generate: Fake.mp4 is not a readable video") and message.endswith(
        "."
    )
    # No panel shows an error badge (the browser's own "Video not playable" toast may appear).
    badges = page.evaluate(
        """() => Array.from(document.querySelectorAll('.wrap .error, .wrap.error'))
             .filter(e => e.offsetParent !== null).map(e => (e.closest('[id]') || {}).id || '?')"""
    )
    assert badges == [], badges
    assert page.eval_on_selector("#generate", "b => !b.disabled")
    page.close()
    assert _status(url) == 200


def test_only_the_apps_folder_is_served(app_server):
    url, out = app_server
    inside = out / "probe.txt"
    inside.write_text("served\n")
    assert _status(f"{url}gradio_api/file={inside}") == 200
    for path in ("/etc/passwd", f"{out}/../../etc/passwd", str(REPO / "app.py"), str(REPO / "setup.cfg")):
        assert _status(f"{url}gradio_api/file={path}") == 403, path
    inside.unlink()


def test_visitors_are_queued_and_uploads_limited(app_server, browser, examples_dir, tmp_path):
    url, out = app_server
    runs_before = _run_folders(out)
    # Two visitors press Generate at once: one picks the bundled sample, one uploads a clip.
    first, second = _open(browser, url), _open(browser, url)
    first.locator("#sample button.gallery-item").first.click()
    first.locator("#input-video video").wait_for()
    second.locator("#input-video input[type=file]").set_input_files(str(examples_dir / "fades.mp4"))
    second.locator("#input-video video").wait_for()
    first.locator("#generate").click()
    second.locator("#generate").click()
    for page, seconds in ((first, 24), (second, 10)):
        duration = _result_video(page)[2]
        assert abs(duration - seconds) < 0.6, (duration, seconds)
    assert len(_run_folders(out) - runs_before) == 2
    first.close()

    # An upload over --max-upload-mb is refused in the page; the server carries on.
    big = tmp_path / "big.mp4"
    big.write_bytes((examples_dir / "testvideo.mp4").read_bytes() * 2)
    second.reload()
    second.wait_for_selector("#generate")
    second.locator("#input-video input[type=file]").set_input_files(str(big))
    assert "exceed the maximum allowed size of 3.0 Mb" in _toast(second, "big.mp4")
    second.close()
    assert _status(url) == 200


def _download(page, selector: str, target: Path) -> Path:
    with page.expect_download() as info:
        page.locator(selector).first.click()
    info.value.save_as(target)
    return target


def _wait_for_take(page, take: int) -> str:
    status = page.locator("#status").filter(has_text=f"Take {take}:")
    status.wait_for(timeout=GENERATE_MS)
    return status.inner_text()


def _progress_overlays(page) -> list[str]:
    """The elements that show a request's progress, as the ids of the panels they sit in."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('.wrap.default:not(.hide)'))
             .filter(e => e.offsetParent !== null)
             .map(e => (e.closest('[id]') || {}).id || '?')"""
    )


def test_mix_edit_rerender_and_takes_in_browser(
    app_server, browser, speech_clip, sound, midi_check, tmp_path
):
    url, _ = app_server
    page = _open(browser, url)
    page.locator("#input-video input[type=file]").set_input_files(str(speech_clip))
    page.locator("#input-video video").wait_for()
    assert page.locator("#audio input[value=mix]").is_checked()  # the video's own sound is kept by default

    # One progress display, in the status line, moving through the real stages; Generate and
    # Re-render are disabled until the request is done.
    page.locator("#generate").click()
    page.wait_for_function("() => document.querySelector('#generate').disabled")
    assert page.eval_on_selector("#rerender", "b => b.disabled")
    stages, overlays = set(), set()
    while "Take 1:" not in (text := page.locator("#status").inner_text()):
        stages.add(text.split("\n")[-1].split(" - ")[0])
        overlays.update(_progress_overlays(page))
        page.wait_for_timeout(100)
    assert overlays <= {"status"}, overlays
    assert stages & {"rendering the music", "putting the music into the video", "drawing the timeline"}, (
        stages
    )
    page.wait_for_function("() => !document.querySelector('#generate').disabled")

    # The downloaded video has one audio stream: the voice, with the music under it, lower while
    # the voice speaks than in the pause between its sentences.
    mp4 = _download(page, "#downloads a[download$='_with_music.mp4']", tmp_path / "take1.mp4")
    music = _download(page, "#downloads a[download$='_take1.wav']", tmp_path / "take1_music.wav")
    first_midi = _download(page, "#downloads a[download$='.mid']", tmp_path / "take1.mid")
    assert sound.audio_streams(mp4) == 1
    assert "mixed WAV" in page.locator("#downloads [data-testid='block-label']").inner_text()
    mixed, original, notes = sound.decode(mp4), sound.decode(speech_clip), sound.decode(music)
    assert sound.correlation(mixed, original) > 0.6
    speaking = [sound.music_gain(mixed, original, notes, a, a + 1.0) for a in (0.8, 1.8, 7.2, 8.2)]
    assert max(speaking) < sound.music_gain(mixed, original, notes, 5.0, 6.3) - 8

    # Edit the second chord and render again: the markers show the edit, the drums and the bass
    # rhythm (both set by note density) are those of the first take.
    text = page.locator("#chords textarea").input_value()
    entries = [entry.strip() for entry in text.split("|")]
    time_text, chord = entries[1].split()
    replacement = next(
        c for c in ("Fmaj7", "Bbmaj7", "C#m7") if vocab.parse_chord(c) != vocab.parse_chord(chord)
    )
    entries[1] = f"{time_text} {replacement}"
    page.locator("#chords textarea").fill(" | ".join(entries))
    page.locator("#rerender").click()
    _wait_for_take(page, 2)
    second_midi = _download(page, "#downloads a[download$='_take2.mid']", tmp_path / "take2.mid")
    before, after = midi_check.markers(first_midi), midi_check.markers(second_midi)
    # The markers name the chords typed (spelled for the key, so compared as chords).
    assert [vocab.parse_chord(label) for _, label in after] == [
        vocab.parse_chord(e.split()[1]) for e in entries
    ]
    assert vocab.parse_chord(after[1][1]) == vocab.parse_chord(replacement) != vocab.parse_chord(before[1][1])
    assert [t for t, _ in after] == [t for t, _ in before]
    # fades.mp4 under the voice is still (pace 0, no cut): its drums rest in both takes.
    assert midi_check.drums(second_midi) == midi_check.drums(first_midi) == []
    assert midi_check.onsets(second_midi, "Bass") == midi_check.onsets(first_midi, "Bass") != []

    # The first take stays downloadable under Earlier takes.
    earlier = page.locator("#takes a")
    assert {earlier.nth(i).get_attribute("download") for i in range(earlier.count())} >= {
        "talk_take1.mid", "talk_take1_with_music.mp4", "talk_take1_with_music.wav",
    }  # fmt: skip
    again = _download(page, "#takes a[download='talk_take1_with_music.mp4']", tmp_path / "again.mp4")
    assert again.read_bytes() == mp4.read_bytes()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app_takes.png"), full_page=True)

    # At phone width nothing needs sideways scrolling, the Key's text is not cut, and the
    # timeline fits the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(500)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    assert page.eval_on_selector("#key input", "i => i.scrollWidth <= i.clientWidth")
    assert page.eval_on_selector("#plot img", "i => i.getBoundingClientRect().right") <= 390
    page.screenshot(path=str(ARTIFACTS / "app_phone.png"), full_page=True)
    page.close()


def test_the_console_says_where_the_page_is_in_plain_lines(app_server):
    # After the generations above: the address, one readable line per run, none of Gradio's hints
    # about options this command does not have.
    url, out = app_server
    console = (out.parent / "app.log").read_text()
    assert f"the page is at {url}" in console, console
    assert "share=True" not in console and "launch()" not in console, console
    runs = [line for line in console.splitlines() if line.startswith("run ")]
    assert runs and all("{" not in line and "features" in line and " s" in line for line in runs), runs
