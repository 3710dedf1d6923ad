"""The published checkpoint contract: import the reference state dicts and reproduce their outputs."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from video2music import vocab
from video2music.errors import UserError
from video2music.model import AMTConfig, RegressionConfig, VideoRegression
from video2music.model.reference_import import import_reference
from video2music.model.transformer import sinusoid_table

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


def _full_size_state(model: str) -> dict[str, torch.Tensor]:
    """A random state dict with exactly the names and shapes of the published full-size files."""
    generator = torch.Generator().manual_seed(0)
    state = {}
    for line in (REFERENCE / "full_manifest.txt").read_text().splitlines():
        if line.startswith("#"):
            continue
        name, key, shape = re.match(r"(\w+) (\S+) \(([\d, ]*)\)", line).groups()
        if name == model:
            dims = tuple(int(d) for d in shape.split(",") if d.strip())
            state[key] = torch.randn(dims, generator=generator)
    return state


@pytest.mark.slow
def test_full_size_amt_names_and_shapes_import():
    state = _full_size_state("amt")
    assert len(state) == 207
    # The sinusoid buffers are checked, not loaded, so they must hold the real tables.
    table = sinusoid_table(300, 512)[:, None]
    state["positional_encoding.pe"] = table.clone()
    state["positional_encoding_video.pe"] = table.clone()
    model = import_reference(state, "amt")
    assert model.config == AMTConfig(dropout=model.config.dropout)
    assert torch.equal(
        model.decoder_layers[5].self_attn.rel_embedding, state["transformer.decoder.layers.5.self_attn.Er"]
    )
    assert torch.equal(model.out.weight, state["Wout.weight"])


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
