"""The MIDI a few clips and settings give, pinned byte for byte.

A change that should not touch the music (moving modules, speeding a stage up) keeps these
digests; a change meant to alter the music updates them on purpose, with the reason in its
commit: ``python tests/test_midi_digests.py --update``.
"""

import hashlib
import io
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DIGESTS = ROOT / "tests" / "data" / "midi_digests.json"
CASES = [
    ("testvideo.mp4", 0, {}),
    ("testvideo.mp4", 1, {}),
    ("fades.mp4", 0, {}),
    ("testvideo.mp4", 3, {"key": "F# minor", "primer": "F#m D A E", "tempo": 96.0}),
    ("fades.mp4", 2, {"tempo": 140.0, "melody": False}),
]


def _case_id(clip: str, seed: int, settings: dict) -> str:
    return f"{clip}|{seed}|{json.dumps(settings, sort_keys=True)}"


def digests() -> dict[str, str]:
    from video2music import Video2Music

    v2m = Video2Music.from_pretrained("default")
    features, found = {}, {}
    for clip, seed, settings in CASES:
        video = ROOT / "examples" / clip
        features.setdefault(clip, v2m.extract_features(video, "basic"))
        result = v2m.generate(video, features=features[clip], seed=seed, **settings)
        buffer = io.BytesIO()
        result.arrangement.to_midi().save(file=buffer)
        found[_case_id(clip, seed, settings)] = hashlib.sha256(buffer.getvalue()).hexdigest()
    return found


@pytest.mark.slow
def test_the_music_is_byte_identical_to_the_pinned_digests():
    assert digests() == json.loads(DIGESTS.read_text())


if __name__ == "__main__" and sys.argv[1:] == ["--update"]:
    DIGESTS.write_text(json.dumps(digests(), indent=1) + "\n")
    print(f"wrote {DIGESTS}")
