"""Extracting many videos: finding them, planning outputs, running them in worker processes or
as tasks on a Ray cluster (``video2music.utils.cluster``).

Each video is one job; a failure becomes an Outcome so the rest of the batch goes on. Workers
build their backend once (the CLIP model is loaded a single time per process).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import functools
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from video2music.data.muvisync import feature_paths
from video2music.features.extract import Backend, extract, make_backend
from video2music.features.video_features import VideoFeatures
from video2music.utils.cluster import connect, run_tasks, task_device
from video2music.utils.errors import UserError
from video2music.utils.fileio import check_writable, describe

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
            try:
                done = VideoFeatures.load(job.npz)
            except UserError as error:
                # Cut off or corrupted (a full disk, a copy stopped half way): not done, so redone,
                # replacing this video's own files.
                logger.warning("extracting %s again: %s", job.video, error)
                job = dataclasses.replace(job, overwrite=True)
            else:
                if mirror and not any(path.exists() for path in mirror.values()):
                    # The .npz is the record; MuVi-Sync files asked for later are derived from it.
                    done.to_muvisync(job.muvisync_root, job.video_id)
                return Outcome(job.video, "skipped", f"{job.npz} exists")
        for path in [job.npz, *mirror.values()]:  # refuse before decoding, so a refusal writes nothing
            check_writable(path, job.overwrite, missing_folders=True)
        features = extract(job.video, _BACKEND, progress_bars=progress_bars)
        if job.muvisync_root is not None:
            features.to_muvisync(job.muvisync_root, job.video_id, overwrite=job.overwrite)
        # Written last: an .npz means the video is done, so an interrupted run redoes it. Folders
        # are made only now, so a video that fails leaves none behind.
        job.npz.parent.mkdir(parents=True, exist_ok=True)
        features.save(job.npz, overwrite=job.overwrite)
        return Outcome(job.video, "extracted", f"{features.T} s, {len(features.scene_cuts)} cuts")
    except UserError as error:
        return Outcome(job.video, "failed", str(error))
    except OSError as error:  # a full disk, a folder that became read-only
        return Outcome(job.video, "failed", describe(error, error.filename or job.npz))
    except Exception as error:  # an unexpected bug on one video must not lose the rest of the batch
        logger.debug("%s failed", job.video, exc_info=True)
        return Outcome(job.video, "failed", f"unexpected {type(error).__name__}: {error}")


def _init_pool_worker(*init_args) -> None:
    # Ctrl-C reaches every process of the terminal's group: the parent alone decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    # A worker shows no bars; tqdm's default process-shared lock would be a named semaphore that
    # a worker ended by _exit_on_sigterm could not unlink.
    tqdm.set_lock(threading.RLock())
    init_worker(*init_args)


def _exit_on_sigterm(signum: int, frame) -> None:
    # Raised where the worker is, so a job's temporary files are removed on the way out.
    raise SystemExit(128 + signum)


def _run_pool_job(job: Job) -> Outcome:
    """``run_job`` in a pool worker: stopped by the parent, it ends the process once the job has
    unwound rather than going on to another queued video."""
    try:
        return run_job(job)
    except SystemExit as stop:
        os._exit(stop.code if isinstance(stop.code, int) else 1)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore Ctrl-C while worker processes start, so they inherit that (and never print a
    KeyboardInterrupt traceback while importing); only the main thread can change handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _lost(job: Job, message: str) -> Outcome:
    return Outcome(job.video, "failed", message)


def _ray_worker(init_args: tuple) -> Callable[[Job], Outcome]:
    init_worker(*init_args)
    return run_job


def _progress(jobs: list[Job]) -> tqdm:
    return tqdm(total=len(jobs), unit="video", disable=len(jobs) < 2)


def run_jobs(jobs: list[Job], workers: int, init_args: tuple, ray: str | None = None) -> list[Outcome]:
    """Run the jobs in ``workers`` processes (in this one when 1), or as tasks on the Ray cluster
    ``ray`` names (``auto`` or an address), with a progress bar over videos. ``init_args`` are
    ``init_worker``'s; its device None is the CPU, or on Ray a GPU for CLIP where there are any.

    Interrupted (Ctrl-C), queued videos are cancelled and the workers are stopped; each removes
    its temporary files as it stops.
    """
    backend, clip_model, device, threads = init_args
    if ray is not None:
        with connect(ray) as cluster, _progress(jobs) as bar:
            device, gpus = task_device(device, backend == "clip", cluster)
            make = functools.partial(_ray_worker, (backend, clip_model, device, 1))  # a CPU a task
            return run_tasks(jobs, make, _lost, gpus=gpus, finished=lambda job, outcome: bar.update())
    init_args = (backend, clip_model, device or "cpu", threads)
    outcomes: list[Outcome] = []
    with _progress(jobs) as bar:
        if workers == 1:
            init_worker(*init_args)
            for job in jobs:
                outcomes.append(run_job(job, progress_bars=len(jobs) == 1))
                bar.update()
            return outcomes
        # spawn, not fork: the workers may use torch, whose thread pools do not survive a fork.
        context = multiprocessing.get_context("spawn")
        others = set(multiprocessing.active_children())
        pool = concurrent.futures.ProcessPoolExecutor(workers, context, _init_pool_worker, init_args)
        try:
            with _sigint_ignored():  # the workers start while the jobs are submitted
                futures = {pool.submit(_run_pool_job, job): job for job in jobs}
            for future in concurrent.futures.as_completed(futures):
                try:
                    outcomes.append(future.result())
                except Exception as error:  # a worker died (out of memory, a crash in a library)
                    outcomes.append(_lost(futures[future], f"worker failed: {error}"))
                bar.update()
        except BaseException:
            started = [p for p in multiprocessing.active_children() if p not in others]
            for process in started:
                process.terminate()
            pool.shutdown(cancel_futures=True)  # quick now: nothing runs, and it frees the queues
            raise
        pool.shutdown()
    order = {job.video: i for i, job in enumerate(jobs)}
    return sorted(outcomes, key=lambda outcome: order[outcome.video])
