"""Train the chord transformer or the regression on MuVi-Sync. See ``python train.py --help``."""

from video2music.utils.errors import run_command

if __name__ == "__main__":
    raise SystemExit(run_command("video2music.commands.train"))
