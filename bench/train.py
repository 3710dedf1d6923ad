"""Benchmark: training throughput of the full-size transformer at batch 1 and batch 8.

One training step is what ``video2music.training.loop`` does: teacher-forced forward over 300-second
windows, the lambda-weighted loss, backward, gradient clipping, an Adam step. Windows come from
synthetic fixture videos longer than 300 s, so every window is full. After ``--warmup-steps``
untimed steps, ``--steps`` steps are timed for each batch size; the printed ratio is samples
per second against batch 1, measured in the same run.

    .venv/bin/python bench/train.py [--steps 3] [--threads 2] [--device cpu]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from video2music.data.fixture import fixture_video
from video2music.data.windows import DEFAULT_WINDOW, WindowDataset, collate
from video2music.model.loss import amt_loss
from video2music.model.transformer import AffectiveMultimodalTransformer, AMTConfig
from video2music.training.tasks import amt_forward

WINDOW = DEFAULT_WINDOW


def samples_per_second(
    model: AffectiveMultimodalTransformer,
    data: WindowDataset,
    batch_size: int,
    steps: int,
    warmup: int,
    device,
) -> float:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.98), eps=1e-9)
    model.train()
    elapsed = 0.0
    for step in range(warmup + steps):
        batch = collate([data[(step * batch_size + i) % len(data)] for i in range(batch_size)]).to(device)
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        logits, targets, emotion = amt_forward(model, batch)
        loss = amt_loss(logits, targets, emotion)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if step >= warmup:
            elapsed += time.perf_counter() - start
    return steps * batch_size / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="timed steps per batch size")
    parser.add_argument("--warmup-steps", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-sizes", default="1,8", help="the first is the baseline")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    rng = np.random.default_rng(0)
    videos = [fixture_video(f"v{i}", WINDOW + 20, rng) for i in range(8)]
    config = AMTConfig(inputs=("scene_offset", "motion", "emotion"))
    data = WindowDataset(videos, config.inputs, window=WINDOW, random_crop=True)
    model = AffectiveMultimodalTransformer(config).to(device)
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    print(f"full-size transformer ({sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters), "
          f"window {WINDOW} s, {args.steps} timed steps after {args.warmup_steps}, "
          f"{args.device}, {args.threads} threads")  # fmt: skip
    baseline = None
    for batch_size in sizes:
        rate = samples_per_second(model, data, batch_size, args.steps, args.warmup_steps, device)
        baseline = baseline or rate
        print(f"batch {batch_size:>2}: {rate:7.3f} samples/s ({rate * WINDOW:8.1f} s of video/s), "
              f"x{rate / baseline:.2f} vs batch {sizes[0]}")  # fmt: skip


if __name__ == "__main__":
    main()
