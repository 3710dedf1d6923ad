"""``python -m video2music.features``: see ``video2music.commands.features``."""

from video2music.utils.errors import finish, run_command

if __name__ == "__main__":
    finish(run_command("video2music.commands.features"))
