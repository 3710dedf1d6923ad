"""Start the video2music web app on this machine. See ``python app.py --help``."""

from video2music.utils.errors import run_command

if __name__ == "__main__":
    raise SystemExit(run_command("video2music.app"))
