"""Metrics on a MuVi-Sync split or on generated output. See ``python evaluate.py --help``."""

from video2music.utils.errors import finish, run_command

if __name__ == "__main__":
    finish(run_command("video2music.commands.evaluate"))
