"""The published checkpoint contract: import the reference state dicts and reproduce their outputs."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from video2music.model import AMTConfig, RegressionConfig, VideoRegression
from video2music.model.reference_import import import_reference
from video2music.model.stepper import DecoderStepper
from video2music.theory import vocab
from video2music.utils.errors import UserError

torch.set_num_threads(1)  # small models: a thread pool mostly waits when the 2 cores are shared
REFERENCE = Path(__file__).parent / "data" / "reference"


@pytest.fixture(scope="module")
def tiny():
    inputs = np.load(REFERENCE / "tiny_inputs.npz")
    video = np.concatenate(
        [
            inputs["semantic"],
            inputs["scene_offset"][..., None],
            inputs["motion"][..., None],
            inputs["emotion"],
        ],
        axis=-1,
    )
    return inputs, np.load(REFERENCE / "tiny_outputs.npz"), torch.from_numpy(video)


@pytest.fixture(scope="module")
def tiny_amt():
    return import_reference(REFERENCE / "tiny_amt_state.pt", "amt")


def test_tiny_amt_is_built_at_the_size_its_tensors_imply(tiny_amt):
    config = tiny_amt.config
    assert (config.n_encoder_layers, config.n_decoder_layers, config.d_model) == (2, 2, 64)
    assert (config.n_heads, config.d_ff, config.max_len, config.video_dim) == (4, 128, 300, 776)


def test_chord_ids_split_into_the_reference_root_and_quality_ids(tiny):
    inputs, _, _ = tiny
    roots, qualities = vocab.root_quality_ids(inputs["x"][0])
    np.testing.assert_array_equal(roots, inputs["x_root"][0])
    np.testing.assert_array_equal(qualities, inputs["x_attr"][0])


@pytest.mark.parametrize("mode", [0, 1])
@pytest.mark.parametrize("length", [1, 7, 119])
def test_tiny_amt_reproduces_reference_logits(tiny, tiny_amt, mode, length):
    inputs, outputs, video = tiny
    chords = torch.from_numpy(inputs["x"][:, :length])
    with torch.inference_mode():
        logits = tiny_amt(chords, video, torch.tensor([float(mode)]))
    expected = outputs[f"logits_key{mode}_len{length}"]
    assert logits.shape == expected.shape
    np.testing.assert_allclose(logits.numpy(), expected, atol=1e-4, rtol=0)


def test_tiny_regression_reproduces_reference_outputs(tiny):
    _, outputs, video = tiny
    model = import_reference(REFERENCE / "tiny_regression_state.pt", "regression")
    assert (model.config.hidden, model.config.layers) == (16, 2)
    with torch.inference_mode():
        pred = model(video)
    np.testing.assert_allclose(pred.numpy(), outputs["regression"], atol=1e-4, rtol=0)


def _published_table(length: int, d_model: int) -> torch.Tensor:
    """(length, 1, d_model): the sinusoid buffer as the published code fills it, in float32."""
    div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
    angles = torch.arange(0, length, dtype=torch.float).unsqueeze(1) * div_term
    pe = torch.zeros(length, d_model)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles)
    return pe.unsqueeze(1)


def _full_size_state(model: str) -> dict[str, torch.Tensor]:
    """A random state dict with exactly the names and shapes of the published full-size files.

    Matrices are scaled by 1/sqrt(fan-in) and LayerNorm gains sit near 1, as in a trained model,
    so the logits have a realistic size; the sinusoid buffers are the published tables.
    """
    generator = torch.Generator().manual_seed(0)
    state = {}
    for line in (REFERENCE / "full_manifest.txt").read_text().splitlines():
        if line.startswith("#"):
            continue
        name, key, shape = re.match(r"(\w+) (\S+) \(([\d, ]*)\)", line).groups()
        if name != model:
            continue
        dims = tuple(int(d) for d in shape.split(",") if d.strip())
        if key.endswith(".pe"):
            state[key] = _published_table(dims[0], dims[2])
            continue
        values = torch.randn(dims, generator=generator)
        if len(dims) == 2:
            values /= math.sqrt(dims[1])
        elif re.search(r"norm\d?\.weight$", key):
            values = 1 + 0.1 * values
        else:
            values *= 0.1
        state[key] = values
    return state


@pytest.fixture(scope="module")
def full_state() -> dict[str, torch.Tensor]:
    return _full_size_state("amt")


def test_full_size_amt_names_and_shapes_import(full_state):
    assert len(full_state) == 207
    model = import_reference(full_state, "amt")
    assert model.config == AMTConfig(dropout=model.config.dropout)
    assert torch.equal(
        model.decoder_layers[5].self_attn.rel_embedding,
        full_state["transformer.decoder.layers.5.self_attn.Er"],
    )
    assert torch.equal(model.out.weight, full_state["Wout.weight"])
    # The published float32 tables differ from the exact ones by more than float32 rounding.
    assert (_published_table(300, 512)[:, 0] - model.positions).abs().max() > 1e-5


def _post_norm(x: torch.Tensor, residual, state: dict, prefix: str) -> torch.Tensor:
    return F.layer_norm(x + residual, x.shape[-1:], state[f"{prefix}.weight"], state[f"{prefix}.bias"])


def _feed_forward(x: torch.Tensor, state: dict, prefix: str) -> torch.Tensor:
    hidden = F.relu(F.linear(x, state[f"{prefix}.linear1.weight"], state[f"{prefix}.linear1.bias"]))
    return F.linear(hidden, state[f"{prefix}.linear2.weight"], state[f"{prefix}.linear2.bias"])


def _torch_attention(query, memory, state: dict, prefix: str, heads: int) -> torch.Tensor:
    """nn.MultiheadAttention's computation on (L, 1, d) inputs, with the weights under ``prefix``."""
    d = query.shape[-1]
    return F.multi_head_attention_forward(
        query, memory, memory, d, heads,
        state[f"{prefix}.in_proj_weight"], state[f"{prefix}.in_proj_bias"], None, None, False, 0.0,
        state[f"{prefix}.out_proj.weight"], state[f"{prefix}.out_proj.bias"],
        training=False, need_weights=False,
    )[0]  # fmt: skip


