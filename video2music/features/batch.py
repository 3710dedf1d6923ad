"""Extracting many videos: finding them, planning outputs, running them in worker processes.

Each video is one job; a failure becomes an Outcome so the rest of the batch goes on. Workers
build their backend once (the CLIP model is loaded a single time per process).
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from video2music.data.muvisync import feature_paths
from video2music.errors import UserError
from video2music.features.extract import Backend, extract, make_backend
from video2music.features.video_features import VideoFeatures
from video2music.fileio import check_writable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """One video and where its features go."""

    video: Path
    npz: Path
    muvisync_root: Path | None
    overwrite: bool

    @property
    def video_id(self) -> str:
        return self.npz.stem


@dataclass(frozen=True)
class Outcome:
    """What happened to one video: "extracted", "skipped" or "failed" (with the reason)."""

    video: Path
    status: str
    message: str = ""


def plan_jobs(videos: list[Path], out: Path, muvisync: bool, overwrite: bool) -> list[Job]:
    """One job per video, named by file stem; two videos with one stem would overwrite each other."""
    seen: dict[str, Path] = {}
    for video in videos:
        if video.stem in seen:
            raise UserError(
                f"{seen[video.stem]} and {video} would both be saved as {video.stem}.npz; rename one of them"
            )
        seen[video.stem] = video
    return [Job(video, out / f"{video.stem}.npz", out if muvisync else None, overwrite) for video in videos]


# This process's backend, made once by init_worker.
_BACKEND: Backend | None = None


def init_worker(backend: str, clip_model: str, device: str, threads: int) -> None:
    global _BACKEND
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if backend == "clip":
        import torch

        torch.set_num_threads(threads)
    _BACKEND = make_backend(backend, clip_model=clip_model, device=device)


def run_job(job: Job, progress_bars: bool = False) -> Outcome:
    """Extract and save one video; every failure becomes an Outcome, so a batch goes on."""
    try:
        assert _BACKEND is not None, "worker not initialised"
        mirror = (
            feature_paths(job.muvisync_root, job.video_id, semantic=_BACKEND.name == "clip")
            if job.muvisync_root is not None
            else {}
        )
        if job.npz.exists() and not job.overwrite:
            if mirror and not any(path.exists() for path in mirror.values()):
                # The .npz is the record; MuVi-Sync files asked for later are derived from it.
                VideoFeatures.load(job.npz).to_muvisync(job.muvisync_root, job.video_id)
            return Outcome(job.video, "skipped", f"{job.npz} exists")
        for path in [job.npz, *mirror.values()]:  # refuse before decoding, so a refusal writes nothing
            path.parent.mkdir(parents=True, exist_ok=True)
            check_writable(path, job.overwrite)
        features = extract(job.video, _BACKEND, progress_bars=progress_bars)
        if job.muvisync_root is not None:
            features.to_muvisync(job.muvisync_root, job.video_id, overwrite=job.overwrite)
        # Written last: an .npz means the video is done, so an interrupted run redoes it.
        features.save(job.npz, overwrite=job.overwrite)
        return Outcome(job.video, "extracted", f"{features.T} s, {len(features.scene_cuts)} cuts")
    except UserError as error:
        return Outcome(job.video, "failed", str(error))
    except Exception as error:  # an unexpected bug on one video must not lose the rest of the batch
        logger.debug("%s failed", job.video, exc_info=True)
        return Outcome(job.video, "failed", f"unexpected {type(error).__name__}: {error}")


def run_jobs(jobs: list[Job], workers: int, init_args: tuple) -> list[Outcome]:
    """Run the jobs in ``workers`` processes (in this one when 1), with a progress bar over videos."""
    outcomes: list[Outcome] = []
    with tqdm(total=len(jobs), unit="video", disable=len(jobs) < 2) as bar:
        if workers == 1:
            init_worker(*init_args)
            for job in jobs:
                outcomes.append(run_job(job, progress_bars=len(jobs) == 1))
                bar.update()
            return outcomes
        # spawn, not fork: the workers may use torch, whose thread pools do not survive a fork.
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(workers, context, init_worker, init_args) as pool:
            futures = {pool.submit(run_job, job): job for job in jobs}
            for future in concurrent.futures.as_completed(futures):
                try:
                    outcomes.append(future.result())
                except Exception as error:  # a worker died (out of memory, a crash in a library)
                    outcomes.append(Outcome(futures[future].video, "failed", f"worker failed: {error}"))
                bar.update()
    order = {job.video: i for i, job in enumerate(jobs)}
    return sorted(outcomes, key=lambda outcome: order[outcome.video])
