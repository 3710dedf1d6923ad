"""Checking a ``--device`` before any model or data is loaded onto it."""

from __future__ import annotations

import torch

from video2music.utils.errors import UserError


def check_device(name: str | torch.device) -> torch.device:
    """``name`` as a torch device this machine has, or a UserError saying what to give instead."""
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise UserError(f"--device {name} is not a device; use cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        # Counted, not probed: creating a CUDA context here would put one on GPU 0 for every process.
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if not count:
            raise UserError(f"--device {name}: no CUDA GPU is available here; use --device cpu")
        if device.index is not None and device.index >= count:
            raise UserError(
                f"--device {name}: this machine has {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}"
            )
    elif device.type != "cpu":
        try:
            torch.empty(0, device=device)
        except (RuntimeError, AssertionError) as error:
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise UserError(f"--device {name} cannot be used here ({reason}); use --device cpu") from None
    return device
