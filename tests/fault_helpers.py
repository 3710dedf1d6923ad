"""Shared checks of the fault-injection tests: what a refused run prints and leaves behind."""

from __future__ import annotations

import contextlib
from pathlib import Path


def one_error_line(capsys, status: int, expected: int = 2) -> str:
    """The single ``error:`` line a refused command printed, after checking it printed nothing else."""
    captured = capsys.readouterr()
    assert status == expected, captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err and not captured.out
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` and its bytes, to show that a refused run changed nothing."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def children(pid: int) -> list[int]:
    """The processes ``pid`` (any of its threads) started and has not reaped; [] once it is gone."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie or a dead one does not)."""
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    return False
