"""Styles: how each part plays, not only which instrument plays it.

A ``Style`` is a preset's way of playing the same chords, melody and form: the pad's rhythm, the
arpeggio's figure, the bass line, the drum groove, the swing of the off-beat eighths and the
tempo range the video's pace is mapped into. ``--style`` picks one (its instruments are
``compose.instruments.PRESETS``); without one the piece plays ``pop``.

========== ===================== =================== ============= ============ ===== ==========
style      pad                   arpeggio            bass          drums        swing tempo
========== ===================== =================== ============= ============ ===== ==========
pop        held chords           broken, by density  roots, fifths pop kit      0     62-150
lo-fi      stabs on 1 and the    sparse quarters     root, swung   boom-bap,    0.6   70-92
           "and" of 3                                 fifth         soft
electronic off-beat pulses       sixteenths          octave        four on the  0     116-132
                                                     eighths       floor
cinematic  held chords that      ostinato eighths    long roots    timpani,     0     60-104
           unfold and swell                                        rolls
acoustic   strummed eighths      fingerpicked        roots, fifths brushes      0.2   72-120
========== ===================== =================== ============= ============ ===== ==========

Swing delays every off-beat eighth by ``swing`` of the way to the triplet (0.6: most of a
shuffle); ``touch`` scales every velocity (lo-fi 0.75: soft keys and a soft kit, louder only
through the master). The auto tempo is kept inside the style's range: lo-fi is never fast, electronic
never slow.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from video2music.utils.errors import UserError


@dataclass(frozen=True)
class Style:
    """How a preset plays (see the module's table)."""

    name: str
    pad: str  # "held", "stabs", "pulse", "swell" or "strum"
    arpeggio: str  # "broken", "sparse", "sixteenths", "ostinato" or "picked"
    bass: str  # "pop", "swung", "octaves" or "long"
    drums: str  # "pop", "boom-bap", "four", "cinematic" or "brush"
    swing: float = 0.0
    tempo_range: tuple[float, float] = (62.0, 150.0)
    touch: float = 1.0  # every velocity scaled by it: lo-fi is played softly, its peaks near 95


STYLES = {
    "pop": Style("pop", pad="held", arpeggio="broken", bass="pop", drums="pop"),
    "lo-fi": Style(
        "lo-fi", pad="stabs", arpeggio="sparse", bass="swung", drums="boom-bap", swing=0.6,
        tempo_range=(70.0, 92.0), touch=0.75,
    ),
    "electronic": Style(
        "electronic", pad="pulse", arpeggio="sixteenths", bass="octaves", drums="four",
        tempo_range=(116.0, 132.0),
    ),
    "cinematic": Style(
        "cinematic", pad="swell", arpeggio="ostinato", bass="long", drums="cinematic",
        tempo_range=(60.0, 104.0),
    ),
    "acoustic": Style(
        "acoustic", pad="strum", arpeggio="picked", bass="pop", drums="brush", swing=0.2,
        tempo_range=(72.0, 120.0),
    ),
}  # fmt: skip
DEFAULT_STYLE = "pop"


def style_named(name: str | None) -> Style:
    """The style of preset ``name`` (None: pop); UserError naming the closest for an unknown one."""
    if name is None:
        return STYLES[DEFAULT_STYLE]
    style = STYLES.get(name.strip().lower())
    if style is None:
        close = difflib.get_close_matches(name.strip().lower(), STYLES, n=1, cutoff=0.5)
        hint = f"did you mean {close[0]}? " if close else ""
        raise UserError(f"unknown style {name!r}; {hint}styles are {', '.join(STYLES)}")
    return style
