"""Benchmark: cached chord decoding (float32 and the default float16) against re-running the model.

Full-size transformer (6+6 layers, d_model 512, 8 heads, ff 1024, relative attention 300, 776
video dims: the published size), random weights, ``--threads`` torch threads (the steps of cached
decoding run on one or two of them, whichever is faster at the time: ``model/step_threads.py``).
The naive decoder is what the reference implementation does: for every new chord, encode the video
and run the decoder over the whole prefix again. It uses the same sampler and seed as float32 cached decoding,
so the two must choose the same chords; the script checks that before printing the ratios.
Cached timings are medians of ``--repeats`` runs (the naive one runs once), because other
processes on the machine make single runs noisy.

    .venv/bin/python bench/decode.py [--seconds 300] [--repeats 5] [--seeds 5] [--long-seconds 1200]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from collections.abc import Callable

import torch

from video2music.model.decode import MAJOR_TONIC, ChordSampler, DecodeOptions, decode_chords
from video2music.model.stepper import DecoderStepper
from video2music.model.transformer import AffectiveMultimodalTransformer, AMTConfig

DEFAULT = DecodeOptions().precision


@torch.inference_mode()
def naive_decode(
    model: AffectiveMultimodalTransformer, video: torch.Tensor, mode_bit: int, options: DecodeOptions
) -> list[int]:
    """The reference's way: a full forward pass over the whole prefix for each new chord."""
    chords = [MAJOR_TONIC]
    sample = ChordSampler(options, None)
    mode = torch.tensor([float(mode_bit)])
    while len(chords) < video.shape[1]:
        logits = model(torch.tensor([chords]), video, mode)[0, -1]
        chords.append(sample(logits, len(chords), chords))
    return chords


def timed(fn: Callable, *args) -> tuple[object, float]:
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def median_time(repeats: int, fn: Callable, *args) -> tuple[object, float]:
    runs = [timed(fn, *args) for _ in range(repeats)]
    return runs[0][0], statistics.median(seconds for _, seconds in runs)


@torch.inference_mode()
def step_breakdown(
    model: AffectiveMultimodalTransformer, video: torch.Tensor, precision: str
) -> dict[str, float]:
    """Seconds spent per part of the decoding steps, on one thread (decode_chords times one and two
    threads and keeps the faster; the parts are clearest on one)."""
    spent: dict[str, float] = defaultdict(float)

    def clock(name: str, fn: Callable) -> Callable:
        def run(*args):
            start = time.perf_counter()
            result = fn(*args)
            spent[name] += time.perf_counter() - start
            return result

        return run

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    stepper = DecoderStepper(model, precision)
    for layer in stepper.layers:  # instance attributes shadow the methods the layer calls
        layer.self_attention = clock("self-attention", layer.self_attention)
        layer.cross_attention = clock("cross-attention", layer.cross_attention)
        layer.feed_forward = clock("feed-forward", layer.feed_forward)
    sample = ChordSampler(DecodeOptions(seed=0, precision=precision), None)
    state = stepper.start(video, 0)
    chords = [MAJOR_TONIC]
    while len(chords) < video.shape[1]:
        logits = clock("step", stepper.step)(state, chords[-1])
        chords.append(clock("sampling", sample)(logits, len(chords), chords))
    torch.set_num_threads(threads)
    spent["rest of the step (embedding, norms, output)"] = spent.pop("step") - sum(
        spent[k] for k in ("self-attention", "cross-attention", "feed-forward")
    )
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=300, help="video length for the comparison")
    parser.add_argument("--repeats", type=int, default=5, help="runs per cached timing (median)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds for the float32 agreement count")
    parser.add_argument("--long-seconds", type=int, default=1200, help="video length for the windowed run")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = AffectiveMultimodalTransformer(AMTConfig()).eval()
    video = torch.rand(1, args.seconds, model.config.video_dim)
    exact, fast = DecodeOptions(seed=0, precision="float32"), DecodeOptions(seed=0)

    decode_chords(model, video[:, :20], 0, exact)  # warm-up: allocator, kernels
    decode_chords(model, video[:, :20], 0, fast)
    cached, cached_s = median_time(args.repeats, decode_chords, model, video, 0, exact)
    _, fast_s = median_time(args.repeats, decode_chords, model, video, 0, fast)
    naive, naive_s = timed(naive_decode, model, video, 0, exact)
    if naive != cached:
        raise SystemExit("float32 cached decoding chose other chords than the naive decoder: a bug")

    print(f"{args.seconds} s video, full-size model, {args.threads} threads; medians of {args.repeats} runs")
    print(f"  naive re-forward (once):      {naive_s:8.3f} s")
    print(f"  cached, float32:              {cached_s:8.3f} s  {naive_s / cached_s:6.1f} x naive")
    print(
        f"  cached, {DEFAULT} (default):     {fast_s:8.3f} s  {naive_s / fast_s:6.1f} x naive, "
        f"{cached_s / fast_s:.2f} x float32"
    )
    print(f"  float32 cached chose the naive decoder's chords: {len(naive)}/{len(naive)}")
    for seed in range(args.seeds):
        ref = decode_chords(model, video, 0, DecodeOptions(seed=seed, precision="float32"))
        got = decode_chords(model, video, 0, DecodeOptions(seed=seed))
        same = sum(a == b for a, b in zip(ref, got, strict=True))
        print(f"  seed {seed}: {same}/{len(ref)} chords of the default identical to float32")

    for precision in ("float32", DEFAULT):
        spent = step_breakdown(model, video, precision)
        steps = args.seconds - 1
        parts = ", ".join(f"{name} {1000 * s / steps:.2f}" for name, s in spent.items())
        print(f"  ms per step on one thread, {precision}: {1000 * sum(spent.values()) / steps:.2f} = {parts}")

    long_video = torch.rand(1, args.long_seconds, model.config.video_dim)
    chords, long_s = timed(decode_chords, model, long_video, 0, fast)
    assert len(chords) == args.long_seconds
    print(
        f"{args.long_seconds} s video (windowed, default): {long_s:.3f} s, "
        f"{long_s / args.long_seconds * 1000:.2f} ms per second of video"
    )


if __name__ == "__main__":
    main()
