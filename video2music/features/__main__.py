"""``python -m video2music.features``: see ``video2music.commands.features``."""

from video2music.commands.features import main

if __name__ == "__main__":
    raise SystemExit(main())
