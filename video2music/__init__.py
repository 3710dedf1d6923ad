"""video2music: score a video with music a person can edit (chords -> multi-track MIDI -> WAV).

``from video2music import Video2Music, write_result`` are the entry points (see
``video2music.pipeline`` and ``video2music.writer``); they are imported on first use so that
``import video2music.vocab`` stays light.
"""

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["Video2Music", "__version__", "write_result"]

if TYPE_CHECKING:
    from video2music.pipeline import Video2Music
    from video2music.writer import write_result


def __getattr__(name: str):
    if name == "Video2Music":
        from video2music.pipeline import Video2Music

        return Video2Music
    if name == "write_result":
        from video2music.writer import write_result

        return write_result
    raise AttributeError(f"module 'video2music' has no attribute {name!r}")
