"""``python -m video2music.features.fetch_clip [MODEL]``: put the CLIP weights into the Hugging
Face cache once, with network access, so that ``--features clip`` then runs offline."""

from __future__ import annotations

import logging

from video2music.features.clip import DEFAULT_CLIP_MODEL, ClipBackend, is_cached
from video2music.utils.errors import ArgumentParser, cli_main

logger = logging.getLogger(__name__)


@cli_main
def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(
        prog="python -m video2music.features.fetch_clip",
        description="Download a CLIP model into the Hugging Face cache (about 1.7 GB for the default), "
        "so that --features clip then runs offline.",
    )
    parser.add_argument("model", nargs="?", default=DEFAULT_CLIP_MODEL, help=f"default {DEFAULT_CLIP_MODEL}")
    name = parser.parse_args(argv).model
    if is_cached(name):
        logger.info("%s is already in the Hugging Face cache", name)
        return 0
    ClipBackend(name)  # downloads the model and its processor, and checks that they load
    logger.info("%s is in the Hugging Face cache; --features clip now runs offline", name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
