"""video2music: score a video with music a person can edit (chords -> multi-track MIDI -> WAV).

The names below are the entry points (the façade ``Video2Music``, and what a caller passes to
it and to the writer). Each is imported on first use, so that ``import video2music.theory.vocab``
stays light.
"""

from importlib import import_module
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_EXPORTS = {
    "Video2Music": "video2music.pipeline",
    "GenerationSettings": "video2music.compose.chords",
    "Instruments": "video2music.compose.instruments",
    "Soundtrack": "video2music.audio.mux",
    "parse_timed": "video2music.theory.progression",
    "load_chords": "video2music.theory.progression",
    "plan_result": "video2music.output.writer",
    "write_result": "video2music.output.writer",
}
__all__ = [
    "GenerationSettings",
    "Instruments",
    "Soundtrack",
    "Video2Music",
    "__version__",
    "load_chords",
    "parse_timed",
    "plan_result",
    "write_result",
]

if TYPE_CHECKING:
    from video2music.audio.mux import Soundtrack
    from video2music.compose.chords import GenerationSettings
    from video2music.compose.instruments import Instruments
    from video2music.output.writer import plan_result, write_result
    from video2music.pipeline import Video2Music
    from video2music.theory.progression import load_chords, parse_timed


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'video2music' has no attribute {name!r}")
