"""Import of the published Video2Music state dicts (``best_loss_weights.pickle``, ``best_rmse_weights...``).

The authors' files are plain state dicts of their model classes. We build our model at the size
the tensors imply, rename every tensor to our layout, drop only the tensors their forward pass
never uses (listed below, by name) and refuse anything else, naming the keys. The two sinusoid
buffers are not weights: they are checked against the table the published code computes, not loaded.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Mapping
from typing import Any

import torch

from video2music.model.inputs import INPUT_ORDER, video_dim
from video2music.model.regression import RegressionConfig, VideoRegression
from video2music.model.transformer import AffectiveMultimodalTransformer, AMTConfig
from video2music.training.options import TASKS
from video2music.utils.errors import UserError

log = logging.getLogger(__name__)

KINDS = TASKS  # a checkpoint holds a model of a kind that can be trained

# Tensors of the published classes that their forward pass never reads.
UNUSED_AMT = re.compile(r"^(embedding\.weight|condition_linear\.\w+|Wout_root\.\w+|Wout_attr\.\w+)$")
UNUSED_REGRESSION = re.compile(r"^(bilstm|lstm|gru|fc)\.\w+$")
POSITION_BUFFERS = ("positional_encoding.pe", "positional_encoding_video.pe")

# (their pattern, our replacement), tried in order; the first full match wins.
_AMT_RENAMES: tuple[tuple[str, str], ...] = (
    (r"embedding_root\.(\w+)", r"root_embedding.\1"),
    (r"embedding_attr\.(\w+)", r"quality_embedding.\1"),
    (r"Linear_chord\.(\w+)", r"chord_in.\1"),
    (r"Linear_vis\.(\w+)", r"video_in.\1"),
    (r"Wout\.(\w+)", r"out.\1"),
    (r"transformer\.(encoder|decoder)\.norm\.(\w+)", r"\1_norm.\2"),
    (r"transformer\.(encoder|decoder)\.layers\.(\d+)\.(linear[12]\.\w+)", r"\1_layers.\2.ff.\3"),
    (r"transformer\.decoder\.layers\.(\d+)\.self_attn\.Er", r"decoder_layers.\1.self_attn.rel_embedding"),
    (r"transformer\.decoder\.layers\.(\d+)\.multihead_attn\.(.+)", r"decoder_layers.\1.cross_attn.\2"),
    (r"transformer\.(encoder|decoder)\.layers\.(\d+)\.((?:self_attn|norm[123])\..+)", r"\1_layers.\2.\3"),
)
_REGRESSION_RENAMES: tuple[tuple[str, str], ...] = (
    (r"bigru\.(\w+)", r"bigru.\1"),
    (r"bifc\.(\w+)", r"head.\1"),
)


def _rename(key: str, renames: tuple[tuple[str, str], ...]) -> str | None:
    for pattern, replacement in renames:
        if re.fullmatch(pattern, key):
            return re.sub(pattern, replacement, key)
    return None


def name_list(keys: list[str], limit: int = 8) -> str:
    """Up to ``limit`` names, comma-separated, and how many more there are."""
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def state_mismatch(expected: Mapping[str, torch.Tensor], given: Mapping[str, Any]) -> list[str]:
    """What keeps ``given`` from loading into a model whose state dict is ``expected``, one line
    per kind of problem (missing, unexpected, misshaped tensors, named); empty when it fits."""
    missing = sorted(set(expected) - set(given))
    extra = sorted(set(given) - set(expected))
    misshaped = sorted(k for k in set(given) & set(expected) if given[k].shape != expected[k].shape)
    problems = []
    if missing:
        problems.append(f"missing {name_list(missing)}")
    if extra:
        problems.append(f"not in a model of this size: {name_list(extra)}")
    if misshaped:
        problems.append(
            "wrong shapes: "
            + name_list([f"{k} {tuple(given[k].shape)} vs {tuple(expected[k].shape)}" for k in misshaped])
        )
    return problems


def nonfinite_tensors(state: Mapping[str, Any]) -> list[str]:
    """Names of the floating-point tensors in ``state`` holding NaN or infinity (a diverged or damaged
    model: decoding with it would fail mid-video)."""
    return sorted(
        name
        for name, value in state.items()
        if isinstance(value, torch.Tensor) and value.is_floating_point() and not torch.isfinite(value).all()
    )


_ZIP_MAGIC = b"PK\x03\x04"  # torch.save's format since PyTorch 1.6
_PICKLE_MAGIC = b"\x80"  # the legacy format: a pickle, protocol 2 or later


def _what_it_is(head: bytes) -> str:
    """A few words on a file that is not a checkpoint, from its first bytes."""
    if not head:
        return "it is empty"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "it does not start like one"
    if all(c.isprintable() or c.isspace() for c in text):
        return "it is a text file"
    return "it does not start like one"


def read_checkpoint_object(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load`` with ``weights_only=True`` (no code runs), turning every failure into a UserError.

    The messages are our own: torch's would suggest ``weights_only=False``, which runs whatever
    code the file holds, and for non-checkpoints they are unpickler internals.
    """
    if not os.path.isfile(path):
        raise UserError(f"{path} does not exist; give the path of a checkpoint file")
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
    except OSError as error:
        raise UserError(f"{path} cannot be read ({error.strerror})") from None
    if not head.startswith((_ZIP_MAGIC, _PICKLE_MAGIC)):
        raise UserError(
            f"{path} is not a PyTorch checkpoint: {_what_it_is(head)}; give a .pt or .pickle file"
        )
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises many kinds (RuntimeError, EOFError...) for a cut-off file
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(error))
        if found:
            raise UserError(
                f"{path} holds Python objects ({found.group(1)}), not only weights; video2music loads "
                "checkpoints without running the code they hold, so save a state dict instead"
            ) from None
        raise UserError(
            f"{path} is a damaged PyTorch checkpoint (truncated or corrupted); use an intact copy"
        ) from None


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Load a published pickle (a torch-saved state dict), or raise UserError."""
    state = state_dict_or_none(read_checkpoint_object(path))
    if state is None:
        raise UserError(f"{path} is not a state dict of tensors; it is not a Video2Music checkpoint")
    return state


def state_dict_or_none(obj: Any) -> dict[str, torch.Tensor] | None:
    """``obj`` as a state dict when it is a mapping of names to tensors, else None."""
    if isinstance(obj, Mapping) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return dict(obj)
    return None


def detect_kind(state: Mapping[str, torch.Tensor]) -> str:
    """'amt' or 'regression' for a published state dict, from its key names."""
    keys = set(state)
    if "Linear_vis.weight" in keys and "Wout.weight" in keys:
        return "amt"
    if "bigru.weight_ih_l0" in keys and "bifc.weight" in keys:
        return "regression"
    raise UserError(
        "this state dict is neither a published Video2Music transformer nor regression "
        f"(its keys start {name_list(sorted(keys), 5)})"
    )


def _strip_module_prefix(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # Models trained under nn.DataParallel save every key with a "module." prefix.
    if state and all(k.startswith("module.") for k in state):
        return {k[len("module.") :]: v for k, v in state.items()}
    return dict(state)


def _inputs_for(width: int) -> tuple[str, ...]:
    if width == video_dim(INPUT_ORDER):
        return INPUT_ORDER
    raise UserError(
        f"the checkpoint takes {width} video dims; published models take {video_dim(INPUT_ORDER)} "
        "(pass a config naming its inputs)"
    )


def _amt_config(state: Mapping[str, torch.Tensor]) -> AMTConfig:
    try:
        d_model, width = state["Linear_vis.weight"].shape
        layer_ids = {
            kind: {
                int(m.group(1)) for k in state if (m := re.match(rf"transformer\.{kind}\.layers\.(\d+)\.", k))
            }
            for kind in ("encoder", "decoder")
        }
        max_len, head_dim = state["transformer.decoder.layers.0.self_attn.Er"].shape
        d_ff = state["transformer.encoder.layers.0.linear1.weight"].shape[0]
    except (KeyError, ValueError) as error:
        raise UserError(
            f"the transformer state dict lacks or misshapes {error}; it is not a published AMT"
        ) from None
    return AMTConfig(
        n_encoder_layers=len(layer_ids["encoder"]),
        n_decoder_layers=len(layer_ids["decoder"]),
        d_model=int(d_model),
        n_heads=int(d_model) // int(head_dim),
        d_ff=int(d_ff),
        max_len=int(max_len),
        inputs=_inputs_for(int(width)),
    )


def _regression_config(state: Mapping[str, torch.Tensor]) -> RegressionConfig:
    try:
        hidden = state["bigru.weight_hh_l0"].shape[1]
        width = state["bigru.weight_ih_l0"].shape[1]
    except (KeyError, IndexError) as error:
        raise UserError(f"the regression state dict lacks or misshapes {error}") from None
    layers = len([k for k in state if re.fullmatch(r"bigru\.weight_ih_l\d+", k)])
    return RegressionConfig(hidden=int(hidden), layers=layers, inputs=_inputs_for(int(width)))


def published_position_table(length: int, d_model: int) -> torch.Tensor:
    """(length, d_model) sinusoid table as the published code computes it: all in float32, rate
    ``exp(2i * -ln(10000) / d_model)``, sin on even and cos on odd dims. Rounding the angle to
    float32 moves it from the exact table (ours) by up to ~2e-5 near position 300."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    rate = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    table = torch.zeros(length, d_model)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate)[:, : d_model // 2]
    return table


