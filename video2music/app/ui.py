"""The Gradio page: a video in, controls, a Generate button; the scored video, audio, timeline,
chords and downloads out. All the work happens in ``video2music.app.service``.

One status line under the buttons is the page's only progress display and its only message box:
it moves through the request's real stages, and a problem shows there as one plain sentence
(the other panels keep what they showed). Both buttons are disabled while a request runs. The
chord progression can be edited and rendered again over the same video; every take of a visit
keeps its own files (``NAME_take<N>``), listed for download.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path
from typing import Any

import gradio as gr
import pretty_midi

from video2music.app.service import (
    AUDIO_CHOICES,
    AUTO_KEY,
    BACKENDS,
    KEY_CHOICES,
    Request,
    ScoredRequest,
    Scorer,
)
from video2music.audio.mux import MIX_MUSIC_GAIN_DB, MUSIC_GAIN_RANGE
from video2music.compose.instruments import DRUM_KITS, PRESETS, Instruments
from video2music.compose.styles import DEFAULT_STYLE
from video2music.model import sampling
from video2music.theory.grid import DEFAULT_TEMPO, MAX_TEMPO, MIN_TEMPO
from video2music.utils.errors import UserError

logger = logging.getLogger(__name__)

PROGRAMS = [(f"{p} {pretty_midi.program_to_instrument_name(p)}", p) for p in range(128)]
KITS = [
    (f"{number} {name}", number) for number, name in {n: k for k, n in reversed(DRUM_KITS.items())}.items()
]
# The files of a take offered for download, in order, with the names the downloads label gives them.
DOWNLOADS = {
    "midi": "MIDI",
    "wav": "music WAV",
    "video": "MP4",
    "mix": "mixed WAV",
    "json": "JSON",
    "leadsheet": "MusicXML lead sheet",
}
AUDIO_LABELS = {
    "mix": "mix: the video's own sound, the music under it (lowered while the sound is loud)",
    "replace": "replace: the music alone",
    "music-only": "music only: no video, just the music files",
}

INTRO = """# video2music
Score a video with music you can edit: chords that follow its mood and cuts, arranged for
chords, arpeggio, bass, drums and a melody, mixed under the video's own sound (the melody rests
while that sound leads). Upload a video (or pick the sample below), choose settings and press
**Generate**. Another seed or other settings reuse the video's features, so they are quick;
edit the chords and press **Re-render** to hear your version.
"""
TIMELINE = (
    "The timeline, top to bottom: the emotion the video shows, its pace (movement and cuts), "
    "the chords (blue: major family, orange: minor family) and the note density and loudness "
    "that shape the patterns; dashed lines are scene cuts."
)
# Phones: each control takes the whole width rather than being squeezed beside another (the
# launcher hands this to Gradio).
CSS = """
@media (max-width: 600px) {
  #key, #primer, #seed, #tempo { min-width: 100% !important; }
}
#status { min-height: 2.5em; }
"""

_INTEGERS = ("chords_program", "arpeggio_program", "bass_program", "drums_program", "seed")
_FLOATS = ("tempo", "temperature", "emotion_strength", "music_gain")  # an automatic one is None


def _request(settings: dict[str, Any]) -> Request:
    """The page's values as a Request (a cleared number box sends None, sliders send floats; an
    automatic music level is the soundtrack's default, None)."""
    for name in _INTEGERS:
        settings[name] = int(settings[name] or 0)
    for name in _FLOATS:
        settings[name] = float(settings[name])
    if settings.pop("music_gain_auto"):
        settings["music_gain"] = None
    if settings.pop("tempo_auto"):
        settings["tempo"] = None
    settings["primer"] = settings["primer"] or ""
    settings["drums"] = bool(settings["drums"])
    settings["melody"] = bool(settings["melody"])
    return Request(**settings)


def downloads_label(kinds: Collection[str]) -> str:
    """The downloads box's label, naming the files a take has (a mixed WAV only where the video
    had a sound to mix with)."""
    return "Downloads of this take: " + ", ".join(name for kind, name in DOWNLOADS.items() if kind in kinds)


