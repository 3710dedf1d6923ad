"""Planning a song form from a video: sections on bar lines where the video changes most.

Steps (``plan_form``):

1. Where the video changes. Per bar: the intensity (``compose.energy``), the emotion and the cut
   rate. A bar line's novelty is how far the mean of these over the ``WINDOW_BARS`` bars after it
   lies from the mean over the bars before it, so a sustained shift scores and a single cut does
   not; a cut on the bar line itself adds a little.
2. Sections on bar lines. A dynamic programme picks the boundaries that gather the most novelty
   (scaled by its 90th percentile over the piece and squared, so a change's own bar line stands
   out from its neighbours, saturating towards ``NOVELTY_CAP`` squared; weighed less in a piece
   under ``SHORT_PIECE_BARS``), less a cost per section length (``LENGTH_COST``: 8 bars is the
   norm of pop, 4 next, 12 and 16 for long stretches, other even lengths rarely, odd ones
   almost never; under
   ``SHORT_PIECE_BARS`` bars 4 is the norm) and, as a section is heard in seconds,
   ``SHORT_SECONDS_COST`` for each second a section between intro and outro lasts under
   ``SECTION_SECONDS`` (so at 90 bpm 8 bars, 21 s, make a section and 4 do not; at 150 bpm 8
   bars, 13 s, are short and 12 or 16 fit better). A piece of
   ``INTRO_FROM_BARS`` bars or more opens with an intro of 2 or 4 bars (1 or 3 rarely), and one of
   ``OUTRO_FROM_BARS`` or more closes with an outro (of 2 or 4 bars, or 3 where the piece has an
   odd bar to place), unless the footage is still busy at its end
   (its last stretch clearly above the middle of the piece's range, or among its busiest and
   above ``BUSY_END``): then it ends on a chorus, planned with a section's length, not an outro's.
   A piece of ``TWO_SECTIONS_FROM_BARS`` to 9 bars is two sections (the first four bars long), a
   shorter one a single section. The sample videos' 2-minute timeline (bench/form.py) gets 6-8
   sections at 70-170 bpm.
3. Names from energy. The sections between intro and outro that are more intense than the middle
   of their range become choruses, the others verses (the first of three or more is a verse: a
   song's body opens with one); where the footage hardly changes
   (``STEADY_SPREAD``), the pop order verse-chorus-verse-chorus-bridge-chorus is used instead, so
   a steady video still gets a song, ending on a chorus (a bridge that would end it changes
   places with the chorus before it). Neighbours of one name are joined. Once two choruses have
   been heard, one quiet section becomes a bridge (or a break where it is the quietest part); a
   4-bar section between a verse and a chorus becomes a pre-chorus, and so do the last 4 bars of
   a 12-bar verse before a chorus, where the 4 bars last ``PRE_CHORUS_SECONDS`` or more.
4. Fresh material. A verse that comes after two choruses and ``CYCLE_BARS`` bars of the current
   cycle (a song's worth) starts a new cycle: new chord loops and a new tune, so a long video
   does not loop one song for minutes.
   The last chorus of a cycle with three or more, ``LIFT_AFTER_BARS`` into it, is lifted a whole
   step (``LIFT``), with the outro after it: the key change pop uses for a long song's final
   chorus.

``shape_form`` is the entry point: a user's form placed on the grid, or the plan.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from video2music.compose.energy import intensity, per_bar
from video2music.features import VideoFeatures
from video2music.theory.form import Form, Section, numbered
from video2music.theory.grid import Grid
from video2music.utils.errors import UserError

WINDOW_BARS = 4
CUT_ON_LINE = 0.15
NOVELTY_WEIGHT = 2.5  # on novelty scaled by its 90th percentile over the piece, squared
NOVELTY_CAP = 1.5
LENGTH_COST = {8: 0.0, 4: 1.0, 12: 1.0, 16: 1.2, 6: 2.0, 2: 2.5, 10: 2.5, 14: 2.8}
# Pop's sections are whole 4-bar phrases (2 at least). At 4.0 a change of footage on an odd bar
# line outweighed this, and 9-, 11- and 15-bar verses broke the phrases of the sample timeline at
# 91-150 bpm; at 8.0 the body's sections are even and an odd bar goes to the intro or outro.
ODD_LENGTH_COST = 8.0
SECTION_COST = 0.75  # every section: fewer, longer ones unless the video asks
# A section is heard in seconds, not bars: 8 bars at 150 bpm pass in 13 s, 4 at 90 bpm in 11 s,
# too short for a verse or chorus to establish itself. Each second a middle section lasts less
# than SECTION_SECONDS costs SHORT_SECONDS_COST (not in a short piece, whose sections are short).
SECTION_SECONDS = 20.0
SHORT_SECONDS_COST = 0.3
PRE_CHORUS_SECONDS = 8.0
SHORT_LENGTH_COST = {4: 0.0, 8: 1.0, 2: 1.5, 6: 1.5}  # under SHORT_PIECE_BARS bars: 4-bar sections
SHORT_PIECE_BARS = 24
# Intro and outro. Pop's are 2 or 4 bars; at 2.0 a 1- or 3-bar one was cheap enough to take up a
# bar the sections left over (the sample timeline at 90 bpm: intro 3 ... outro 1).
EDGE_COST = {2: 0.0, 4: 0.0, 1: 4.0, 3: 4.0}
# A piece with an odd number of bars takes its odd bar at its end, where no phrase follows it.
OUTRO_COST = {**EDGE_COST, 3: 1.5}
SHORT_EDGE_COST = {2: 0.0, 1: 0.5, 4: 0.5, 3: 1.5}
MAX_SECTION_BARS = 16
INTRO_FROM_BARS, OUTRO_FROM_BARS = 10, 12
TWO_SECTIONS_FROM_BARS = 6
STEADY_SPREAD = 0.08
BUSY_END = 0.5  # an intensity at which footage that ends among its busiest moments ends on a chorus
STEADY_ORDER = ("verse", "chorus", "verse", "chorus", "bridge", "chorus")
LIFT = 2
CYCLE_BARS = 64  # a song's length: after it, fresh material
LIFT_AFTER_BARS = 56  # a final chorus this far into its song is lifted (a long song's last lap)


def given_form(
    entries: Sequence[tuple[str, int, int]], grid: Grid, intensity: np.ndarray, source: str
) -> Form:
    """A user's form on ``grid``: it may not run past the music; a shorter one has its last
    section lengthened to the end. Energies come from the video (``intensity`` per bar)."""
    total = sum(bars for _, bars, _ in entries)
    bars = len(grid.bars)
    if total > bars:
        raise UserError(
            f"{source} has {total} bars but the music holds {bars} at {grid.tempo:g} bpm; "
            "shorten the form or give another --tempo"
        )
    sections, first = [], 0
    for i, (name, length, lift) in enumerate(entries):
        if i == len(entries) - 1:
            length = bars - first
        sections.append(
            Section(name, first, length, lift=lift, energy=float(intensity[first : first + length].mean()))
        )
        first += length
    return Form(_with_cycles(numbered(sections), lifts=False), given=True)


# ----------------------------------------------------------------------------- planning


def novelty(intensity: np.ndarray, emotion: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """(bars + 1,) how much the video changes at each bar line (0 at the piece's two ends):
    the distance between the mean intensity, emotion and cut rate of the ``WINDOW_BARS`` bars
    after the line and of those before it, plus ``CUT_ON_LINE`` for a cut on the line."""
    features = np.column_stack([2.0 * intensity, emotion, 0.5 * np.minimum(cuts, 2)])
    bars = len(features)
    out = np.zeros(bars + 1)
    for line in range(1, bars):
        before = features[max(0, line - WINDOW_BARS) : line].mean(axis=0)
        after = features[line : line + WINDOW_BARS].mean(axis=0)
        out[line] = np.abs(after - before).sum() + CUT_ON_LINE * (cuts[line] > 0)
    return out


def _length_cost(length: int, edge: str | None, bars: int) -> float:
    """The cost of a section ``length`` bars long in a piece of ``bars``: the ``edge`` one (intro
    or outro) or one of the body (None)."""
    short = bars < SHORT_PIECE_BARS
    if edge:
        costs = SHORT_EDGE_COST if short else OUTRO_COST if edge == "outro" else EDGE_COST
        return costs.get(length, math.inf)
    if length > MAX_SECTION_BARS:
        return math.inf
    return (SHORT_LENGTH_COST if short else LENGTH_COST).get(length, LENGTH_COST.get(length, ODD_LENGTH_COST))


def _segments(
    bars: int, line_novelty: np.ndarray, clock: np.ndarray, outro: bool = True
) -> list[tuple[int, int]]:
    """(first bar, bars) of each section: the boundaries with the most novelty less length costs
    (in bars, and in seconds from ``clock``, the second each bar line falls on); the last one an
    outro's length if ``outro`` and the piece is long enough for one."""
    intro, outro = bars >= INTRO_FROM_BARS, outro and bars >= OUTRO_FROM_BARS
    if bars < TWO_SECTIONS_FROM_BARS:  # a very short piece: one section
        return [(0, bars)]
    if not intro:  # a short one: two, the first four bars (or three) long
        first = 4 if bars > 6 else 3
        return [(0, first), (first, bars - first)]
    # A short piece is shaped by song form more than by its few changes.
    weight = NOVELTY_WEIGHT * min(1.0, bars / SHORT_PIECE_BARS)
    seconds_cost = SHORT_SECONDS_COST if bars >= SHORT_PIECE_BARS else 0.0
    best = np.full(bars + 1, -math.inf)
    best[0] = 0.0
    back = np.zeros(bars + 1, dtype=int)
    for end in range(1, bars + 1):
        for length in range(1, min(end, MAX_SECTION_BARS) + 1):
            start = end - length
            if best[start] == -math.inf:
                continue
            first, last = start == 0, end == bars
            if first and last and bars > MAX_SECTION_BARS:
                continue
            edge = "intro" if first and intro else "outro" if last and outro else None
            cost = _length_cost(length, edge if not (first and last) else None, bars) + SECTION_COST
            if not edge:
                cost += seconds_cost * max(0.0, SECTION_SECONDS - (clock[end] - clock[start]))
            if (first and intro) and (last and outro):
                continue
            score = best[start] - cost + (weight * line_novelty[end] if not last else 0.0)
            if score > best[end]:
                best[end], back[end] = score, start
    cuts, end = [], bars
    while end > 0:
        cuts.append((int(back[end]), int(end - back[end])))
        end = back[end]
    return cuts[::-1]


def _names(energies: np.ndarray) -> list[str]:
    """Verse or chorus for each middle section, by energy (or the pop order on steady footage),
    with one bridge or break per cycle once two choruses have been heard."""
    if len(energies) == 0:
        return []
    if len(energies) == 1:  # one section between intro and outro: by its energy, as a short piece
        return ["chorus" if energies[0] > 0.5 else "verse"]
    spread = float(energies.max() - energies.min())
    if spread < STEADY_SPREAD:
        names = [STEADY_ORDER[i % len(STEADY_ORDER)] for i in range(len(energies))]
        # The body ends on its chorus, as a song does: cut short, the order ended on a bridge (the
        # sample timeline at 120 and 150 bpm: ... chorus, bridge 16, outro) or on a verse.
        if names[-1] == "bridge":
            names[-2:] = ["bridge", "chorus"]
        elif names[-1] == "verse":
            names[-1] = "chorus"
        return names
    middle = (energies.max() + energies.min()) / 2
    names = ["chorus" if e > middle else "verse" for e in energies]
    if len(names) >= 3 and names[0] == "chorus":
        names[0] = "verse"  # a song's body opens with a verse
    choruses, bridged, quietest = 0, False, float(energies.min())
    for i, name in enumerate(names):
        if name == "chorus":
            choruses += 1
        elif choruses >= 2 and not bridged and i + 1 < len(names):
            names[i] = "break" if energies[i] <= quietest + spread * 0.1 else "bridge"
            bridged = True
        elif choruses >= 2:
            choruses, bridged = 0, False  # a verse after the bridge: the next cycle begins
    return names


def _merged(sections: list[Section]) -> list[Section]:
    """Neighbours of one name joined (a double chorus is one chorus), up to MAX_SECTION_BARS."""
    out: list[Section] = []
    for s in sections:
        if out and out[-1].name == s.name and out[-1].bars + s.bars <= MAX_SECTION_BARS:
            joined = out[-1].bars + s.bars
            energy = (out[-1].energy * out[-1].bars + s.energy * s.bars) / joined
            out[-1] = replace(out[-1], bars=joined, energy=energy)
        else:
            out.append(s)
    return out


def _with_pre_choruses(sections: list[Section], clock: np.ndarray) -> list[Section]:
    """A 4-bar verse between a verse and a chorus, or a 12-bar verse's last 4 bars before a chorus,
    as a pre-chorus, where those 4 bars last ``PRE_CHORUS_SECONDS`` (``clock``: each bar line's
    second) or more: a shorter one is gone before it is heard as a section."""
    out: list[Section] = []
    for i, s in enumerate(sections):
        follows_chorus = i + 1 < len(sections) and sections[i + 1].name == "chorus"
        last_four = clock[s.end_bar] - clock[s.end_bar - 4] if s.bars >= 4 else 0.0
        follows_chorus = follows_chorus and last_four >= PRE_CHORUS_SECONDS
        if s.name == "verse" and follows_chorus and s.bars == 4 and out and out[-1].name == "verse":
            out.append(replace(s, name="pre-chorus"))
        elif s.name == "verse" and follows_chorus and s.bars == 12:
            out += [replace(s, bars=8), replace(s, name="pre-chorus", first_bar=s.first_bar + 8, bars=4)]
        else:
            out.append(s)
    return out


def _with_cycles(sections: Sequence[Section], lifts: bool = True) -> tuple[Section, ...]:
    """Sections with their cycle (fresh material once a song's worth, ``CYCLE_BARS`` with two
    choruses, has been heard) and, with ``lifts``, the last chorus of a cycle of three or more
    (and an outro straight after it) lifted."""
    cycle, choruses, began, out = 0, 0, 0, []
    for s in sections:
        if s.name == "verse" and choruses >= 2 and s.first_bar - began >= CYCLE_BARS:
            cycle, choruses, began = cycle + 1, 0, s.first_bar
        choruses += s.name == "chorus"
        out.append(replace(s, cycle=cycle))
    if lifts:
        for c in range(cycle + 1):
            indices = [i for i, s in enumerate(out) if s.cycle == c and s.name == "chorus"]
            began = next(s.first_bar for s in out if s.cycle == c)
            if len(indices) >= 3 and out[indices[-1]].first_bar - began >= LIFT_AFTER_BARS:
                last = indices[-1]
                out[last] = replace(out[last], lift=LIFT)
                if last + 1 < len(out) and out[last + 1].name == "outro":
                    out[last + 1] = replace(out[last + 1], lift=LIFT)
    return tuple(out)


def plan_form(
    intensity: np.ndarray, emotion: np.ndarray, cuts: np.ndarray, bar_seconds: float | np.ndarray = 2.0
) -> Form:
    """The form of a piece from its bars' ``intensity`` (bars,), mean ``emotion`` (bars, 6), scene
    ``cuts`` (bars,: how many cuts each bar starts with or holds) and ``bar_seconds`` (each bar's
    length, or one for all: 2 is 4/4 at 120 bpm); see the module docstring."""
    bars = len(intensity)
    change = novelty(intensity, emotion, cuts)
    scale = float(np.percentile(change[1:-1], 90)) if bars > 2 else 0.0
    # Squared, so a change's own bar line stands out from the lines near it, and saturating (at
    # NOVELTY_CAP squared) so one big change does not outweigh song form, yet never flat: a change
    # well above the piece's others still peaks on its own line, not on a plateau with its
    # neighbours where the length costs would choose.
    line_novelty = NOVELTY_CAP**2 * np.tanh((change / scale / NOVELTY_CAP) ** 2) if scale > 0 else change
    clock = np.concatenate([[0.0], np.cumsum(np.broadcast_to(np.asarray(bar_seconds, dtype=float), (bars,)))])
    segments = _segments(bars, line_novelty, clock)
    energy = [float(intensity[a : a + n].mean()) for a, n in segments]
    has_intro = bars >= INTRO_FROM_BARS and len(segments) > 1
    # Footage still busy at its end ends on a chorus, as a song can, instead of thinning out.
    last, top = energy[-1], max(energy)
    loud_end = len(energy) > 2 and (
        last > (top + min(energy)) / 2 + STEADY_SPREAD or (last > BUSY_END and last >= top - STEADY_SPREAD)
    )
    if loud_end and bars >= OUTRO_FROM_BARS:  # a chorus's length for the last section, not an outro's
        segments = _segments(bars, line_novelty, clock, outro=False)
        energy = [float(intensity[a : a + n].mean()) for a, n in segments]
    has_outro = bars >= OUTRO_FROM_BARS and len(segments) > 2 and not loud_end
    middle = slice(int(has_intro), len(segments) - int(has_outro))
    names = _names(np.array(energy[middle]))
    if not names:  # a short piece: one section, by its energy
        names = ["chorus" if energy[0] > 0.5 else "verse"] * len(segments)
    elif loud_end:
        names[-1] = "chorus"
    names = ["intro"] * has_intro + names + ["outro"] * has_outro
    sections = [Section(n, a, b, energy=e) for n, (a, b), e in zip(names, segments, energy, strict=True)]
    return Form(_with_cycles(numbered(_with_pre_choruses(_merged(sections), clock))))


def shape_form(
    features: VideoFeatures,
    grid: Grid,
    density: np.ndarray,
    loudness: np.ndarray,
    given: Sequence[tuple[str, int, int]] | None = None,
    source: str = "--form",
) -> Form:
    """The form of the piece on ``grid``: ``given`` (name, bars, lift) entries placed on it, or
    the plan from the video's intensity (from the dynamics' ``density`` and ``loudness``),
    emotion and scene cuts."""
    bar_intensity = per_bar(intensity(density, loudness), grid)
    if given is not None:
        return given_form(given, grid, bar_intensity, source)
    cuts = np.zeros(len(grid.bars))
    for cut in features.scene_cuts:
        bar, _, _ = grid.position(int(round(cut / grid.seconds_per_beat)))
        cuts[min(bar, len(cuts) - 1)] += 1
    bar_seconds = np.asarray(grid.bars, dtype=float) * grid.seconds_per_beat
    return plan_form(bar_intensity, per_bar(features.emotion, grid), cuts, bar_seconds)
