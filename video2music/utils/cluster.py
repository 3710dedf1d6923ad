"""Running a batch on a Ray cluster: one Ray task per video.

``--ray auto|ADDRESS`` (the features command, generate.py) comes here. ``auto`` joins the
cluster ``$RAY_ADDRESS`` names or starts a local one (no dashboard), which is shut down when the
batch ends; an ADDRESS (``HOST:6379``) joins that cluster. A process already connected to Ray
(a notebook, the tests, a benchmark) keeps its connection. Every node must see the inputs and the
outputs at the same paths (a shared filesystem or a mounted bucket) and have the package, its
models and a soundfont installed the same way: a task opens and writes files where it runs.

Each video is a task rather than a method of an actor, for the faults: a task whose worker dies
(killed, out of memory, a node lost) runs again (``max_retries``), and a cancelled task (Ctrl-C)
gets a KeyboardInterrupt where it is, so the staging it was writing is removed as it is on Ctrl-C
locally; a running actor method can be neither retried nor interrupted that way. A worker process
keeps what the batch loads (the CLIP model, the chord models) from one task to the next, so each
is loaded once per worker, as an actor would.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from video2music.utils.errors import UserError

logger = logging.getLogger(__name__)

J = TypeVar("J")
R = TypeVar("R")

INSTALL = "pip install -e '.[ray]'"
RETRIES = 3  # runs of a task after its worker died, before its video is given up
POLL_S = 0.5  # ray.wait returns this often, so Ctrl-C is taken at once
STOP_WAIT_S = 60.0  # how long cancelled tasks get to remove their staging files
REACH_S = 10.0  # Ray itself retries an address that does not answer for minutes
ADVICE = "start it with ray start --head, or give --ray auto for a cluster on this machine"


def import_ray():
    """The ``ray`` module, or a UserError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UserError(
            f"--ray needs Ray, which is not installed; install it with {INSTALL} "
            "(bash setup.sh --dev includes it)"
        ) from None
    return ray


def add_ray_option(parser: argparse.ArgumentParser) -> None:
    """``--ray auto|ADDRESS``, for the commands that run batches."""
    parser.add_argument(
        "--ray",
        metavar="auto|ADDRESS",
        help="run one Ray task per video on a cluster: auto joins $RAY_ADDRESS's cluster or starts one "
        "on this machine, ADDRESS (HOST:6379) joins that one; inputs and outputs must be on a path every "
        f"node sees (needs Ray: {INSTALL})",
    )


@dataclass(frozen=True)
class Cluster:
    """What the cluster holds, counted when the batch starts."""

    cpus: int
    gpus: int


@contextlib.contextmanager
def connect(address: str) -> Iterator[Cluster]:
    """Be connected to the Ray cluster ``address`` names (see the module) inside the block."""
    ray = import_ray()
    ours = not ray.is_initialized()
    if ours:
        target = (os.environ.get("RAY_ADDRESS") or "local") if address == "auto" else address
        local = {"include_dashboard": False} if target == "local" else {}
        if target != "local":
            _check_reachable(target)
        on_term = signal.getsignal(signal.SIGTERM)
        try:
            # Ray's own lines (its workers' output, its warnings) would break the one-line
            # messages; a task's errors come back with its result instead.
            ray.init(address=target, logging_level=logging.ERROR, log_to_driver=False, **local)
            if threading.current_thread() is threading.main_thread():
                # Ray's SIGTERM handler exits at once; the command's own stops as Ctrl-C does,
                # cancelling the tasks.
                signal.signal(signal.SIGTERM, on_term)
        except (ConnectionError, ValueError) as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise UserError(f"cannot join the Ray cluster at {target} ({reason}); {ADVICE}") from None
        except BaseException:  # Ctrl-C while a local cluster starts: stop what has started
            ray.shutdown()
            raise
    try:
        resources = ray.cluster_resources()
        yield Cluster(int(resources.get("CPU", 0)), int(resources.get("GPU", 0)))
    finally:
        if ours:
            ray.shutdown()  # a cluster started here stops with it: no process is left behind


def _check_reachable(address: str) -> None:
    """A UserError at once when nothing answers at ``address`` (HOST:PORT or ray://HOST:PORT)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # ray.init says what is wrong with it
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=REACH_S).close()
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        raise UserError(f"cannot reach the Ray cluster at {address} ({reason}); {ADVICE}") from None


def task_device(device: str | None, clip: bool, cluster: Cluster) -> tuple[str, int]:
    """The torch device a task runs on and the GPUs it asks Ray for. Unless ``device`` says
    otherwise, CLIP work asks for a GPU of its own when the cluster has any; Ray shows a task
    only the GPU it was given, as ``cuda``."""
    if device is None:
        return ("cuda", 1) if clip and cluster.gpus else ("cpu", 0)
    if device.startswith("cuda"):
        if not cluster.gpus:
            raise UserError(f"--device {device}: the Ray cluster has no GPUs; leave --device out")
        return "cuda", 1
    return device, 0


# What this worker process built for the batch it last ran tasks of: (batch key, job function).
_KEPT: tuple[str, Callable] | None = None


def _run_kept(batch: str, make: Callable[[], Callable[[J], R]], job: J) -> R:
    global _KEPT
    if _KEPT is None or _KEPT[0] != batch:
        _KEPT = None  # the last batch's models go before this one's load
        _KEPT = (batch, make())
    return _KEPT[1](job)


def run_tasks(
    jobs: Sequence[J],
    make: Callable[[], Callable[[J], R]],
    lost: Callable[[J, str], R],
    *,
    gpus: int = 0,
    finished: Callable[[J, R], None] | None = None,
) -> list[R]:
    """``make()(job)`` for every job, as one Ray task each, on the cluster this process is
    connected to (:func:`connect`); the results in the order of ``jobs``.

    ``make`` (picklable) builds a worker's job function once per worker process; the job
    function turns a video's own failures into a result, so the batch goes on. A task that fails
    otherwise (``make`` raised, its worker died more than RETRIES times) gets ``lost(job,
    message)``. ``finished`` is told of each result as it comes. Interrupted (Ctrl-C), queued
    tasks are cancelled and running ones interrupted, and this waits until they have unwound.
    """
    ray = import_ray()
    task = ray.remote(_run_kept).options(num_cpus=1, num_gpus=gpus, max_retries=RETRIES)
    batch, maker = uuid.uuid4().hex, ray.put(make)
    index = {task.remote(batch, maker, job): i for i, job in enumerate(jobs)}
    results: list = [None] * len(jobs)
    pending = list(index)
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=POLL_S)
            for ref in done:
                job = jobs[index[ref]]
                results[index[ref]] = result = _result(ray, ref, job, lost)
                if finished is not None:
                    finished(job, result)
    except BaseException:
        for ref in pending:
            ray.cancel(ref)
        ray.wait(pending, num_returns=len(pending), timeout=STOP_WAIT_S)
        raise
    return results


def _result(ray, ref, job: J, lost: Callable[[J, str], R]) -> R:
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as error:  # raised by the task: make(), or a bug
        cause = error.cause
        if isinstance(cause, UserError):
            return lost(job, str(cause))
        logger.debug("a task failed: %s", error)
        return lost(job, f"unexpected {type(cause).__name__}: {cause}")
    except ray.exceptions.RayError as error:  # its worker died on every try
        return lost(job, f"its Ray worker died {RETRIES + 1} times ({type(error).__name__})")
