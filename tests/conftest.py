"""Fixtures of general use across the test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    """The repository root."""
    return REPO


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    """The real sample videos: testvideo.mp4 (24 s, hard cuts), fades.mp4 (10 s), delayed_start.mp4."""
    return REPO / "examples"
