"""Score a video with editable music. See ``python generate.py --help``."""

from video2music.commands.generate import main

if __name__ == "__main__":
    raise SystemExit(main())
