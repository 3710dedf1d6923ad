"""Rendering the music in a fresh process of its own, started while the video is still watched.

generate.py holds PyTorch and the models (about 300 MB); FluidSynth holds the instruments it
reads from the bank (about 250 MB of MuseScore General's samples for a pop arrangement). In one
process the two added up to 640 MB on the 24-s sample and 690 MB on 25 minutes. A
:class:`Renderer` is a new interpreter (not a fork: a fork's page tables carry the parent's
memory) that imports only what rendering needs, so each process holds one of the two.

It is started as soon as the settings are checked: it imports, loads the soundfont and reads the
instruments the piece will play (``synth.warm``) while this process waits for the features and
writes the music, then renders the WAV when :meth:`Renderer.render_wav` hands it the events, as
``synth.render_wav`` would (the same WAV byte for byte). Requests and replies are pickled over
two pipes of its own (stdout stays free for the C libraries). It ignores Ctrl-C, which reaches
the terminal's whole process group: this process decides, and :meth:`Renderer.close` (also on
the way out of an interrupted wait) ends it before the staged files are removed. If it dies or
fails in a way it cannot name, the render is made here instead, so that the user sees the real
error the usual way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path

import mido

from video2music.audio import synth
from video2music.audio.master import LOUDNESS_TARGET, Master
from video2music.utils.errors import UserError

logger = logging.getLogger(__name__)


class Renderer:
    """A process that renders one WAV with ``soundfont``, holding the melodic ``programs`` and the
    drum ``kits`` read ahead (see the module)."""

    def __init__(self, soundfont: Path, programs: Sequence[int] = (), kits: Sequence[int] = ()) -> None:
        self.soundfont = soundfont
        to_child, from_parent = os.pipe()
        to_parent, from_child = os.pipe()
        try:
            self._process: subprocess.Popen | None = subprocess.Popen(
                [sys.executable, "-m", __name__, str(to_child), str(from_child)],
                pass_fds=(to_child, from_child),
                stdin=subprocess.DEVNULL,
                env=_environment(),
            )
        finally:
            os.close(to_child)
            os.close(from_child)
        self._requests = Connection(from_parent, readable=False)
        self._replies = Connection(to_parent, writable=False)
        self._requests.send(("warm", str(soundfont), list(programs), list(kits)))

    def render_wav(
        self,
        midi: mido.MidiFile,
        path: str | os.PathLike,
        *,
        duration: float | None = None,
        loudness: float | None = LOUDNESS_TARGET,
        progress_bars: bool = False,
    ) -> Master:
        """``synth.render_wav(midi, path, soundfont, ...)``, made in the renderer's process."""
        request = ("render", synth.events_of(midi), str(path), duration, loudness, progress_bars)
        try:
            self._requests.send(request)
            kind, *value = self._replies.recv()
        except (EOFError, OSError):  # it died: the render is made here, and fails here if it must
            kind, value = "failed", []
        except BaseException:
            self.close()  # Ctrl-C or a signal while it renders: it stops before the files go
            raise
        finally:
            self._wait()
        if kind == "done":
            return value[0]
        if kind == "error":
            raise UserError(value[0])
        if kind == "oserror":
            raise OSError(*value)
        logger.debug("the render process failed; rendering here")
        return synth.render_wav(
            midi, path, self.soundfont, duration=duration, loudness=loudness, progress_bars=progress_bars
        )

    def close(self) -> None:
        """End the process if it is still there (its render is not wanted any more)."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
        self._wait()

    def _wait(self) -> None:
        if self._process is None:
            return
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # stuck in C code before it could take the SIGTERM
            self._process.kill()
            self._process.wait()
        self._process = None
        self._requests.close()
        self._replies.close()

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _environment() -> dict[str, str]:
    """This process's environment, with this copy of the package first on the path: the child
    must run the same code (a checkout beside an installed copy, a test's working tree)."""
    package_root = str(Path(__file__).resolve().parents[2])
    paths = [package_root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _serve(requests: Connection, replies: Connection) -> None:
    """The renderer's side: warm a synthesizer, then render the one WAV asked for."""
    _, soundfont, programs, kits = requests.recv()
    try:
        warmed, refused = synth.warm(soundfont, programs, kits), None
    except UserError as error:  # said when the render is asked for, as synth.render_wav would
        warmed, refused = None, str(error)
    try:
        _, events, path, duration, loudness, progress_bars = requests.recv()
    except EOFError:  # the command ended without a render
        return
    if refused is not None:
        replies.send(("error", refused))
        return
    try:
        master = synth.render_wav(
            events, path, soundfont, duration=duration, loudness=loudness, progress_bars=progress_bars,
            warmed=warmed,
        )  # fmt: skip
    except UserError as error:
        replies.send(("error", str(error)))
    except OSError as error:
        replies.send(("oserror", error.errno, error.strerror, error.filename))
    else:
        replies.send(("done", master))


def main(argv: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # see the module: the command decides
    requests = Connection(int(argv[0]), writable=False)
    replies = Connection(int(argv[1]), readable=False)
    try:
        _serve(requests, replies)
    except BaseException:
        logger.debug("the render process failed", exc_info=True)
    finally:
        with contextlib.suppress(OSError):
            replies.close()
        # Straight out: no atexit handlers or destructors to print from a half-finished state.
        os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
