"""``python -m video2music.music``: see ``video2music.commands.music``."""

from video2music.commands.music import main

if __name__ == "__main__":
    raise SystemExit(main())
