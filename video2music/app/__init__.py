"""The local web app (Gradio): ``python app.py`` or ``video2music-app``.

Importing this package does not import Gradio; only starting the app does.
"""

from video2music.commands.app import main
from video2music.utils import quiet_fluidsynth  # noqa: F401  (before Gradio's pretty_midi; see there)

__all__ = ["main"]