# Another float32 library may round exp and sin a little differently; a wrong table differs by ~1.
POSITION_TOLERANCE = 1e-4


def _check_positions(state: Mapping[str, torch.Tensor], model: AffectiveMultimodalTransformer) -> None:
    # The tables are derived, not learned: our model computes its own and only checks theirs.
    length, d_model = model.positions.shape
    expected = published_position_table(length, d_model)
    for key in POSITION_BUFFERS:
        table = state[key]
        if table.shape != (length, 1, d_model) or not torch.allclose(
            table[:, 0].float(), expected, atol=POSITION_TOLERANCE, rtol=0
        ):
            raise UserError(
                f"{key} {tuple(table.shape)} is not the sinusoid position table ({length}, 1, {d_model}) "
                "the published code writes; the file is damaged or not a Video2Music checkpoint"
            )


def import_reference(
    source: str | os.PathLike | Mapping[str, torch.Tensor],
    kind: str | None = None,
    config: AMTConfig | RegressionConfig | None = None,
) -> AffectiveMultimodalTransformer | VideoRegression:
    """Build our model from a published state dict (a path to the pickle, or the dict itself).

    ``kind`` is "amt" or "regression" (None: detected from the keys); ``config`` defaults to the
    size the tensors imply. Unknown, missing or misshaped tensors raise UserError naming them.
    The model is returned in eval mode.
    """
    state = read_state_dict(source) if isinstance(source, str | os.PathLike) else dict(source)
    state = _strip_module_prefix(state)
    found = detect_kind(state)
    if kind is not None and kind != found:
        raise UserError(f"this is a published {found} state dict, not a {kind}; use it for the {found}")
    if found == "amt":
        config = config or _amt_config(state)
        if not isinstance(config, AMTConfig):
            raise UserError("a transformer state dict needs an AMTConfig")
        model = AffectiveMultimodalTransformer(config)
        renames, unused = _AMT_RENAMES, UNUSED_AMT
    else:
        config = config or _regression_config(state)
        if not isinstance(config, RegressionConfig):
            raise UserError("a regression state dict needs a RegressionConfig")
        model = VideoRegression(config)
        renames, unused = _REGRESSION_RENAMES, UNUSED_REGRESSION

    ours: dict[str, torch.Tensor] = {}
    unknown: list[str] = []
    dropped: list[str] = []
    for key, tensor in state.items():
        if found == "amt" and key in POSITION_BUFFERS:
            continue
        if unused.fullmatch(key):
            dropped.append(key)
            continue
        target = _rename(key, renames)
        if target is None:
            unknown.append(key)
        else:
            ours[target] = tensor
    if unknown:
        raise UserError(
            f"the {found} state dict has tensors this model does not know: {name_list(sorted(unknown))}"
        )
    problems = state_mismatch(model.state_dict(), ours)
    if problems:
        raise UserError(f"the {found} state dict does not fit the model ({config}): " + "; ".join(problems))
    if found == "amt":
        missing_positions = [k for k in POSITION_BUFFERS if k not in state]
        if missing_positions:
            raise UserError(f"the transformer state dict lacks {', '.join(missing_positions)}")
        _check_positions(state, model)
    model.load_state_dict({k: v.float() for k, v in ours.items()})
    log.info(
        "imported a published %s state dict (%d tensors; dropped unused %s)",
        found,
        len(ours),
        name_list(dropped),
    )
    return model.eval()
