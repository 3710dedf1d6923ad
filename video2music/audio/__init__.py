"""Making sound: FluidSynth rendering, loudness, ducking under a video's own sound, muxing."""

from video2music.utils import quiet_fluidsynth  # noqa: F401  (see there)
