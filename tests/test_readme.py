"""The README's Python example runs as it is written, on a real clip, and writes what it says."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pretty_midi
import pytest

ROOT = Path(__file__).resolve().parent.parent


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


@pytest.mark.slow
def test_the_python_example_runs_as_written(tmp_path):
    (block,) = python_blocks()
    shutil.copy(ROOT / "examples" / "fades.mp4", tmp_path / "clip.mp4")
    (tmp_path / "example.py").write_text(block)
    proc = subprocess.run(
        [sys.executable, "example.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr
    assert re.match(r"0s \S+( \| [\d.]+s \S+)+$", proc.stdout.strip().splitlines()[-1])
    written = [p.name for p in (tmp_path / "out").iterdir()]
    assert {"clip.mid", "clip.wav", "clip_with_music.mp4", "clip.json", "clip.musicxml", "clip.png"} <= set(
        written
    )
    for seed in range(3):
        assert (tmp_path / "out" / str(seed) / "clip.mid").is_file()
        assert not (tmp_path / "out" / str(seed) / "clip_with_music.mp4").exists()
    take = pretty_midi.PrettyMIDI(str(tmp_path / "take2" / "clip.mid"))
    programs = {i.name: i.program for i in take.instruments}
    assert programs["Arpeggio"] == 46 and programs["Bass"] == 32  # harp, upright (acoustic) bass
    assert (tmp_path / "take2" / "clip_with_music.mp4").is_file()
