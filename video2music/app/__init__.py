"""The local web app (Gradio): ``python app.py`` or ``video2music-app``.

Importing this package does not import Gradio; only starting the app does.
"""

from video2music.commands.app import main

__all__ = ["main"]
