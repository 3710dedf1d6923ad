"""Writing the piece from a video's timeline: key, chords, dynamics, melody, arrangement, instruments.

Theory (``video2music.theory``) says what is possible; this stage decides what is played.
Nothing here renders sound or writes files.
"""

from video2music.utils import quiet_fluidsynth  # noqa: F401  (before pretty_midi; see there)