def _relative_attention(x: torch.Tensor, state: dict, prefix: str, heads: int) -> torch.Tensor:
    """The Music Transformer's relative self-attention as published: scores q.k + skew(q . Er^T)."""
    length, _, d = x.shape
    head_dim = d // heads
    q, k, v = F.linear(x[:, 0], state[f"{prefix}.in_proj_weight"], state[f"{prefix}.in_proj_bias"]).chunk(
        3, -1
    )
    q, k, v = (t.reshape(length, heads, head_dim).transpose(0, 1) for t in (q, k, v))
    q = q * head_dim**-0.5
    er = state[f"{prefix}.Er"]
    qe = q @ er[er.shape[0] - length :].T  # (H, L, L): column m is relative distance L - 1 - m
    # Skewing: pad a zero column on the left, fold the rows one longer and drop the first row.
    skewed = F.pad(qe, (1, 0)).reshape(heads, length + 1, length)[:, 1:]
    scores = q @ k.transpose(1, 2) + skewed
    scores = scores.masked_fill(torch.ones(length, length, dtype=torch.bool).triu(1), float("-inf"))
    out = (scores.softmax(-1) @ v).transpose(0, 1).reshape(length, 1, d)
    return F.linear(out, state[f"{prefix}.out_proj.weight"], state[f"{prefix}.out_proj.bias"])


def _published_forward(state: dict, chords: torch.Tensor, video: torch.Tensor, key: float) -> torch.Tensor:
    """The published model's eval-mode logits (L, 159), from shared/reference/README.md's formulae,
    computed on the published state dict's own tensors (positions included) in (L, 1, d) layout."""
    heads = 8
    roots, qualities = (torch.from_numpy(ids) for ids in vocab.root_quality_ids(chords.numpy()))
    x = state["embedding_root.weight"][roots] + state["embedding_attr.weight"][qualities]
    x = torch.cat([x, torch.full((len(chords), 1), key)], -1)
    x = F.linear(x, state["Linear_chord.weight"], state["Linear_chord.bias"])[:, None]
    x = x + state["positional_encoding.pe"][: len(chords)]
    memory = F.linear(video, state["Linear_vis.weight"], state["Linear_vis.bias"])[:, None]
    memory = memory + state["positional_encoding_video.pe"][: len(video)]
    for layer in range(6):
        prefix = f"transformer.encoder.layers.{layer}"
        attended = _torch_attention(memory, memory, state, f"{prefix}.self_attn", heads)
        memory = _post_norm(memory, attended, state, f"{prefix}.norm1")
        memory = _post_norm(memory, _feed_forward(memory, state, prefix), state, f"{prefix}.norm2")
    memory = _post_norm(memory, 0, state, "transformer.encoder.norm")
    for layer in range(6):
        prefix = f"transformer.decoder.layers.{layer}"
        x = _post_norm(
            x, _relative_attention(x, state, f"{prefix}.self_attn", heads), state, f"{prefix}.norm1"
        )
        attended = _torch_attention(x, memory, state, f"{prefix}.multihead_attn", heads)
        x = _post_norm(x, attended, state, f"{prefix}.norm2")
        x = _post_norm(x, _feed_forward(x, state, prefix), state, f"{prefix}.norm3")
    x = _post_norm(x, 0, state, "transformer.decoder.norm")
    return F.linear(x[:, 0], state["Wout.weight"], state["Wout.bias"])


