"""Fixtures of general use across the test suite."""

from __future__ import annotations

from pathlib import Path

import pytest
from footage import speak, write_clip

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    """The repository root."""
    return REPO


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    """The real sample videos: testvideo.mp4 (24 s, hard cuts), fades.mp4 (10 s), delayed_start.mp4."""
    return REPO / "examples"


@pytest.fixture(scope="session")
def make_clip():
    """The :func:`write_clip` helper, for tests that generate odd-format videos into tmp_path."""
    return write_clip


SPEECH = (
    "Welcome back. Today we walk along the river to the bridge.",
    "After the break, we climb the hill above the town.",
)
SPEECH_GAP = 3.0  # seconds of silence between the two sentences


@pytest.fixture(scope="session")
def speech_clip(tmp_path_factory) -> Path:
    """fades.mp4 (10 s) with a voice of its own: two sentences spoken by espeak-ng with a
    SPEECH_GAP-second pause between them, as its AAC audio stream. Skips without espeak-ng
    (``apt-get install espeak-ng``; ``setup.sh --dev`` installs it), and fails under CI=true."""
    import os
    import shutil

    from video2music.audio import mux

    if shutil.which("espeak-ng") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("espeak-ng is not installed (CI must run the speech tests)")
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    folder = tmp_path_factory.mktemp("speech")
    speak(folder / "voice.wav", SPEECH, SPEECH_GAP)
    clip = folder / "talk.mp4"
    mux.mux_into(REPO / "examples" / "fades.mp4", folder / "voice.wav", clip)
    return clip


class SoundCheck:
    """Measurements on real files for the soundtrack tests (decoded with PyAV, as players do)."""

    rate = 44100

    @staticmethod
    def audio_streams(path: Path) -> int:
        import av

        with av.open(str(path)) as container:
            return len(container.streams.audio)

    @classmethod
    def decode(cls, path: Path):
        """The first audio stream of a video, or a WAV, as mono float32 at ``rate``."""
        import av
        import numpy as np

        with av.open(str(path)) as container:
            resampler = av.AudioResampler(format="flt", layout="mono", rate=cls.rate)
            frames = [f for frame in container.decode(audio=0) for f in resampler.resample(frame)]
            frames += resampler.resample(None)
        return np.concatenate([f.to_ndarray().reshape(-1) for f in frames])

    @staticmethod
    def correlation(a, b) -> float:
        import numpy as np

        n = min(len(a), len(b))
        a, b = a[:n], b[:n]
        return float(np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b)))

    @classmethod
    def music_gain(cls, mixed, original, music, start: float, end: float) -> float:
        """The music's gain in dB within [start, end) s of ``mixed``, against the original sound's:
        the mix as a whole is brought to the loudness target, so its scale (the least-squares
        factor of the original in all of it; the music is unrelated to the original) is divided
        out, then this is the least-squares factor of ``music`` in what is left of the window once
        the original sound is taken out."""
        import numpy as np

        n = min(len(mixed), len(original))
        scale = np.dot(mixed[:n], original[:n]) / np.dot(original[:n], original[:n])
        a, b = int(start * cls.rate), int(end * cls.rate)
        rest, notes = (mixed[a:b] / scale - original[a:b]), music[a:b]
        return float(20 * np.log10(max(np.dot(rest, notes) / np.dot(notes, notes), 1e-6)))

    @classmethod
    def level(cls, samples, start: float, end: float) -> float:
        """RMS level in dBFS within [start, end) s."""
        import numpy as np

        part = samples[int(start * cls.rate) : int(end * cls.rate)]
        return float(20 * np.log10(max(np.sqrt(np.mean(part**2)), 1e-9)))


@pytest.fixture(scope="session")
def sound() -> type[SoundCheck]:
    return SoundCheck


class MidiCheck:
    """What the edit-and-re-render tests read back from written MIDI files."""

    @staticmethod
    def markers(path: Path, sections: bool = False) -> list[tuple[int, str]]:
        """(tick, text) of each chord marker on the conductor track (with ``sections``, of each
        section marker instead)."""
        import mido

        from video2music.compose.arrangement import is_section_label

        events, now = [], 0
        for message in mido.MidiFile(path).tracks[0]:
            now += message.time
            if message.type == "marker" and is_section_label(message.text) == sections:
                events.append((now, message.text))
        return events

    @staticmethod
    def drums(path: Path) -> list[tuple[float, int]]:
        """(seconds, pitch) of every drum note, in order."""
        import pretty_midi

        midi = pretty_midi.PrettyMIDI(str(path))
        return sorted((round(n.start, 4), n.pitch) for i in midi.instruments if i.is_drum for n in i.notes)

    @staticmethod
    def onsets(path: Path, track: str) -> list[float]:
        """When each note of the named track starts, in seconds, in order."""
        import pretty_midi

        midi = pretty_midi.PrettyMIDI(str(path))
        return sorted(round(n.start, 4) for i in midi.instruments if i.name == track for n in i.notes)


@pytest.fixture(scope="session")
def midi_check() -> type[MidiCheck]:
    return MidiCheck


@pytest.fixture(scope="module")
def one_torch_thread():
    """Torch on one thread for a module: several test processes share two cores, and one thread
    each is many times faster than two."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
