"""Train the chord transformer or the regression on MuVi-Sync. See ``python train.py --help``."""

from video2music.utils.errors import finish, run_command

if __name__ == "__main__":
    finish(run_command("video2music.commands.train"))
