"""The CLIP backend: semantic embeddings and emotion from one image forward per sampled second.

As in MuVi-Sync: semantic is the unnormalised image projection (``get_image_features``), and
emotion is the softmax over the image-text logits (cosine similarity times the model's logit
scale) against the six emotion labels used as text prompts. The text side is encoded once.
Images go through the model in batches as the decoding pass produces them, so only one batch
of pictures is ever held.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from video2music.theory.vocab import EMOTIONS
from video2music.utils.errors import UserError
from video2music.utils.timeline import SEMANTIC_DIM
from video2music.utils.video_io import fit_shortest_edge

DEFAULT_CLIP_MODEL = "openai/clip-vit-large-patch14-336"
BATCH_SIZE = 16
# What the model and its processor read, each as the names transformers versions save it under;
# with one of each in the cache nothing is downloaded.
CLIP_FILES = (
    ("config.json",),
    ("preprocessor_config.json", "processor_config.json"),
    ("tokenizer.json", "vocab.json"),
    ("model.safetensors", "pytorch_model.bin"),
)
HUB_TIMEOUT = 1.5  # seconds to wait for the Hub before calling the network unreachable

logger = logging.getLogger(__name__)


def fetch_command(name: str = DEFAULT_CLIP_MODEL) -> str:
    """The command that puts ``name``'s files into the Hugging Face cache (once, with network)."""
    return "python -m video2music.features.fetch_clip" + ("" if name == DEFAULT_CLIP_MODEL else f" {name}")


def _load_error(name: str, error: Exception) -> UserError:
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if Path(name).exists():
        return UserError(
            f"cannot load the CLIP model in {name} ({reason}); give a folder saved by transformers"
        )
    return UserError(
        f"cannot load CLIP model {name!r} ({reason}); fetch it once with network access "
        f"({fetch_command(name)}; see the README's section on the CLIP weights)"
    )


def is_cached(name: str) -> bool:
    """Whether the Hugging Face cache holds every file ``name`` needs (no network is used)."""
    from huggingface_hub import try_to_load_from_cache

    def cached(filename: str) -> bool:
        return isinstance(try_to_load_from_cache(name, filename), str)

    return all(any(cached(f) for f in names) for names in CLIP_FILES)


def _hub_reachable() -> bool:
    """Whether the Hub answers a TCP connection within HUB_TIMEOUT (``HF_HUB_OFFLINE`` means no)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return False
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((endpoint.hostname or "", port), timeout=HUB_TIMEOUT):
            return True
    except OSError:
        return False


def clip_source(name: str = DEFAULT_CLIP_MODEL, without: str = "the basic features") -> bool:
    """Where ``name`` loads from: True when it is a local folder or fully cached (load it with
    ``local_files_only``, so transformers never touches the network), False when it has to be
    downloaded. When it is neither cached nor reachable, a UserError says how to fetch it once
    and names ``without``, the option that runs without CLIP; this takes a second or two at most,
    where transformers' own retries take half a minute."""
    if Path(name).exists():
        return True
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(name)
    except HFValidationError:
        raise UserError(
            f"{name} is neither a folder nor a Hugging Face model name; give a folder saved by "
            "transformers' CLIPModel"
        ) from None
    if is_cached(name):
        return True
    if not _hub_reachable():
        raise UserError(
            f"the CLIP weights ({name}) are not in the Hugging Face cache and the network is not "
            f"reachable: fetch them once with network access ({fetch_command(name)}; see the "
            f"README's section on the CLIP weights), or use {without}, which needs no weights"
        )
    logger.info("downloading the CLIP model %s into the Hugging Face cache (once)", name)
    return False


