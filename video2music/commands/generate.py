"""``generate.py``: score videos with music -> MIDI, WAV, video with music, JSON (and PNG)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from video2music.audio.mux import (
    MIX_MUSIC_GAIN_DB,
    MUSIC_GAIN_RANGE,
    Soundtrack,
    check_music_gain,
    decode_own_sound_soon,
)
from video2music.audio.synth import LOUDNESS_TARGET
from video2music.commands.playback import add_playback_options, check_playback_options
from video2music.compose.instruments import PRESETS, Instruments
from video2music.features.clip import clip_source
from video2music.features.extract import BACKENDS, extract
from video2music.features.video_features import VideoFeatures
from video2music.model import sampling
from video2music.theory import vocab
from video2music.theory.form import parse_form
from video2music.theory.grid import AUTO_TEMPO, MAX_TEMPO, MIN_TEMPO, check_tempo
from video2music.theory.progression import TimedChords, load_chords
from video2music.utils.cluster import Cluster, add_ray_option, connect, import_ray, run_tasks, task_device
from video2music.utils.errors import ArgumentParser, UserError, check_range, cli_main, number_in_range
from video2music.utils.forked import ForkedCall
from video2music.utils.timing import Stopwatch
from video2music.utils.video_io import find_videos

if TYPE_CHECKING:  # both load torch: imported where they are used, once the arguments are checked
    from video2music.audio.renderer import Renderer
    from video2music.output.writer import OutputSet
    from video2music.pipeline import Video2Music

logger = logging.getLogger(__name__)
WITHOUT_CLIP = "--features basic"
FEATURE_BACKENDS = ("auto", *BACKENDS)

HARMONIES = {"pop": "default", "chorale": "chorale"}  # --harmony -> the shipped model that writes it


def _span(bounds: tuple[float, float]) -> str:
    return f"{bounds[0]:g} to {bounds[1]:g}"


def _sampling(what: str, bounds: tuple[float, float], above: bool = False):
    return number_in_range(functools.partial(check_range, what, bounds=bounds, above=above))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = ArgumentParser(
        prog="generate.py",
        description="Score a video with editable music: writes NAME.mid, NAME.wav, "
        "NAME_with_music.mp4, NAME.json and the lead sheet NAME.musicxml beside the video (or in --out).",
        epilog="Re-render with edits: --features NAME.npz reuses extracted features (python -m "
        "video2music.features), --chords NAME.json (or '0 Am | 2 F | 4 C') plays your chords over the "
        "same features, dynamics and cuts. Bad input prints one 'error:' line and exits with status 2.",
    )
    p.add_argument(
        "--video",
        nargs="+",
        help="video files, or folders of videos (optional with --features FILE.npz: then only the music "
        "is written)",
    )
    p.add_argument("--out", type=Path, help="output folder (default: beside each video); created if missing")
    p.add_argument(
        "--key", help="output key, e.g. 'D major', 'F# minor', 'Am' (default, when left out: from the mood)"
    )
    p.add_argument(
        "--primer",
        help="chords to start from, in the output key, e.g. 'C Am F G' (each lasts a bar; a scene cut "
        "inside its bar starts the next one)",
    )
    p.add_argument(
        "--chords",
        help="play these chords instead of the model's: a NAME.json written by generate.py (its "
        "chord_changes edited as you like), a text file, or a progression with times in seconds such as "
        "'0 Am | 2 F | 4 C'; the features, dynamics and cuts stay as they were",
    )
    p.add_argument(
        "--form",
        help="the song form in bars, e.g. 'intro 4, verse 8, chorus 8, verse 8, chorus 8 +2, outro 4' "
        "(sections: intro, verse, pre-chorus, chorus, bridge, break, outro; +N lifts one N semitones; "
        "the last section runs to the end). Default: planned from the video; with --chords FILE.json, "
        "its form",
    )
    p.add_argument(
        "--tempo",
        type=_tempo,
        metavar="auto|BPM",
        help=f"beats per minute, {MIN_TEMPO:g} to {MAX_TEMPO:g}, or auto (the default): from the video's "
        "pace, cuts and mood, calm footage slow and busy footage fast, lined up with its cuts (the JSON "
        "says why); with --chords FILE.json, its tempo",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="random seed for the chords; the same seed gives the same MIDI (default 0)",
    )
    p.add_argument(
        "--temperature",
        type=_sampling("temperature", sampling.TEMPERATURE_RANGE),
        help=f"sampling temperature, {_span(sampling.TEMPERATURE_RANGE)} (default {sampling.TEMPERATURE:g}; "
        "0 = the likeliest chord)",
    )
    p.add_argument(
        "--top-p",
        type=_sampling("top-p", sampling.TOP_P_RANGE, above=True),
        help=f"nucleus sampling mass, above {_span(sampling.TOP_P_RANGE)} (default {sampling.TOP_P:g}: "
        "every chord of the key)",
    )
    p.add_argument(
        "--emotion-strength",
        type=_sampling("emotion strength", sampling.EMOTION_GUIDANCE_RANGE),
        help="bias toward chord qualities that fit each step's emotion, "
        f"{_span(sampling.EMOTION_GUIDANCE_RANGE)} (default {sampling.EMOTION_GUIDANCE:g}; 0 = off)",
    )
    p.add_argument(
        "--no-cut-changes", action="store_true", help="do not force a chord change at each scene cut"
    )
    p.add_argument(
        "--instruments",
        help="an instrument per part by General MIDI name, alias or number 0-127, e.g. "
        "'chords=strings,arpeggio=piano,bass=fingered bass,drums=brush' (parts: "
        f"{', '.join(Instruments.parts())}); on top of --style's when both are given",
    )
    p.add_argument(
        "--style",
        help=f"how the music plays: {', '.join(PRESETS)} (default: pop): the instruments, pad rhythm, "
        "arpeggio figure, bass line, groove, swing and tempo range",
    )
    p.add_argument("--no-drums", action="store_true", help="leave out the drum track")
    p.add_argument("--no-melody", action="store_true", help="leave out the Melody track")
    p.add_argument(
        "--lead-sheet",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write NAME.musicxml, the lead sheet: melody and chord symbols, or a chord chart with "
        "--no-melody (default: on)",
    )
    p.add_argument(
        "--composer",
        help="the composer the lead sheet names (default: none; with --chords FILE.json, its composer)",
    )
    p.add_argument(
        "--soundfont",
        help="a General MIDI .sf2 or .sf3 file (default: $VIDEO2MUSIC_SOUNDFONT, MuseScore General, "
        "FluidR3_GM, TimGM6mb)",
    )
    p.add_argument(
        "--features",
        default="auto",
        metavar="auto|clip|basic|FILE.npz",
        help="how to watch the video: clip (CLIP ViT-L/14, needs its weights once: python -m "
        "video2music.features.fetch_clip), basic (no weights), auto (what the model needs; the default), "
        "or a FILE.npz extracted before (python -m video2music.features), which must come from --video",
    )
    p.add_argument(
        "--harmony",
        choices=sorted(HARMONIES),
        help="the chord model's harmony: pop (the default model, trained on POP909) or chorale (Bach "
        "chorales and madrigals); a shorthand for --weights",
    )
    p.add_argument(
        "--weights",
        help="the chord model: default (pop, trained on POP909), chorale (Bach chorales and madrigals) "
        "or debug (shipped), a checkpoint of ours, or a published Video2Music best_loss_weights.pickle "
        "(default: default)",
    )
    p.add_argument(
        "--regression-weights",
        help="a trained note density/loudness checkpoint (default: the documented rule)",
    )
    p.add_argument(
        "--device",
        help="cpu, cuda or cuda:N for the models (default cpu; with --ray and CLIP features, a GPU per "
        "worker where the cluster has them)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs (default: refuse)")
    p.add_argument(
        "--audio",
        default="mix",
        metavar="mix|replace|music-only",
        help="the sound of NAME_with_music.mp4: mix (the default) keeps the video's own sound and puts "
        "the music under it, lowered while the original is loud, and also writes that mix as "
        "NAME_with_music.wav; replace gives the video the music alone; music-only writes no video",
    )
    p.add_argument(
        "--music-gain",
        type=number_in_range(check_music_gain),
        metavar="DB",
        help=f"the music's level in dB, {_span(MUSIC_GAIN_RANGE)} (default {MIX_MUSIC_GAIN_DB:g} under "
        "the video's own sound with --audio mix, so the original leads; 0 when the music plays alone, "
        "also for a video without sound)",
    )
    p.add_argument("--no-video", action="store_true", help="do not write the video with music")
    p.add_argument("--plot", action="store_true", help="also write NAME.png, a timeline")
    p.add_argument(
        "--stems",
        action="store_true",
        help="also write one WAV per part (NAME_chords.wav, ...) that sum to the mix",
    )
    p.add_argument(
        "--loudness-target",
        default=str(LOUDNESS_TARGET),
        metavar="LUFS",
        help=f"integrated loudness of NAME.wav and of the mix with the video's sound (the WAV and the "
        f"mp4's), true peak at most -1 dBTP (default {LOUDNESS_TARGET:g}; off: as rendered)",
    )
    add_playback_options(p)
    add_ray_option(p)
    args = p.parse_args(argv)
    if args.harmony and args.weights:
        p.error("give --harmony or --weights, not both")
    if args.style in HARMONIES and args.style not in PRESETS:
        p.error(f"--style {args.style} is a harmony: give --harmony {args.style}")
    args.weights = HARMONIES[args.harmony] if args.harmony else args.weights or "default"
    return args


def _tempo(text: str) -> float | str:
    """``--tempo``: ``auto``, or beats per minute in range."""
    return AUTO_TEMPO if text.strip().lower() == AUTO_TEMPO else number_in_range(check_tempo)(text)


@dataclass(frozen=True)
class Job:
    """One scoring: a video (None for music from a features file alone) and where it goes."""

    video: Path | None
    stem: str
    folder: Path

    @property
    def name(self) -> str:
        return str(self.video) if self.video else self.stem


def _features_file(args: argparse.Namespace) -> VideoFeatures | None:
    """The features of ``--features FILE.npz`` (checked against the one --video), or None."""
    if args.features in FEATURE_BACKENDS:
        return None
    path = Path(args.features)
    if path.suffix.lower() != ".npz" and not path.exists():
        raise UserError(
            f"--features {args.features!r} is neither a backend ({', '.join(FEATURE_BACKENDS)}) nor a "
            "features file; give one of those or a .npz from python -m video2music.features"
        )
    return VideoFeatures.load(path)


def _jobs(args: argparse.Namespace, features: VideoFeatures | None, chords: TimedChords | None) -> list[Job]:
    if not args.video:
        if features is None:
            raise UserError("give --video (a video file or a folder), or --features with a FILE.npz")
        npz = Path(args.features)
        return [Job(None, npz.stem, args.out or npz.parent)]
    # One input must be there; in a batch a missing one fails on its own, as a bad file does.
    videos = find_videos(args.video, strict=len(args.video) == 1)
    if (features is not None or chords is not None) and len(videos) > 1:
        option = "--features FILE.npz" if features is not None else "--chords"
        raise UserError(f"{option} belongs to one video; give one --video")
    if features is not None:
        features.check_source(videos[0], name=f"the features in {args.features}")
    return [Job(video, video.stem, args.out or video.parent) for video in videos]


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.ray:
        import_ray()  # said at once when it is missing
    from video2music.audio.synth import find_soundfont, load_fluidsynth, parse_loudness

    # Every setting, the soundfont and every output are checked before the slow work starts.
    if args.key is not None and not args.key.strip():
        raise UserError(
            "--key is empty; give a key such as 'A minor' or 'Eb major', or leave --key out to choose "
            "it from the video's mood"
        )
    check_playback_options(args)
    instruments = (
        Instruments.parse(args.instruments or "", args.style) if args.instruments or args.style else None
    )
    loudness = parse_loudness(args.loudness_target)
    find_soundfont(args.soundfont)  # also $VIDEO2MUSIC_SOUNDFONT and the defaults
    load_fluidsynth()
    soundtrack = Soundtrack(args.audio, args.music_gain)
    chords = load_chords(args.chords) if args.chords else None
    if args.form:
        parse_form(args.form)  # a bad form is refused before any video is read
    if chords is not None and args.primer:
        raise UserError(
            "--primer starts the model's chords; with --chords there are none to start, so give one"
        )
    if chords is not None and args.key:
        chords.transposition(vocab.parse_key(args.key))  # a change of mode is refused now
    given_features = _features_file(args)
    jobs = _jobs(args, given_features, chords)
    if args.features == "clip":  # before torch loads: missing weights and no network fail at once
        clip_source(without=WITHOUT_CLIP)
    # One video's basic features are extracted in a child process while this one imports torch
    # and loads the model (video2music/utils/forked.py); a model that needs CLIP features ends it unused.
    early = None
    if (
        not args.ray
        and len(jobs) == 1
        and jobs[0].video
        and given_features is None
        and args.features in ("auto", "basic")
    ):
        early = ForkedCall(extract, jobs[0].video, "basic", progress_bars=sys.stderr.isatty())
    with (
        early or contextlib.nullcontext(),
        connect(args.ray) if args.ray else contextlib.nullcontext() as cluster,
    ):
        return _score(args, jobs, given_features, chords, instruments, loudness, soundtrack, early, cluster)


@dataclass(frozen=True)
class Scoring:
    """How every video of a run is scored, from the arguments: built once, sent to each Ray worker."""

    weights: str
    regression: str | None
    device: str
    params: dict[str, Any]  # Video2Music.set_generation_params
    piece: dict[str, Any]  # the piece's settings Video2Music.generate takes
    backend: str = "auto"
    features: VideoFeatures | None = None  # from --features FILE.npz
    chords: TimedChords | None = None
    instruments: Instruments | None = None
    drums: bool = True
    melody: bool = True
    seed: int = 0
    composer: str | None = None

    def load(self) -> Video2Music:
        from video2music.pipeline import Video2Music

        v2m = Video2Music.from_pretrained(self.weights, regression=self.regression, device=self.device)
        v2m.set_generation_params(**self.params)
        return v2m


@dataclass(frozen=True)
class Scored:
    """What became of one video: the lines that say what was written, or why it failed."""

    lines: tuple[str, ...] = ()
    error: str | None = None


def _score_video(
    v2m: Video2Music,
    scoring: Scoring,
    task: tuple[Job, OutputSet],
    early: ForkedCall[VideoFeatures] | None = None,
    show: bool = False,
    renderer: Renderer | None = None,
) -> Scored:
    """Score one video and write its set, here or in a Ray task; its UserError is its result.
    ``renderer`` renders its WAV (``audio.renderer``; a run of one video starts one early)."""
    from video2music.output.writer import write_result

    job, outputs = task
    try:
        features, chords = scoring.features, scoring.chords
        extracted: dict[str, float] = {}  # features extracted out here, for the JSON's timings
        if job.video and outputs.soundtrack.mode == "mix" and "video" in outputs.targets:
            decode_own_sound_soon(job.video)
        if early is not None:
            features = early.result()
            extracted["features"] = early.seconds  # in the child, beside the imports
        if chords is not None and features is None:
            with Stopwatch(extracted)("features"):
                features = v2m.extract_features(job.video, scoring.backend, progress_bars=show)
        if chords is not None:
            chords.check_duration(features.duration)
        result = v2m.generate(
            job.video,
            features=features,
            progress_bars=show,
            instruments=scoring.instruments,
            drums=scoring.drums,
            melody=scoring.melody,
            backend=scoring.backend,
            chords=chords,
            seed=scoring.seed,
            under_sound=outputs.soundtrack.mode == "mix" and "video" in outputs.targets,
            **scoring.piece,
        )
        result.timings.update(extracted)
        composer = scoring.composer or (chords.composer if chords else None)
        paths = write_result(result, outputs, progress_bars=show, composer=composer, renderer=renderer)
    except UserError as error:
        return Scored(error=str(error))
    return Scored(
        (
            f"{job.name}: {result.key.name}, {result.chords_text()}",
            f"wrote {', '.join(map(str, paths.values()))}",
        )
    )


def _ray_scorer(scoring: Scoring) -> Callable[[tuple[Job, OutputSet]], Scored]:
    return functools.partial(_score_video, scoring.load(), scoring)


def _lost(task: tuple[Job, OutputSet], message: str) -> Scored:
    return Scored(error=message)


def _score(
    args: argparse.Namespace,
    jobs: list[Job],
    given_features: VideoFeatures | None,
    chords: TimedChords | None,
    instruments: Instruments | None,
    loudness: float | None,
    soundtrack: Soundtrack,
    early: ForkedCall[VideoFeatures] | None,
    cluster: Cluster | None,
) -> int:
    from tqdm import tqdm

    from video2music.output.writer import check_distinct, plan_result

    given = {"top_p": args.top_p, "temperature": args.temperature, "emotion_guidance": args.emotion_strength}
    tempo = next(t for t in (args.tempo, chords.tempo if chords else None, AUTO_TEMPO) if t is not None)
    device = args.device or "cpu"
    if cluster and device.startswith("cuda"):
        device = "cpu"  # the models load here only to check the settings; each task has its GPU
    scoring = Scoring(
        args.weights,
        args.regression_weights,
        device,
        params=dict(
            cut_changes=not args.no_cut_changes,
            **{name: value for name, value in given.items() if value is not None},
        ),
        piece=dict(
            key=args.key,  # with --chords and no --key: the chords' own
            primer=args.primer,
            form=args.form,
            style=args.style,
            tempo=tempo,
        ),
        features=given_features,
        chords=chords,
        instruments=instruments,
        drums=not args.no_drums,
        melody=not args.no_melody,
        seed=args.seed,
        composer=args.composer,
    )
    v2m = scoring.load()
    v2m.check_settings(**scoring.piece)
    backend = v2m.feature_backend(args.features) if given_features is None else given_features.backend
    scoring = dataclasses.replace(scoring, backend=backend)
    if early is not None and backend != "basic":
        early.close()
        early = None
    if given_features is None and backend == "clip":
        clip_source(without=WITHOUT_CLIP)

    failures: list[str] = []

    def failed(job: Job, error: UserError) -> None:
        if len(jobs) == 1:
            raise error
        failures.append(f"{job.name}: {error}")
        logger.error("error: %s: %s", job.name, error)

    plans = {}
    for job in jobs:
        try:
            if job.video is not None and not job.video.exists():
                raise UserError(f"{job.video} does not exist; give a video file or a folder of videos")
            plans[job] = plan_result(
                job.folder,
                job.stem,
                video=job.video is not None and not args.no_video,
                plot=args.plot,
                lead_sheet=args.lead_sheet,
                stems=args.stems,
                soundfont=args.soundfont,
                loudness=loudness,
                overwrite=args.overwrite,
                soundtrack=soundtrack,
                humanize=not args.no_humanize,
                humanize_midi=args.humanize_midi,
            )
        except UserError as error:
            failed(job, error)
    check_distinct(list(plans.values()))

    def report(task: tuple[Job, OutputSet], scored: Scored) -> None:
        if scored.error is not None:
            failed(task[0], UserError(scored.error))
        for line in scored.lines:
            logger.info("%s", line)
        bar.update()

    # A batch shows one bar over the videos; progress bars within a video only for one long one.
    with tqdm(total=len(plans), desc="videos", unit="video", disable=len(jobs) < 2) as bar:
        if cluster is not None:
            device, gpus = task_device(args.device, backend == "clip", cluster)
            make = functools.partial(_ray_scorer, dataclasses.replace(scoring, device=device))
            run_tasks(list(plans.items()), make, _lost, gpus=gpus, finished=report)
        else:
            show = len(jobs) == 1 and sys.stderr.isatty()
            with _renderer(plans, instruments, args) or contextlib.nullcontext() as renderer:
                for task in plans.items():
                    report(task, _score_video(v2m, scoring, task, early, show, renderer))
    if failures:
        logger.error("%d of %d videos failed:\n  %s", len(failures), len(jobs), "\n  ".join(failures))
        return 2
    return 0


def _renderer(
    plans: dict[Job, OutputSet], instruments: Instruments | None, args: argparse.Namespace
) -> Renderer | None:
    """For one video: a render process, started now, that reads the instruments the piece will
    play while the video is still being watched (``audio.renderer``); None for a batch."""
    from video2music.audio.renderer import Renderer

    if len(plans) != 1 or "wav" not in next(iter(plans.values())).targets:
        return None
    chosen = instruments or Instruments()
    programs = [chosen.chords, chosen.arpeggio, chosen.bass] + ([] if args.no_melody else [chosen.melody])
    kits = [] if args.no_drums else [chosen.drums]
    return Renderer(next(iter(plans.values())).soundfont, programs, kits)
