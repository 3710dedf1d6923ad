"""Benchmark: cached chord decoding against a naive decoder that re-runs the whole forward pass.

Full-size transformer (6+6 layers, d_model 512, 8 heads, ff 1024), random weights, 2 threads.
The naive decoder is what the reference implementation does: for every new chord, encode the
video and run the decoder over the whole prefix again. Both use the same sampler and seed, so
they must choose the same chords; the script checks that before printing the ratio.

    .venv/bin/python bench/decode.py [--seconds 300] [--long-seconds 1200]
"""

from __future__ import annotations

import argparse
import time

import torch

from video2music.model.decode import ChordSampler, DecodeOptions, decode_chords
from video2music.model.transformer import AffectiveMultimodalTransformer, AMTConfig


@torch.inference_mode()
def naive_decode(
    model: AffectiveMultimodalTransformer, video: torch.Tensor, mode_bit: int, options: DecodeOptions
):
    """The reference's way: a full forward pass over the whole prefix for each new chord."""
    chords = [122 if mode_bit else 1]
    sample = ChordSampler(options, None)
    mode = torch.tensor([float(mode_bit)])
    while len(chords) < video.shape[1]:
        logits = model(torch.tensor([chords]), video, mode)[0, -1]
        chords.append(sample(logits, len(chords), chords))
    return chords


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=int, default=300, help="video length for the cached/naive comparison"
    )
    parser.add_argument("--long-seconds", type=int, default=1200, help="video length for the windowed run")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = AffectiveMultimodalTransformer(AMTConfig()).eval()
    options = DecodeOptions(seed=0)
    video = torch.rand(1, args.seconds, model.config.video_dim)

    half = DecodeOptions(seed=0, half_weights=True)
    decode_chords(model, video[:, :20], 0, options)  # warm-up: allocator, kernels
    decode_chords(model, video[:, :20], 0, half)
    cached, cached_s = timed(decode_chords, model, video, 0, options)
    cached_half, half_s = timed(decode_chords, model, video, 0, half)
    naive, naive_s = timed(naive_decode, model, video, 0, options)
    agree = sum(a == b for a, b in zip(cached, naive, strict=True))
    agree_half = sum(a == b for a, b in zip(cached, cached_half, strict=True))
    print(f"{args.seconds} s video, full-size model, {args.threads} threads")
    print(f"  naive decoding:               {naive_s:8.3f} s")
    print(f"  cached decoding (float32):    {cached_s:8.3f} s  {naive_s / cached_s:6.1f} x faster")
    print(f"  cached decoding (half_weights): {half_s:6.3f} s  {naive_s / half_s:6.1f} x faster")
    print(
        f"  same chords as naive: {agree}/{len(cached)} (float32), {agree_half}/{len(cached)} (half_weights)"
    )

    long_video = torch.rand(1, args.long_seconds, model.config.video_dim)
    chords, long_s = timed(decode_chords, model, long_video, 0, options)
    _, long_half_s = timed(decode_chords, model, long_video, 0, half)
    assert len(chords) == args.long_seconds
    print(
        f"{args.long_seconds} s video (windowed): {long_s:.3f} s cached, "
        f"{long_s / args.long_seconds * 1000:.2f} ms per second of video; "
        f"{long_half_s:.3f} s with half_weights"
    )


if __name__ == "__main__":
    main()