def check_clip_model(name: str, without: str = "the basic features"):
    """Fail fast, without loading weights, if ``name`` is not a usable CLIP model; return its
    processor. ``without`` names the option that runs without CLIP (see ``clip_source``)."""
    path = Path(name)
    if path.exists() and not (path / "config.json").is_file():
        raise UserError(f"{name} has no config.json; give a folder saved by transformers' CLIPModel")
    local = clip_source(name, without)
    from transformers import AutoConfig, AutoProcessor

    try:
        config = AutoConfig.from_pretrained(name, local_files_only=local)
        processor = AutoProcessor.from_pretrained(name, local_files_only=local)
    except Exception as error:  # transformers raises many types (OSError, ValueError, JSON errors)
        raise _load_error(name, error) from None
    if config.model_type != "clip":
        raise UserError(f"{name} is a {config.model_type!r} model, not CLIP; give a CLIP model")
    return processor


class ClipBackend:
    """Loads the model once; then ``start``/``add``/``finish`` per video."""

    name = "clip"

    def __init__(
        self, model_name: str = DEFAULT_CLIP_MODEL, device: str = "cpu", batch_size: int = BATCH_SIZE
    ):
        import torch
        from transformers import CLIPModel

        self._processor = check_clip_model(model_name)
        try:
            local = Path(model_name).exists() or is_cached(model_name)
            self._model = CLIPModel.from_pretrained(model_name, local_files_only=local).to(device).eval()
        except Exception as error:
            raise _load_error(model_name, error) from None
        if self._model.config.projection_dim != SEMANTIC_DIM:
            raise UserError(
                f"{model_name} makes {self._model.config.projection_dim}-dimensional embeddings; "
                f"the models need {SEMANTIC_DIM} (CLIP ViT-L/14)"
            )
        self._torch = torch
        self._device = device
        self._batch_size = batch_size
        self.model_name = model_name
        size = self._processor.image_processor.size
        self._edge = int(size.get("shortest_edge") or min(size["height"], size["width"]))
        with torch.inference_mode():
            text = self._processor.tokenizer(list(EMOTIONS), padding=True, return_tensors="pt").to(device)
            text_embeds = self._model.get_text_features(**text).pooler_output
        self._text = text_embeds / text_embeds.norm(dim=-1, keepdim=True)
        # The prompts are encoded; the text tower (about a quarter of ViT-L/14's weights) can go.
        self._model.text_model = None
        self._model.text_projection = None
        self._scale = self._model.logit_scale.exp()
        self._pending: list[np.ndarray] = []
        self._semantic: list[np.ndarray] = []
        self._emotion: list[np.ndarray] = []

    @property
    def provenance(self) -> dict:
        import torch
        import transformers

        return {
            "clip_model": self.model_name,
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "device": self._device,
            "emotion_prompts": list(EMOTIONS),
        }

    @property
    def sample_fit(self) -> Callable[[int, int], tuple[int, int]]:
        # Samples are stored at the processor's resize size; it then only centre-crops them.
        return fit_shortest_edge(self._edge)

    def start(self) -> None:
        self._pending, self._semantic, self._emotion = [], [], []

    def add(self, image: np.ndarray) -> None:
        self._pending.append(image)
        if len(self._pending) >= self._batch_size:
            self._run_batch()

    def _run_batch(self) -> None:
        if not self._pending:
            return
        pixels = self._processor.image_processor(images=self._pending, return_tensors="pt")["pixel_values"]
        self._pending = []
        with self._torch.inference_mode():
            embeds = self._model.get_image_features(pixel_values=pixels.to(self._device)).pooler_output
            normalised = embeds / embeds.norm(dim=-1, keepdim=True)
            probs = (self._scale * normalised @ self._text.T).softmax(dim=-1)
        self._semantic.append(embeds.float().cpu().numpy())
        self._emotion.append(probs.float().cpu().numpy())

    def finish(self, motion: np.ndarray, scene_cuts: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
        """(semantic (T, dim), emotion (T, 6)) for the samples added since ``start``."""
        self._run_batch()
        semantic = np.concatenate(self._semantic).astype(np.float32)
        emotion = np.concatenate(self._emotion).astype(np.float32)
        self.start()
        return semantic, emotion
