"""Score a video with editable music. See ``python generate.py --help``."""

from video2music.utils.errors import run_command

if __name__ == "__main__":
    raise SystemExit(run_command("video2music.commands.generate"))
