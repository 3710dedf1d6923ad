"""What a person may choose about sampling chords: each setting's default and its range (and
how a seed of any size becomes a generator's seed).

One place for them: ``compose.chords.GenerationSettings`` takes its defaults from here,
``model.decode.DecodeOptions.check`` enforces the ranges, and the command lines' --help, the web
page's sliders and the README state them (``tests/test_defaults.py`` compares them all). No
torch here, so a command can state and check them before torch loads.
"""

from __future__ import annotations

import hashlib

# The whole distribution is sampled a little warm (top_p 1, temperature 1.1), which keeps two
# videos scored with one seed apart, the key mask keeping it all in key (bench/musicality.py).
TEMPERATURE = 1.1
TOP_P = 1.0
# How strongly chords lean towards the qualities that fit each step's emotion (0 turns it off).
# Inside the key mask it decides among fitting chords rather than pulling in foreign ones; at
# this strength two different videos scored with one seed share 14-17% of their chords (relative
# to their keys; pop songs share 12%), against 19-23% at 1.5.
EMOTION_GUIDANCE = 3.0

# 0 is greedy; at 3 the key's chords already come up about as often as each other.
TEMPERATURE_RANGE = (0.0, 3.0)
# The nucleus: above 0 (at least the likeliest chord), 1 keeps every chord.
TOP_P_RANGE = (0.0, 1.0)
# At 10 log-odds the fitting qualities win whatever the model prefers; more only overflows.
EMOTION_GUIDANCE_RANGE = (0.0, 10.0)


def generator_seed(seed: int) -> int:
    """A seed for a torch generator from any whole number: those torch takes itself (-2^63 to
    2^64 - 1) give what they always gave, a negative one wrapped as torch wraps it; any other is
    hashed to 64 bits, so a seed of any size picks its own music."""
    seed = int(seed)
    if -(2**63) <= seed < 2**64:
        return seed % 2**64
    return int.from_bytes(hashlib.blake2b(str(seed).encode(), digest_size=8).digest(), "little")
