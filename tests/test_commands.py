"""One subprocess start per command, as users run them: the scripts, ``python -m`` forms and the
modules the console scripts point at. Bad arguments are tested in process, beside each command."""

from __future__ import annotations

import configparser
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

COMMANDS = [
    ["generate.py"],
    ["train.py"],
    ["evaluate.py"],
    ["app.py"],
    ["-m", "video2music.features"],
    ["-m", "video2music.music"],
    ["-m", "video2music.app"],
    ["-m", "video2music.commands.dataset"],
    ["-m", "video2music.commands.corpus"],
]


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_starts_and_explains_itself(command):
    done = subprocess.run(
        [sys.executable, *command, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: ") and "Traceback" not in done.stderr


def test_console_scripts_point_at_commands():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    scripts = [
        line.split("=") for line in config["options.entry_points"]["console_scripts"].split("\n") if line
    ]
    assert len(scripts) == 7
    for name, target in scripts:
        module, function = target.strip().split(":")
        assert module.startswith("video2music.commands."), name
        assert callable(getattr(importlib.import_module(module), function)), name


USAGE_ERRORS = [
    ("video2music.commands.generate", ["--video", "x.mp4", "--tempo", "abc"], "--tempo"),
    ("video2music.commands.generate", ["--video", "x.mp4", "--music-gain", "-inf"], "--music-gain"),
    ("video2music.commands.generate", ["--harmony", "pop", "--weights", "debug"], "--harmony or --weights"),
    ("video2music.commands.generate", ["--video", "x.mp4", "--no-such-option"], "--no-such-option"),
    ("video2music.commands.music", ["--chords", "C", "--out", "x", "--seconds", "nan"], "--seconds"),
    ("video2music.commands.train", ["--data", "d"], "--out"),
    ("video2music.commands.evaluate", ["--batch-size", "many"], "--batch-size"),
    ("video2music.commands.dataset", ["unpack"], "unpack"),
    ("video2music.commands.dataset", ["fixture", "out", "--videos", "1"], "--videos"),
    ("video2music.commands.features", ["x.mp4", "--jobs", "two"], "--jobs"),
    ("video2music.commands.corpus", ["--jobs", "two"], "--jobs"),
    ("video2music.commands.app", ["--port", "0"], "--port"),
    ("video2music.features.fetch_clip", ["a", "b"], "unrecognized"),
    ("video2music.data.pop909", ["--seed", "x"], "--seed"),
]


def _case_id(value) -> str:
    return value if isinstance(value, str) else " ".join(value)


@pytest.mark.parametrize(("module", "argv", "named"), USAGE_ERRORS, ids=_case_id)
def test_usage_errors_are_one_error_line_and_exit_2(module, argv, named, capsys):
    status = importlib.import_module(module).main(argv)
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1, captured.err
    assert named in captured.err and "usage:" not in captured.err and captured.out == ""


def test_a_usage_error_from_the_script_is_one_line():
    done = subprocess.run(
        [sys.executable, "generate.py", "--video", "x.mp4", "--tempo", "abc"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr == "error: argument --tempo: 'abc' is not a number; see generate.py --help\n"
