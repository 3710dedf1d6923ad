"""``python app.py`` / ``video2music-app``: start the web app on this machine.

Gradio is an optional extra, imported only here and in ``ui``, so ``import video2music`` stays
light and a missing Gradio is reported as one line with the command that installs it.
"""

from __future__ import annotations

import argparse
import atexit
import importlib.util
import logging
import os
import shutil
import socket
import tempfile
from pathlib import Path

from video2music.utils.errors import ArgumentParser, UserError, cli_main

logger = logging.getLogger(__name__)

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "testvideo.mp4"
INSTALL_HINT = "pip install -e '.[app]'"
MARKER = ".video2music-app"  # marks a folder the app made, so reusing it is safe


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = ArgumentParser(prog="app.py", description="A local web page that scores videos with editable music.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    p.add_argument("--port", type=int, default=7860, help="port to listen on (default 7860)")
    p.add_argument("--share", action="store_true", help="also open a temporary public link through Gradio")
    p.add_argument(
        "--weights",
        "--model",
        default="default",
        help="the chord model, as generate.py's --weights: default, chorale or debug (shipped), a "
        "checkpoint of ours, or a published best_loss_weights.pickle (default: default)",
    )
    p.add_argument("--regression-weights", help="trained regression checkpoint (default: the rule)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N for the models (default cpu)")
    p.add_argument(
        "--output-dir",
        type=Path,
        help="where uploads and results go, the only folder the page serves files from "
        "(default: a new temporary folder, removed on exit)",
    )
    p.add_argument("--max-upload-mb", type=float, default=500, help="largest upload accepted (default 500)")
    p.add_argument(
        "--concurrency", type=int, default=1, help="generations run at once; others wait in the queue"
    )
    p.add_argument("--queue-size", type=int, default=32, help="most requests waiting at once (default 32)")
    p.add_argument("--cache-size", type=int, default=16, help="videos whose features are kept (default 16)")
    p.add_argument("--keep-runs", type=int, default=64, help="newest result folders kept (default 64)")
    args = p.parse_args(argv)
    for name in ("port", "concurrency", "queue_size", "cache_size", "keep_runs"):
        if getattr(args, name) < 1 or (name == "port" and args.port > 65535):
            p.error(f"--{name.replace('_', '-')} {getattr(args, name)} is out of range")
    if args.max_upload_mb <= 0:
        p.error("--max-upload-mb must be positive")
    return args


def prepare_output_dir(path: Path | None) -> Path:
    """The app's own folder; a temporary one (removed at exit) unless the user named one."""
    if path is None:
        root = Path(tempfile.mkdtemp(prefix="video2music-app-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        return root
    # Everything in this folder can be served, so it must be empty or one the app made before.
    if path.is_dir() and any(path.iterdir()) and not (path / MARKER).exists():
        raise UserError(
            f"output folder {path} already holds other files, which the page would serve; "
            "give an empty or new folder with --output-dir"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
        (path / MARKER).touch()
    except OSError as error:
        raise UserError(f"cannot use output folder {path}: {error.strerror}; choose another") from None
    return path.resolve()


def _port_message(host: str, port: int) -> str:
    return (
        f"cannot listen on {host}:{port}: the port is in use or the address is not this machine's; "
        "pick another --port or --host"
    )


def check_port(host: str, port: int) -> None:
    """Fail fast, before the model loads, when the server could not listen on ``host:port``."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server itself does
            probe.bind(infos[0][4])
    except OSError:
        raise UserError(_port_message(host, port)) from None


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if importlib.util.find_spec("gradio") is None:
        raise UserError(f"the web app needs Gradio, which is not installed; install it with: {INSTALL_HINT}")
    check_port(args.host, args.port)
    root = prepare_output_dir(args.output_dir)
    # Gradio keeps uploads and the files it serves in these folders; pointing them into the app's
    # own folder means nothing outside it is ever served, and results are served without copying.
    os.environ["GRADIO_TEMP_DIR"] = str(root)
    os.environ["GRADIO_EXAMPLES_CACHE"] = str(root / "examples")
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's own start-up probes, one line each

    from video2music.app import ui
    from video2music.app.cache import FeatureCache
    from video2music.app.runs import RunFolders
    from video2music.app.service import Scorer
    from video2music.pipeline import Video2Music

    v2m = Video2Music.from_pretrained(args.weights, regression=args.regression_weights, device=args.device)
    scorer = Scorer(v2m, FeatureCache(args.cache_size), RunFolders(root, keep=args.keep_runs))
    page = ui.build(scorer, sample=SAMPLE if SAMPLE.is_file() else None)
    page.queue(default_concurrency_limit=args.concurrency, max_size=args.queue_size)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning("listening on %s: anyone who can reach this machine can use the app", args.host)
    logger.info("serving files only from %s", root)
    try:
        page.launch(
            server_name=args.host,
            server_port=args.port,
            share=args.share,
            max_file_size=int(args.max_upload_mb * 1024 * 1024),  # bytes
            allowed_paths=[],
            show_error=False,
            footer_links=[],
            css=ui.CSS,
            quiet=True,  # Gradio's own hints (set share=True, ...) are not this command's options
            prevent_thread_lock=True,
        )
    except OSError:  # taken between the check and the launch
        raise UserError(_port_message(args.host, args.port)) from None
    logger.info("the page is at %s (Ctrl-C stops the app)", page.local_url)
    if page.share_url:
        logger.info("and, for a week at most, at the public link %s", page.share_url)
    page.block_thread()
    return 0
