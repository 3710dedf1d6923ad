"""Start the video2music web app on this machine. See ``python app.py --help``."""

from video2music.app import main

if __name__ == "__main__":
    raise SystemExit(main())
