"""Every command documents every option in its --help, and the README names every console script."""

from __future__ import annotations

import argparse
import configparser
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {
    "video2music.commands.generate": "parse_args",
    "video2music.commands.train": "parse_args",
    "video2music.commands.evaluate": "parse_args",
    "video2music.commands.dataset": "parse_args",
    "video2music.commands.features": "build_parser",
    "video2music.commands.corpus": "main",
    "video2music.features.fetch_clip": "main",
    "video2music.commands.music": "build_parser",
    "video2music.commands.app": "parse_args",
}


def _parser(module: str, entry: str, monkeypatch) -> argparse.ArgumentParser:
    """The parser the command builds, caught when it parses (nothing else of the command runs)."""
    caught: list[argparse.ArgumentParser] = []

    def catch(self, *args, **kwargs):
        caught.append(self)
        raise SystemExit(0)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", catch)
    function = getattr(importlib.import_module(module), entry)
    try:
        built = function() if entry == "build_parser" else function([])
    except SystemExit:
        built = None
    return built if isinstance(built, argparse.ArgumentParser) else caught[0]


def _undocumented(parser: argparse.ArgumentParser, name: str) -> list[str]:
    missing = [] if parser.description else [f"{name}: no description"]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, subparser in action.choices.items():
                missing += _undocumented(subparser, f"{name} {sub}")
        elif action.dest != "help" and not (action.help or "").strip():
            missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    return missing


@pytest.mark.parametrize(("module", "entry"), COMMANDS.items())
def test_every_option_is_documented(module, entry, monkeypatch):
    parser = _parser(module, entry, monkeypatch)
    assert _undocumented(parser, module) == []
    text = parser.format_help()
    assert "``" not in text and ":class:" not in text  # no raw docstring markup


def test_readme_names_every_console_script_and_the_fixture_quick_start():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    scripts = [
        line.split("=")[0].strip() for line in config["options.entry_points"]["console_scripts"].split("\n")
    ]
    readme = (ROOT / "README.md").read_text()
    assert [s for s in scripts if s and s not in readme] == []
    assert "dataset fixture" in readme
