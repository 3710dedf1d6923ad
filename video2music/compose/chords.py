"""The chord progression of a piece on its grid: the model's, decoded the pop way, or the user's.

The model proposes a chord per half bar (``video2music.model.decode``); ``GenerationSettings``
turn on the pop structure that decoding can add, with the constants below. A primer starts the
progression; an edited progression (``video2music.theory.progression``) replaces it outright.
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
from video2music.theory import vocab
from video2music.theory.grid import STEPS_PER_BAR, Grid
from video2music.theory.progression import TimedChords
from video2music.utils.errors import UserError

# Pop structure for decoding (see model/decode.py's DecodeOptions), in half-bar steps. Tuned with
# bench/musicality.py against held-out POP909 (the figures are in the README): a chord lasts at
# most two bars; the chord heard eight bars earlier gets LOOP_BIAS extra log-odds, so
# progressions come back as an 8-bar loop (a 4-bar loop gave 4 distinct chords in 30 s against
# pop's 7); holding a chord through the middle of a bar gets HOLD_BIAS, as pop changes mostly on
# bar lines. The sampling defaults a person may change (temperature, top_p, emotion guidance) and
# their ranges are in video2music.model.sampling.
MAX_HOLD_STEPS = 2 * STEPS_PER_BAR
LOOP_BIAS = 3.5
LOOP_BARS = 8
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


def write_chords(
    model: AffectiveMultimodalTransformer,
    features: VideoFeatures,
    *,
    tempo: float,
    key: vocab.Key | None,
    primer: list[int],
    edited: TimedChords | None,
    settings: GenerationSettings,
    seed: int,
    device: str = "cpu",
) -> Progression:
    """The grid of bars for ``features`` at ``tempo``, the key (``key``, or the edited chords'
    own, or chosen from the mood) and a chord per step: ``edited`` placed on the grid (moved into
    ``key``), or the model's, started by ``primer``
    (chord ids in the output key, a bar each or up to a scene cut; the loop brings them back)."""
    cuts = features.scene_cuts if settings.cut_changes else ()
    grid = Grid.for_video(features.duration, tempo, cuts)
    on_grid = grid.resample(features)
    video_input = build_video_input(on_grid, model.config.inputs).to(device)
    if edited is not None:  # in the key asked for, else the chords' own
        key = key or edited.own_key()
        return Progression(grid, key, edited.on_grid(grid, key), edited.source)
    key = key or choose_key(features.emotion, seed, video_digest(video_input))
    primer_steps = _primer_steps(primer, grid)
    options = dataclasses.replace(
        settings.decode_options(seed),
        primer=tuple(vocab.transpose_chord(c, -key.transpose) for c in primer_steps),
        change_at=grid.cut_steps,
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
