"""The chord progression of a piece on its grid: the model's, decoded the pop way, or the user's.

The model proposes a chord per half bar (``video2music.model.decode``); ``GenerationSettings``
turn on the pop structure that decoding can add, with the constants below. The song form
(``compose.form_planner``) decides what repeats: the first section of each chord family (verse, chorus,
...) is decoded with a loop inside it (each bar leans towards the one ``LOOP_BARS`` back), and every
later section of that family repeats it chord for chord (``form_steps``). A primer
starts the progression; an edited progression (``video2music.theory.progression``) replaces it
outright.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from video2music.compose.key import choose_key
from video2music.features import VideoFeatures
from video2music.model import sampling
from video2music.model.decode import DecodeOptions, decode_chords, video_digest
from video2music.model.inputs import build_video_input
from video2music.model.transformer import AffectiveMultimodalTransformer
from video2music.theory import harmony, vocab
from video2music.theory.form import Form
from video2music.theory.grid import STEPS_PER_BAR, Grid
from video2music.theory.progression import TimedChords
from video2music.utils.errors import UserError

# Pop structure for decoding (see model/decode.py's DecodeOptions), in half-bar steps. Tuned with
# bench/musicality.py against held-out POP909 (the figures are in the README): a chord lasts at
# most two bars; inside a section the chord heard LOOP_BARS earlier gets LOOP_BIAS extra log-odds,
# so a section's progression comes back as a loop, and the sections the form repeats repeat it
# exactly; holding a chord through the middle of a bar gets HOLD_BIAS, as pop changes mostly on
# bar lines. The sampling defaults a person may change (temperature, top_p, emotion guidance) and
# their ranges are in video2music.model.sampling.
MAX_HOLD_STEPS = 2 * STEPS_PER_BAR
LOOP_BIAS = 3.5
LOOP_BARS = 4
HOLD_BIAS = 3.0


@dataclass(frozen=True)
class GenerationSettings:
    """How chords are sampled and placed, for every video until ``set_generation_params`` changes it.

    ``cut_changes`` starts a new chord on every scene cut; ``emotion_guidance`` pulls chords toward
    qualities that fit each step's emotion (0 = off); ``in_key`` applies the key mask of
    ``video2music.theory.harmony``; ``loop_bias`` pulls towards the chord ``loop_bars`` back,
    ``hold_bias`` towards holding a chord through the middle of a bar; ``cadence`` ends on the
    tonic; ``max_repeat`` is the longest a chord lasts, in half-bar steps. They map onto
    ``DecodeOptions``, with the random stream keyed by the video as well as the seed.
    """

    temperature: float = sampling.TEMPERATURE
    top_p: float = sampling.TOP_P
    max_repeat: int = MAX_HOLD_STEPS
    allow_n: bool = False
    emotion_guidance: float = sampling.EMOTION_GUIDANCE
    cut_changes: bool = True
    in_key: bool = True
    loop_bias: float = LOOP_BIAS
    loop_bars: int = LOOP_BARS
    hold_bias: float = HOLD_BIAS
    cadence: bool = True

    def __post_init__(self) -> None:
        self.decode_options(seed=0).check()

    def decode_options(self, seed: int) -> DecodeOptions:
        """The sampling options for one piece (primer and cuts are added once the video is known)."""
        return DecodeOptions(
            seed=seed,
            temperature=self.temperature,
            top_p=self.top_p,
            allow_n=self.allow_n,
            max_repeat=self.max_repeat,
            emotion_guidance=self.emotion_guidance,
            key_mask=self.in_key,
            loop_bias=self.loop_bias,
            loop_steps=self.loop_bars * STEPS_PER_BAR,
            hold_bias=self.hold_bias,
            cadence=self.cadence,
            vary_with_video=True,
        )

    def replace(self, **changes: Any) -> GenerationSettings:
        """A copy with ``changes``; UserError for an unknown name or a bad value."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise UserError(f"unknown generation parameter(s) {unknown}; known: {sorted(known)}")
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Progression:
    """A piece's chords: one id per step of ``grid`` in the normalised key, the output ``key``, and
    where they came from (``source``: the edited file or text; None for the model's)."""

    grid: Grid
    key: vocab.Key
    chords: list[int]
    source: str | None = None


def form_steps(form: Form, loop_bars: int = LOOP_BARS) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Per half-bar step, (the earlier step whose chord it repeats, the earlier step its loop leans
    to), -1 for none: a section of a family heard before repeats the longest one heard so far (and
    decodes on past its end, looping); a new one loops every ``loop_bars`` bars inside."""
    steps = form.bars * STEPS_PER_BAR
    copy_from, loop_from = [-1] * steps, [-1] * steps
    heard: dict[tuple[str, int], tuple[int, int]] = {}  # chord family -> (first step, steps)
    loop = loop_bars * STEPS_PER_BAR
    for section in form.sections:
        start, length = section.first_bar * STEPS_PER_BAR, section.bars * STEPS_PER_BAR
        source = heard.get(section.chords_key)
        for i in range(length):
            if source is not None and i < source[1]:
                copy_from[start + i] = source[0] + i
            elif i >= loop:
                loop_from[start + i] = start + i - loop
        if source is None or length > source[1]:
            heard[section.chords_key] = (start, length)
    return tuple(copy_from), tuple(loop_from)


def write_chords(
    model: AffectiveMultimodalTransformer,
    features: VideoFeatures,
    grid: Grid,
    form: Form,
    *,
    key: vocab.Key | None,
    primer: list[int],
    edited: TimedChords | None,
    settings: GenerationSettings,
    seed: int,
    device: str = "cpu",
) -> Progression:
    """The key (``key``, or the edited chords' or the primer's own, or chosen from the mood) and a
    chord per step of ``grid``: ``edited`` placed on it (moved into ``key``), or the model's in the shape of
    ``form``, started by ``primer`` (chord ids in the output key, a bar each or up to a scene cut;
    the section loops bring them back)."""
    on_grid = grid.resample(features)
    video_input = build_video_input(on_grid, model.config.inputs).to(device)
    if edited is not None:  # in the key asked for, else the chords' own
        key = key or edited.own_key()
        return Progression(grid, key, edited.on_grid(grid, key), edited.source)
    if key is None:  # a primer's chords name their key, as edited chords do; else the mood picks
        key = (
            harmony.fitting_key(primer)
            if primer
            else choose_key(features.emotion, seed, video_digest(video_input))
        )
    primer_steps = _primer_steps(primer, grid)
    copy_from, loop_from = form_steps(form, settings.loop_bars)
    options = dataclasses.replace(
        settings.decode_options(seed),
        primer=tuple(vocab.transpose_chord(c, -key.transpose) for c in primer_steps),
        change_at=grid.cut_steps,
        copy_from=copy_from,
        loop_from=loop_from,
    )
    chords = decode_chords(model, video_input, key.mode_bit, options, emotion=on_grid.emotion)
    return Progression(grid, key, [int(c) for c in chords])


def _primer_steps(primer: list[int], grid: Grid) -> list[int]:
    """The primer's chords per step: each lasts a bar, but a scene cut inside its bar starts the
    next one there, so the primer changes chord at every cut as the model's chords do."""
    steps: list[int] = []
    for chord in primer:
        for held in range(STEPS_PER_BAR):
            if held and len(steps) in grid.cut_steps:
                break
            steps.append(chord)
    return steps[: grid.steps]
