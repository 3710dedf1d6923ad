"""pyfluidsynth, imported first and quietly.

pyfluidsynth prints where it found the library on import whenever $CI is set, and pretty_midi
imports it with everything else. The packages that use pretty_midi or FluidSynth (``compose``,
``audio``, ``analysis``, ``app``) import this module first, so the line cannot land in a
command's output (a --help, a batch log). A missing library is reported by
``audio.synth.load_fluidsynth``.
"""

import contextlib
import io

with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(ImportError, OSError):
    import fluidsynth  # noqa: F401
