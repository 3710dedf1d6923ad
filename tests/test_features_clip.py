"""The CLIP backend with a tiny randomly initialised CLIP saved to disk and loaded back by path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

from video2music.commands.features import main
from video2music.features import VideoFeatures, extract, make_backend
from video2music.theory.vocab import EMOTIONS
from video2music.utils.errors import UserError

IMAGE = 32
REPO = Path(__file__).resolve().parent.parent


def _tokenizer(folder) -> CLIPTokenizer:
    """A character-level BPE vocabulary (no merges) covering the six emotion prompts."""
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for char in sorted(set("".join(EMOTIONS))):
        vocab.setdefault(char, len(vocab))
        vocab.setdefault(f"{char}</w>", len(vocab))
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))


def _save_tiny_clip(folder, projection_dim: int = 768):
    folder.mkdir(parents=True)
    tokenizer = _tokenizer(folder)
    text = dict(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=32,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
    )
    vision = dict(
        image_size=IMAGE,
        patch_size=8,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=1,
        num_attention_heads=2,
    )
    torch.manual_seed(0)
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=projection_dim))
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": IMAGE}, crop_size={"height": IMAGE, "width": IMAGE}
    )
    model.save_pretrained(folder)
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    return _save_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip")


@pytest.fixture(scope="module")
def fades_clip(tiny_clip, examples_dir):
    return extract(examples_dir / "fades.mp4", backend="clip", clip_model=str(tiny_clip))


def test_shapes_and_provenance(fades_clip, tiny_clip):
    assert fades_clip.T == 10 and fades_clip.backend == "clip"
    assert fades_clip.semantic.shape == (10, 768) and fades_clip.semantic.dtype == np.float32
    assert fades_clip.inputs == {"semantic", "scene_offset", "motion", "emotion"}
    assert fades_clip.provenance["clip_model"] == str(tiny_clip)
    assert fades_clip.provenance["emotion_prompts"] == list(EMOTIONS)
    assert {"transformers", "torch"} <= set(fades_clip.provenance)
    np.testing.assert_allclose(fades_clip.emotion.sum(axis=1), 1.0, atol=1e-5)
    # A fade changes the picture, so the embeddings are not all the same.
    assert np.ptp(fades_clip.semantic, axis=0).max() > 1e-3


def _samples(path, seconds: int) -> list[np.ndarray]:
    """The first frame at or after each whole second, full size, found by timestamp search."""
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    picks = np.searchsorted([frame.time for frame in frames], np.arange(seconds), side="left")
    return [frames[i].to_ndarray(format="rgb24") for i in picks]


def test_semantic_and_emotion_are_what_clip_computes(fades_clip, tiny_clip, examples_dir):
    model = CLIPModel.from_pretrained(tiny_clip).eval()
    processor = CLIPProcessor.from_pretrained(tiny_clip)
    with torch.inference_mode():
        pixels = processor.image_processor(
            images=_samples(examples_dir / "fades.mp4", fades_clip.T), return_tensors="pt"
        )
        images = model.get_image_features(pixel_values=pixels["pixel_values"]).pooler_output
        tokens = processor.tokenizer(list(EMOTIONS), padding=True, return_tensors="pt")
        texts = model.get_text_features(**tokens).pooler_output
    # The pass shrinks samples itself before the processor: close, not bit-identical.
    cosine = torch.nn.functional.cosine_similarity(torch.from_numpy(fades_clip.semantic), images)
    assert cosine.min() > 0.98
    # Emotion is the softmax of the scaled cosine similarities of the backend's own embeddings.
    semantic = torch.from_numpy(fades_clip.semantic)
    logits = (
        model.logit_scale.detach().exp()
        * (semantic / semantic.norm(dim=-1, keepdim=True))
        @ (texts / texts.norm(dim=-1, keepdim=True)).T
    )
    np.testing.assert_allclose(fades_clip.emotion, logits.softmax(dim=-1).numpy(), atol=1e-5)


def test_batches_give_the_same_result_and_a_backend_serves_many_videos(fades_clip, tiny_clip, examples_dir):
    backend = make_backend("clip", clip_model=str(tiny_clip))
    backend._batch_size = 3  # 10 samples: batches of 3, 3, 3 and 1
    first = extract(examples_dir / "fades.mp4", backend)
    np.testing.assert_allclose(first.semantic, fades_clip.semantic, atol=1e-5)
    second = extract(examples_dir / "delayed_start.mp4", backend)
    assert second.semantic.shape == (1, 768) and second.emotion.shape == (1, 6)


def test_save_and_muvisync_keep_semantic(fades_clip, tmp_path):
    from video2music.features import VideoFeatures

    loaded = VideoFeatures.load(fades_clip.save(tmp_path / "f.npz"))
    np.testing.assert_array_equal(loaded.semantic, fades_clip.semantic)
    paths = fades_clip.to_muvisync(tmp_path / "muvi", "fades")
    assert paths["semantic"] == tmp_path / "muvi/vevo_semantic/all/2d/clip_l14p/fades.npy"
    np.testing.assert_array_equal(np.load(paths["semantic"]), fades_clip.semantic)


def test_unusable_clip_models_are_refused(tmp_path, examples_dir):
    video = examples_dir / "fades.mp4"
    empty = tmp_path / "empty"
    empty.mkdir()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{ not json")
    small = _save_tiny_clip(tmp_path / "small", projection_dim=16)
    cases = {empty: "no config.json", broken: "cannot load the CLIP model", small: "16-dimensional"}
    for folder, message in cases.items():
        with pytest.raises(UserError, match=message):
            extract(video, backend="clip", clip_model=str(folder))


def test_cli_with_a_local_clip_folder(tiny_clip, examples_dir, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    argv = [str(examples_dir / "delayed_start.mp4"), "--out", str(out), "--backend", "clip"]
    assert main([*argv, "--clip-model", str(tiny_clip), "--muvisync"]) == 0
    assert np.load(out / "vevo_semantic/all/2d/clip_l14p/delayed_start.npy").shape == (1, 768)
    assert main([*argv, "--clip-model", str(tmp_path / "nowhere"), "--overwrite"]) == 2
    assert "is neither a folder nor a Hugging Face model name" in capsys.readouterr().err
    monkeypatch.setenv("HF_ENDPOINT", UNREACHABLE)
    assert main([*argv, "--clip-model", "nobody/no-such-clip", "--overwrite"]) == 2
    error = capsys.readouterr().err
    assert "not in the Hugging Face cache" in error and "--backend basic" in error, error


UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens, the connection is refused


def _hub_cache(home, name: str, files_from=None):
    """A Hugging Face cache under ``home`` in the Hub's layout, holding ``files_from``'s files as
    the snapshot of ``name``; returns the environment that points the libraries at it."""
    repo = home / "hub" / f"models--{name.replace('/', '--')}"
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    for source in files_from.iterdir() if files_from else ():
        (snapshot / source.name).write_bytes(source.read_bytes())
    return {**os.environ, "HF_HOME": str(home), "HF_ENDPOINT": UNREACHABLE, "PYTHONPATH": str(REPO)}


def test_cached_weights_load_without_the_network(tiny_clip, examples_dir, tmp_path):
    # The model is found in the cache by its Hub name, and loaded with the network unreachable.
    env = _hub_cache(tmp_path / "hf", "someone/tiny-clip", tiny_clip)
    out = tmp_path / "out"
    args = [str(examples_dir / "delayed_start.mp4"), "--out", str(out), "--backend", "clip"]
    proc = subprocess.run(
        [sys.executable, "-m", "video2music.features", *args, "--clip-model", "someone/tiny-clip"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "thrown while requesting" not in proc.stderr
    assert VideoFeatures.load(out / "delayed_start.npz").semantic.shape == (1, 768)


def test_no_weights_and_no_network_fail_at_once_naming_generate_flag(tmp_path, examples_dir):
    env = _hub_cache(tmp_path / "hf", "openai/clip-vit-large-patch14-336")  # an empty snapshot
    out = tmp_path / "out"
    began = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(REPO / "generate.py"), "--video", str(examples_dir / "delayed_start.mp4")]
        + ["--out", str(out), "--features", "clip", "--weights", "debug"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    seconds = time.perf_counter() - began
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: the CLIP weights"), proc.stderr
    assert "--features basic" in proc.stderr and "python -m video2music.features.fetch_clip" in proc.stderr
    assert "--clip-model" not in proc.stderr and not out.exists()
    # Checked before torch loads, with no retries: transformers' own retries took 25-40 s here. The
    # bound is loose for loaded CI machines; on an idle one it takes about one second.
    assert seconds < 15, seconds
