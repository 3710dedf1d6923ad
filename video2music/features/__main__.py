"""``python -m video2music.features``: see ``video2music.commands.features``."""

from video2music.utils.errors import run_command

if __name__ == "__main__":
    raise SystemExit(run_command("video2music.commands.features"))
