"""Measuring music: statistics of written files and of POP909 songs, and evaluation metrics."""

from video2music.utils import quiet_fluidsynth  # noqa: F401  (pretty_midi reads files here; see there)
