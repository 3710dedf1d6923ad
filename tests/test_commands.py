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