@pytest.fixture(scope="module")
def full_case(full_state):
    """The imported full-size model, a 300-second input and the published logits for it."""
    generator = torch.Generator().manual_seed(5)
    video = torch.rand(300, 776, generator=generator)
    chords = torch.randint(0, vocab.NUM_CHORDS, (300,), generator=generator)
    with torch.inference_mode():
        expected = _published_forward(full_state, chords, video, 1.0)
    return import_reference(full_state, "amt"), video, chords, expected


@pytest.mark.slow
def test_full_size_published_state_reproduces_the_published_logits(full_case):
    model, video, chords, expected = full_case
    assert expected.abs().max() > 1  # logits of a realistic size, not a degenerate model
    with torch.inference_mode():
        logits = model(chords[None], video[None], torch.tensor([1.0]))[0]
    np.testing.assert_allclose(logits.numpy(), expected.numpy(), atol=1e-4, rtol=0)


@pytest.mark.slow
def test_full_size_cached_steps_reproduce_the_published_logits(full_case):
    model, video, chords, expected = full_case
    with torch.inference_mode():
        for precision, tolerance in (("float32", 1e-4), ("float16", 5e-3)):
            stepper = DecoderStepper(model, precision)
            state = stepper.start(video[None], 1)
            steps = torch.stack([stepper.step(state, int(c)) for c in chords])
            np.testing.assert_allclose(steps.numpy(), expected.numpy(), atol=tolerance, rtol=0)


def test_full_size_regression_names_and_shapes_import():
    state = _full_size_state("reg")
    model = import_reference(state, "regression")
    assert model.config == RegressionConfig()
    assert torch.equal(model.head.weight, state["bifc.weight"])
    assert torch.equal(model.bigru.weight_hh_l1_reverse, state["bigru.weight_hh_l1_reverse"])


def test_unknown_tensor_is_refused_by_name():
    state = dict(torch.load(REFERENCE / "tiny_amt_state.pt", weights_only=True))
    state["transformer.decoder.layers.0.extra_gate.weight"] = torch.zeros(3)
    with pytest.raises(UserError, match="extra_gate"):
        import_reference(state, "amt")


def test_missing_tensor_is_refused_by_name():
    state = dict(torch.load(REFERENCE / "tiny_amt_state.pt", weights_only=True))
    del state["transformer.decoder.layers.1.norm3.bias"]
    with pytest.raises(UserError, match=r"decoder_layers\.1\.norm3\.bias"):
        import_reference(state, "amt")


def test_wrong_size_state_dict_is_refused_for_a_given_config():
    with pytest.raises(UserError, match="wrong shapes"):
        import_reference(
            REFERENCE / "tiny_amt_state.pt",
            "amt",
            config=AMTConfig(d_model=64, n_heads=4, d_ff=256, n_encoder_layers=2, n_decoder_layers=2),
        )


def test_regression_pickle_is_refused_as_transformer():
    with pytest.raises(UserError, match="regression"):
        import_reference(REFERENCE / "tiny_regression_state.pt", "amt")


def test_altered_position_table_is_refused():
    state = dict(torch.load(REFERENCE / "tiny_amt_state.pt", weights_only=True))
    state["positional_encoding.pe"] = state["positional_encoding.pe"] * 2
    with pytest.raises(UserError, match="positional_encoding.pe"):
        import_reference(state, "amt")


def test_imported_regression_is_a_video_regression():
    assert isinstance(import_reference(REFERENCE / "tiny_regression_state.pt"), VideoRegression)


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (None, "encoder.conv1.bias"),  # not a Video2Music state dict at all
        ("transformer.decoder.layers.0.gate.weight", "transformer.decoder.layers.0.gate.weight"),
    ],
)
def test_generate_refuses_a_foreign_state_dict_in_one_line(tmp_path, extra, named):
    if extra is None:
        state = {"encoder.conv1.weight": torch.zeros(2, 2), "encoder.conv1.bias": torch.zeros(2)}
    else:
        state = dict(torch.load(REFERENCE / "tiny_amt_state.pt", weights_only=True))
        state[extra] = torch.zeros(3)
    torch.save(state, tmp_path / "weights.pickle")
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        [sys.executable, str(root / "generate.py"), "--video", str(root / "examples" / "delayed_start.mp4"),
         "--out", str(tmp_path / "out"), "--weights", str(tmp_path / "weights.pickle")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert named in proc.stderr
    assert not (tmp_path / "out").exists()
