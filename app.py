"""Start the video2music web app on this machine. See ``python app.py --help``."""

from video2music.utils.errors import finish, run_command

if __name__ == "__main__":
    finish(run_command("video2music.app"))
