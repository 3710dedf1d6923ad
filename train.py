"""Train the chord transformer or the regression on MuVi-Sync. See ``python train.py --help``."""

from video2music.commands.train import main

if __name__ == "__main__":
    raise SystemExit(main())
