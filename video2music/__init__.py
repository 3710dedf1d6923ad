"""video2music: score a video with music a person can edit (chords -> multi-track MIDI -> WAV)."""

__version__ = "0.1.0"
