"""Metrics on a MuVi-Sync split or on generated output. See ``python evaluate.py --help``."""

from video2music.commands.evaluate import main

if __name__ == "__main__":
    raise SystemExit(main())
