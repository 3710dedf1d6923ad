"""A page request that fails after its run folder was made leaves no folder behind."""

from __future__ import annotations

import pytest

from video2music.app import service
from video2music.app.cache import FeatureCache
from video2music.app.runs import RunFolders
from video2music.app.service import Request, Scorer
from video2music.audio import synth
from video2music.pipeline import Video2Music
from video2music.utils.errors import UserError


@pytest.fixture(scope="module")
def scorer(tmp_path_factory):
    root = tmp_path_factory.mktemp("app-root")
    return Scorer(Video2Music.from_pretrained("debug"), FeatureCache(4), RunFolders(root, keep=8))


def test_a_request_failing_while_saving_leaves_no_run_folder(scorer, examples_dir, tmp_path, monkeypatch):
    # A soundfont cut short is refused by the writer's checks, after the run folder was made.
    truncated = tmp_path / "cut.sf2"
    truncated.write_bytes(synth.find_soundfont().read_bytes()[:100_000])
    monkeypatch.setenv(synth.ENV_SOUNDFONT, str(truncated))
    with pytest.raises(UserError, match="truncated"):
        scorer.run(Request(video=examples_dir / "fades.mp4"))
    assert list(scorer.runs.runs.iterdir()) == []


def test_an_unexpected_failure_also_leaves_no_run_folder(scorer, examples_dir, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(service, "write_result", full_disk)
    with pytest.raises(OSError):
        scorer.run(Request(video=examples_dir / "fades.mp4"))
    assert list(scorer.runs.runs.iterdir()) == []
