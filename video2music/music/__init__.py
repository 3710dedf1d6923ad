"""The music back end: chords per half bar -> multi-track MIDI (arrange) -> WAV (synth) -> video (mux).

``python -m video2music.music`` runs it on a typed chord progression, without any model.
"""

import contextlib
import io

# pyfluidsynth prints where it found the library on import whenever $CI is set, and pretty_midi
# imports it with everything else; taken here first and quietly, it cannot land in a command's
# output (a --help, a batch log). A missing library is reported by synth.load_fluidsynth.
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(ImportError, OSError):
    import fluidsynth  # noqa: F401
