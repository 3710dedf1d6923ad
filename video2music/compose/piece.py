"""One piece from a video's timeline: every compositional decision, in the order they are made.

``Request`` is what a user chooses for a piece, parsed and checked before any video is read.
``compose_piece`` then decides, stage by stage (each timed on the caller's stopwatch):

1. ``dynamics``: note density and loudness per second (``compose.dynamics``);
2. ``form``: the tempo (the user's, or from the video's pace and cuts: ``compose.tempo``), the
   grid of bars at it (bent at scene cuts, ``theory.grid``) and the song form on it
   (``compose.form_planner``: the user's, a chords JSON's, or planned from the video);
3. ``chords``: the key and a chord per half bar (``compose.chords``: the model's in the form's
   shape, or the user's edited progression);
4. ``melody``: the lead line (``compose.melody``), resting where a mix ducks the music;
5. ``arrange``: the parts, section by section, into MIDI (``compose.arrange``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from video2music.compose.arrange import arrange
from video2music.compose.arrangement import Arrangement
from video2music.compose.chords import GenerationSettings, write_chords
from video2music.compose.dynamics import Dynamics
from video2music.compose.energy import intensity
from video2music.compose.form_planner import shape_form
from video2music.compose.instruments import Instruments
from video2music.compose.melody import write_melody
from video2music.compose.styles import DEFAULT_STYLE, STYLES, Style, style_named
from video2music.compose.tempo import choose_tempo
from video2music.features import VideoFeatures
from video2music.model.melody_gru import MelodyModel
from video2music.model.transformer import AffectiveMultimodalTransformer
from video2music.theory import vocab
from video2music.theory.form import Form, FormEntries, parse_form
from video2music.theory.grid import AUTO_TEMPO, Grid, check_tempo
from video2music.theory.progression import TimedChords
from video2music.utils.timing import Stopwatch

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Request:
    """One piece's choices, parsed and checked: the key (None: from the mood), primer chord ids
    (in the output key, a bar each), the tempo (None: from the video), the form's entries (None:
    planned), edited chords
    (None: the model's), the instruments, which parts play and the seed. ``primer_text`` and
    ``form_text`` keep what the user typed, for the JSON."""

    key: vocab.Key | None = None
    primer: tuple[int, ...] = ()
    tempo: float | None = None
    form: FormEntries | None = None
    edited: TimedChords | None = None
    instruments: Instruments | None = None
    drums: bool = True
    melody: bool = True
    seed: int = 0
    primer_text: str | None = None
    form_text: str | None = None
    style: Style = STYLES[DEFAULT_STYLE]

    @classmethod
    def parse(
        cls,
        *,
        key: str | vocab.Key | None = None,
        primer: str | None = None,
        tempo: float | str | None = AUTO_TEMPO,
        form: str | None = None,
        style: str | None = None,
        **choices: Any,
    ) -> Request:
        """A request from what a user typed (``tempo`` a number of bpm, or ``auto`` / None: from
        the video; ``style`` a preset's name, None: pop); UserError for anything that cannot be
        played."""
        return cls(
            key=vocab.parse_key(key) if isinstance(key, str) else key,
            primer=tuple(vocab.parse_progression(primer)) if primer else (),
            tempo=None if tempo is None or tempo == AUTO_TEMPO else check_tempo(tempo),
            form=tuple(parse_form(form)) if form else None,
            primer_text=primer,
            form_text=form,
            style=style_named(style),
            **choices,
        )

    def record(self) -> dict[str, Any]:
        """What the JSON says the user asked for."""
        instruments = self.instruments
        return {
            "seed": self.seed,
            "key_chosen_from_mood": self.key is None and self.edited is None,
            "primer": self.primer_text,
            "form_asked": self.form_text,
            "style": self.style.name,
            "drums": self.drums,
            "melody": self.melody,
            "chords_from": self.edited.source if self.edited is not None else None,
            "instruments": None if instruments is None else dataclasses.asdict(instruments),
            "instrument_names": (instruments or Instruments()).names(),
        }


@dataclass(frozen=True)
class Models:
    """The models a piece is composed with."""

    chords: AffectiveMultimodalTransformer
    melody: MelodyModel | None
    dynamics: Dynamics
    device: str = "cpu"


@dataclass
class Piece:
    """What ``compose_piece`` decided: the grid and form, the key, a chord per step (normalised),
    the per-second dynamics and the arrangement."""

    grid: Grid
    form: Form
    key: vocab.Key
    chords: list[int]
    density: np.ndarray
    loudness: np.ndarray
    arrangement: Arrangement
    tempo_reason: str  # why the tempo is what it is


def compose_piece(
    models: Models,
    features: VideoFeatures,
    request: Request,
    settings: GenerationSettings,
    *,
    rests: Callable[[], Sequence[tuple[float, float]]] = tuple,
    watch: Stopwatch | None = None,
    report: Progress | None = None,
) -> Piece:
    """The piece for ``features`` as ``request`` asks (see the module docstring). ``rests`` gives
    the (start, end) seconds where the melody is silent because a mix ducks the music under the
    video's own sound; it is called when the melody is written (the sound may be decoded
    meanwhile)."""
    watch = watch or Stopwatch()
    report = report or (lambda fraction, message: None)
    report(0.4, "planning the song")
    with watch("dynamics"):
        density, loudness = models.dynamics(features)
    with watch("form"):
        tempo, reason = request.tempo, "given"
        if tempo is None:
            choice = choose_tempo(features, density, request.style.tempo_range)
            tempo, reason = choice.tempo, f"from the video: {choice.reason()}"
        cuts = features.scene_cuts if settings.cut_changes else ()
        grid = Grid.for_video(features.duration, tempo, cuts)
        given, source = request.form, "--form"
        if given is None and request.edited is not None and request.edited.form is not None:
            given, source = request.edited.form, request.edited.source
        form = shape_form(features, grid, density, loudness, given, source)

    report(0.6, "writing chords")
    with watch("chords"):
        progression = write_chords(
            models.chords, features, grid, form, key=request.key, primer=list(request.primer),
            edited=request.edited, settings=settings, seed=request.seed, device=models.device,
        )  # fmt: skip
    key, chords = progression.key, progression.chords

    report(0.7, "writing the melody")
    with watch("melody"):
        lead = None
        if request.melody:
            lead = write_melody(
                models.melody, chords, grid, form, grid.sample(density),
                seed=request.seed, transpose=key.transpose, rests=rests(),
            )  # fmt: skip

    report(0.8, "arranging")
    with watch("arrange"):
        arrangement = arrange(
            chords, grid.sample(density), grid.sample(loudness), key, tempo=tempo,
            instruments=request.instruments, grid=grid, drums=request.drums, melody=lead, form=form,
            style=request.style, intensity=grid.sample(intensity(density, loudness)),
            end_seconds=features.duration,
        )  # fmt: skip
    report(1.0, "done")
    return Piece(grid, form, key, chords, density, loudness, arrangement, reason)
