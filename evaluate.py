"""Metrics on a MuVi-Sync split or on generated output. See ``python evaluate.py --help``."""

from video2music.utils.errors import run_command

if __name__ == "__main__":
    raise SystemExit(run_command("video2music.commands.evaluate"))