def _outputs(outcome: ScoredRequest, takes: list[list[str]]) -> tuple:
    files = outcome.files
    this_take = [str(files[kind]) for kind in DOWNLOADS if kind in files]
    earlier = [path for take in reversed(takes) for path in take]
    return (
        str(files["video"]) if "video" in files else None,
        str(files["wav"]),
        str(files["plot"]),
        outcome.chords_text,
        gr.update(value=this_take, label=downloads_label(files)),
        earlier or None,
        outcome.status(),
        [*takes, this_take],
    )


def build(scorer: Scorer, sample: Path | None = None) -> gr.Blocks:
    """The page, wired to ``scorer``; ``sample`` (a video file) is offered as an example."""

    # Request field -> page control, filled below (and the music level's Automatic switch)
    controls: dict[str, gr.components.Component] = {}

    def run(values: tuple, chords: str, takes: list[list[str]], progress: gr.Progress) -> tuple:
        settings = dict(zip(controls, values, strict=True))
        request = _request({**settings, "chords": chords, "take": len(takes) + 1})
        try:
            outcome = scorer.run(request, progress=lambda fraction, message: progress(fraction, desc=message))
        except UserError as error:
            message = str(error)
        except Exception as error:
            # The visitor gets one sentence and the server keeps serving; the details go to the log.
            logger.exception("generation failed")
            message = (
                f"generation failed unexpectedly ({type(error).__name__}); the server log has the details"
            )
        else:
            return _outputs(outcome, takes)
        sentence = message[0].upper() + message[1:]
        return (*(gr.skip() for _ in range(6)), f"**Could not generate:** {sentence}.", gr.skip())

    def generate(*values, progress=gr.Progress()):  # noqa: B008 - Gradio's way to show progress
        *settings, takes = values
        return run(tuple(settings), "", takes, progress)

    def rerender(*values, progress=gr.Progress()):  # noqa: B008
        *settings, chords, takes = values
        if not chords.strip():
            return (*(gr.skip() for _ in range(6)), "**Nothing to re-render:** generate first.", gr.skip())
        return run(tuple(settings), chords, takes, progress)

    defaults = Instruments()
    # Uploads pile up in the app's folder; Gradio drops those older than a day, hourly (the run
    # folders are pruned by RunFolders, the bundled sample is kept).
    with gr.Blocks(title="video2music", analytics_enabled=False, delete_cache=(3600, 86400)) as page:
        gr.Markdown(INTRO)
        takes = gr.State([])
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                video = gr.Video(label="Video", sources=["upload"], elem_id="input-video")
                if sample is not None:
                    gr.Examples([[str(sample)]], inputs=[video], label="Sample video", elem_id="sample")
                key = gr.Dropdown(list(KEY_CHOICES), value=AUTO_KEY, label="Key", elem_id="key")
                primer = gr.Textbox(
                    label="Primer chords (optional, in the chosen key)",
                    placeholder="e.g. C Am F G",
                    elem_id="primer",
                )
                with gr.Row():
                    seed = gr.Number(value=0, precision=0, label="Seed", elem_id="seed", min_width=140)
                    tempo = gr.Slider(
                        MIN_TEMPO,
                        MAX_TEMPO,
                        value=DEFAULT_TEMPO,
                        step=1,
                        label="Tempo (bpm)",
                        elem_id="tempo",
                        min_width=200,
                        interactive=False,
                    )
                tempo_auto = gr.Checkbox(
                    value=True,
                    label="Automatic tempo: from the video's pace and cuts (the status line says which)",
                    elem_id="tempo-auto",
                )
                temperature = gr.Slider(
                    *sampling.TEMPERATURE_RANGE,
                    value=scorer.v2m.settings.temperature,
                    step=0.05,
                    label="Temperature (0 = likeliest)",
                    elem_id="temperature",
                )
                emotion_strength = gr.Slider(
                    *sampling.EMOTION_GUIDANCE_RANGE,
                    value=scorer.v2m.settings.emotion_guidance,
                    step=0.1,
                    label="Emotion strength (0 = off)",
                    elem_id="emotion",
                )
                audio = gr.Radio(
                    [(AUDIO_LABELS[mode], mode) for mode in AUDIO_CHOICES],
                    value="mix",
                    label="Sound of the video with music",
                    elem_id="audio",
                )
                music_gain_auto = gr.Checkbox(
                    value=True,
                    label=f"Automatic music level: {MIX_MUSIC_GAIN_DB:g} dB under the video's own sound, "
                    "0 dB where the music plays alone",
                    elem_id="gain-auto",
                )
                music_gain = gr.Slider(
                    *MUSIC_GAIN_RANGE,
                    value=MIX_MUSIC_GAIN_DB,
                    step=1,
                    label="Music level (dB)",
                    elem_id="gain",
                    interactive=False,
                )
                with gr.Accordion("Instruments and features", open=False):
                    style = gr.Dropdown(
                        list(PRESETS),
                        value=DEFAULT_STYLE,
                        label="Style: how the parts play, and their instruments (change them below)",
                        elem_id="preset",
                    )
                    chords_program = gr.Dropdown(PROGRAMS, value=defaults.chords, label="Chords")
                    arpeggio_program = gr.Dropdown(PROGRAMS, value=defaults.arpeggio, label="Arpeggio")
                    bass_program = gr.Dropdown(PROGRAMS, value=defaults.bass, label="Bass")
                    drums_program = gr.Dropdown(KITS, value=defaults.drums, label="Drum kit")
                    drums = gr.Checkbox(value=True, label="Drums")
                    melody = gr.Checkbox(value=True, label="Melody", elem_id="melody")
                    backend = gr.Radio(
                        list(BACKENDS),
                        value="auto",
                        label="Feature backend (auto: what the model needs; clip needs the CLIP weights)",
                    )
                button = gr.Button("Generate", variant="primary", elem_id="generate")
            with gr.Column(scale=1, min_width=320):
                status = gr.Markdown(elem_id="status")
                out_video = gr.Video(label="Video with music", interactive=False, elem_id="result-video")
                out_audio = gr.Audio(
                    label="Music alone (WAV)", type="filepath", interactive=False, elem_id="result-audio"
                )
                chords = gr.Textbox(
                    label="Chord progression: seconds and chord, e.g. 0s Am | 2s F; edit it, then Re-render",
                    lines=3,
                    interactive=True,
                    elem_id="chords",
                )
                rerender_button = gr.Button("Re-render with these chords", elem_id="rerender")
                plot = gr.Image(label="Timeline", type="filepath", interactive=False, elem_id="plot")
                gr.Markdown(TIMELINE, elem_id="timeline-legend")
                downloads = gr.File(
                    label="Downloads of this take",
                    file_count="multiple",
                    interactive=False,
                    elem_id="downloads",
                )
                earlier = gr.File(
                    label="Earlier takes", file_count="multiple", interactive=False, elem_id="takes"
                )
        controls.update(
            video=video,
            key=key,
            primer=primer,
            tempo=tempo,
            style=style,
            chords_program=chords_program,
            arpeggio_program=arpeggio_program,
            bass_program=bass_program,
            drums_program=drums_program,
            drums=drums,
            melody=melody,
            seed=seed,
            temperature=temperature,
            emotion_strength=emotion_strength,
            backend=backend,
            audio=audio,
            music_gain=music_gain,
            music_gain_auto=music_gain_auto,
            tempo_auto=tempo_auto,
        )
        tempo_auto.change(lambda auto: gr.update(interactive=not auto), tempo_auto, tempo, queue=False)
        music_gain_auto.change(
            lambda auto: gr.update(interactive=not auto), music_gain_auto, music_gain, queue=False
        )

        def apply_style(name: str) -> tuple:
            chosen = Instruments.preset(name)
            return chosen.chords, chosen.arpeggio, chosen.bass, chosen.drums

        style.change(
            apply_style, style, [chords_program, arpeggio_program, bass_program, drums_program], queue=False
        )
        results = [out_video, out_audio, plot, chords, downloads, earlier, status, takes]
        buttons = [button, rerender_button]
        for trigger, handler, extra, name in (
            (button, generate, [takes], "generate"),
            (rerender_button, rerender, [chords, takes], "rerender"),
        ):
            trigger.click(lambda: [gr.update(interactive=False)] * 2, None, buttons, queue=False).then(
                handler,
                inputs=[*controls.values(), *extra],
                outputs=results,
                api_name=name,
                show_progress="full",
                show_progress_on=[status],
            ).then(lambda: [gr.update(interactive=True)] * 2, None, buttons, queue=False)
    return page
