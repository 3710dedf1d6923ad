"""The Gradio page: a video in, controls, a Generate button; the scored video, audio, timeline,
chords and downloads out. All the work happens in ``video2music.app.service``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import gradio as gr
import pretty_midi

from video2music.app.service import AUTO_KEY, BACKENDS, KEY_CHOICES, Request, Scorer
from video2music.errors import UserError
from video2music.music.arrange import Instruments

logger = logging.getLogger(__name__)

PROGRAMS = [(f"{p} {pretty_midi.program_to_instrument_name(p)}", p) for p in range(128)]
DOWNLOADS = ("midi", "wav", "video", "json", "leadsheet")

INTRO = """# video2music
Score a video with music you can edit: chords that follow its mood and cuts, arranged for
chords, arpeggio, bass and drums. Upload a video (or pick the sample below), choose settings and
press **Generate**. Another seed or other settings reuse the video's features, so they are quick.
"""


_INTEGERS = ("chords_program", "arpeggio_program", "bass_program", "seed")
_FLOATS = ("tempo", "temperature", "emotion_strength")


def _request(settings: dict[str, Any]) -> Request:
    """The page's values as a Request (a cleared number box sends None, sliders send floats)."""
    for name in _INTEGERS:
        settings[name] = int(settings[name] or 0)
    for name in _FLOATS:
        settings[name] = float(settings[name])
    settings["primer"] = settings["primer"] or ""
    settings["drums"] = bool(settings["drums"])
    return Request(**settings)


def build(scorer: Scorer, sample: Path | None = None) -> gr.Blocks:
    """The page, wired to ``scorer``; ``sample`` (a video file) is offered as an example."""

    controls: dict[str, gr.components.Component] = {}  # Request field -> page control, filled below

    def generate(*values, progress=gr.Progress()):  # noqa: B008 - Gradio's way to show progress
        request = _request(dict(zip(controls, values, strict=True)))
        try:
            outcome = scorer.run(request, progress=lambda fraction, message: progress(fraction, desc=message))
        except UserError as error:
            raise gr.Error(str(error), print_exception=False) from None
        except Exception as error:
            # The visitor gets one line and the server keeps serving; the details go to the log.
            logger.exception("generation failed")
            raise gr.Error(
                f"generation failed unexpectedly ({type(error).__name__}); the server log has the details",
                print_exception=False,
            ) from None
        files = outcome.files
        return (
            str(files["video"]),
            str(files["wav"]),
            str(files["plot"]),
            outcome.chords_text,
            [str(files[name]) for name in DOWNLOADS],
            outcome.status(),
        )

    defaults = Instruments()
    # Uploads pile up in the app's folder; Gradio drops those older than a day, hourly (the run
    # folders are pruned by RunFolders, the bundled sample is kept).
    with gr.Blocks(title="video2music", analytics_enabled=False, delete_cache=(3600, 86400)) as page:
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column(scale=1):
                video = gr.Video(label="Video", sources=["upload"], elem_id="input-video")
                if sample is not None:
                    gr.Examples([[str(sample)]], inputs=[video], label="Sample video", elem_id="sample")
                with gr.Row():
                    key = gr.Dropdown(list(KEY_CHOICES), value=AUTO_KEY, label="Key", elem_id="key")
                    primer = gr.Textbox(
                        label="Primer chords (optional, in the chosen key)",
                        placeholder="e.g. C Am F G",
                        elem_id="primer",
                    )
                with gr.Row():
                    seed = gr.Number(value=0, precision=0, label="Seed", elem_id="seed")
                    tempo = gr.Slider(40, 240, value=120, step=1, label="Tempo (bpm)", elem_id="tempo")
                with gr.Row():
                    temperature = gr.Slider(
                        0, 2, value=1.0, step=0.05, label="Temperature (0 = likeliest)", elem_id="temperature"
                    )
                    emotion_strength = gr.Slider(
                        0,
                        3,
                        value=scorer.v2m.settings.emotion_guidance,
                        step=0.1,
                        label="Emotion strength (0 = off)",
                        elem_id="emotion",
                    )
                with gr.Accordion("Instruments and features", open=False):
                    chords_program = gr.Dropdown(PROGRAMS, value=defaults.chords, label="Chords")
                    arpeggio_program = gr.Dropdown(PROGRAMS, value=defaults.arpeggio, label="Arpeggio")
                    bass_program = gr.Dropdown(PROGRAMS, value=defaults.bass, label="Bass")
                    drums = gr.Checkbox(value=True, label="Drums")
                    backend = gr.Radio(
                        list(BACKENDS),
                        value="auto",
                        label="Feature backend (auto: what the model needs; clip needs the CLIP weights)",
                    )
                button = gr.Button("Generate", variant="primary", elem_id="generate")
            with gr.Column(scale=1):
                out_video = gr.Video(label="Video with music", interactive=False, elem_id="result-video")
                out_audio = gr.Audio(
                    label="Music (WAV)", type="filepath", interactive=False, elem_id="result-audio"
                )
                status = gr.Markdown(elem_id="status")
                chords = gr.Textbox(label="Chord progression", lines=3, interactive=False, elem_id="chords")
                plot = gr.Image(label="Timeline", type="filepath", interactive=False, elem_id="plot")
                downloads = gr.File(
                    label="Downloads: MIDI, WAV, MP4, JSON",
                    file_count="multiple",
                    interactive=False,
                    elem_id="downloads",
                )
        controls.update(
            video=video,
            key=key,
            primer=primer,
            tempo=tempo,
            chords_program=chords_program,
            arpeggio_program=arpeggio_program,
            bass_program=bass_program,
            drums=drums,
            seed=seed,
            temperature=temperature,
            emotion_strength=emotion_strength,
            backend=backend,
        )
        button.click(
            generate,
            inputs=list(controls.values()),
            outputs=[out_video, out_audio, plot, chords, downloads, status],
            api_name="generate",
        )
    return page
