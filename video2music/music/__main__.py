"""``python -m video2music.music``: see ``video2music.commands.music``."""

from video2music.utils.errors import finish, run_command

if __name__ == "__main__":
    finish(run_command("video2music.commands.music"))
