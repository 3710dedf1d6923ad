"""The music back end: chords per second -> multi-track MIDI (arrange) -> WAV (synth) -> video (mux).

``python -m video2music.music`` runs it on a typed chord progression, without any model.
"""
