"""Score a video with editable music. See ``python generate.py --help``."""

from video2music.utils.errors import finish, run_command

if __name__ == "__main__":
    finish(run_command("video2music.commands.generate"))
