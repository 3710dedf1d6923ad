"""``python -m video2music.music``: the music command (``video2music.commands.music``), which plays
a typed chord progression without any model. Its work is done in ``compose`` and ``audio``."""
