"""Cached decoding: equal to the full forward pass, seeded, and obeying the decoding rules."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from video2music.model import AffectiveMultimodalTransformer, AMTConfig
from video2music.model.decode import MAJOR_TONIC, MINOR_TONIC, DecodeOptions, decode_chords, window_starts
from video2music.model.reference_import import import_reference
from video2music.model.stepper import DecoderStepper
from video2music.theory import harmony, vocab
from video2music.utils.errors import UserError

torch.set_num_threads(1)  # one position at a time: tiny ops, a thread pool only adds waiting
REFERENCE = Path(__file__).parent / "data" / "reference"


def _model(seed: int = 0, **sizes) -> AffectiveMultimodalTransformer:
    torch.manual_seed(seed)
    config = AMTConfig(**{"n_encoder_layers": 2, "n_decoder_layers": 2, "d_model": 32, "n_heads": 4,
                          "d_ff": 64, **sizes})  # fmt: skip
    return AffectiveMultimodalTransformer(config).eval()


def _video(seconds: int, dim: int = 776, seed: int = 1) -> torch.Tensor:
    return torch.rand(1, seconds, dim, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("mode", [0, 1])
def test_every_cached_step_equals_the_full_forward_pass_float64(mode):
    model = _model().double()
    # A relative table with large entries makes a wrong Er row visible in the logits.
    for layer in model.decoder_layers:
        layer.self_attn.rel_embedding.data.normal_(0, 2.0)
    video = _video(40).double()
    chords = torch.randint(0, vocab.VOCAB_SIZE - 2, (1, 40), generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        full = model(chords, video, torch.tensor([float(mode)]))[0]
        state = DecoderStepper(model).start(video, mode)
        steps = torch.stack([state.stepper.step(state, int(c)) for c in chords[0]])
    np.testing.assert_allclose(steps.softmax(-1).numpy(), full.softmax(-1).numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(steps.numpy(), full.numpy(), atol=1e-5, rtol=0)


def test_cached_steps_of_the_reference_model_match_its_published_logits():
    model = import_reference(REFERENCE / "tiny_amt_state.pt", "amt")
    inputs, outputs = np.load(REFERENCE / "tiny_inputs.npz"), np.load(REFERENCE / "tiny_outputs.npz")
    video = np.concatenate(
        [
            inputs["semantic"],
            inputs["scene_offset"][..., None],
            inputs["motion"][..., None],
            inputs["emotion"],
        ],
        -1,
    )
    with torch.inference_mode():
        state = DecoderStepper(model).start(torch.from_numpy(video), 1)
        steps = torch.stack([state.stepper.step(state, int(c)) for c in inputs["x"][0]])
    np.testing.assert_allclose(steps.numpy(), outputs["logits_key1_len119"][0], atol=1e-4, rtol=0)


def test_decoding_is_deterministic_per_seed_and_varies_with_it():
    model, video = _model(), _video(60)
    first = decode_chords(model, video, 0, DecodeOptions(seed=5))
    assert first == decode_chords(model, video, 0, DecodeOptions(seed=5))
    assert first != decode_chords(model, video, 0, DecodeOptions(seed=6))
    assert len(first) == 60 and first[0] == MAJOR_TONIC


def test_minor_mode_starts_on_a_minor_and_primer_is_kept():
    model, video = _model(), _video(12)
    assert decode_chords(model, video, 1)[0] == MINOR_TONIC
    primer = tuple(vocab.parse_progression("F G Am"))
    chords = decode_chords(model, video, 0, DecodeOptions(primer=primer))
    assert tuple(chords[:3]) == primer and len(chords) == 12


def test_greedy_decoding_follows_the_argmax_of_the_rules():
    model, video = _model(), _video(25)
    chords = decode_chords(model, video, 0, DecodeOptions(temperature=0, max_repeat=3, allow_n=True))
    with torch.inference_mode():
        logits = model(torch.tensor([chords[:-1]]), video, torch.tensor([0.0]))[0]
    for t in range(1, 25):
        scores = logits[t - 1].clone()
        scores[[vocab.END_ID, vocab.PAD_ID]] = float("-inf")
        if t >= 3 and len(set(chords[t - 3 : t])) == 1:
            scores[chords[t - 1]] = float("-inf")
        assert chords[t] == int(scores.argmax())


def test_rules_no_n_no_end_and_maximum_run():
    model = _model()
    # Push N and one chord far up so the rules, not the model, decide.
    with torch.no_grad():
        model.out.bias[vocab.N_ID] = 50.0
        model.out.bias[vocab.END_ID] = 50.0
        model.out.bias[7] = 40.0
    chords = decode_chords(model, _video(50), 0, DecodeOptions(seed=1, max_repeat=2))
    assert vocab.N_ID not in chords and vocab.END_ID not in chords and vocab.PAD_ID not in chords
    runs = [len(list(group)) for _, group in itertools.groupby(chords)]
    assert max(runs) <= 2
    assert chords.count(7) >= 20  # the favoured chord does come back after each break
    with_n = decode_chords(model, _video(50), 0, DecodeOptions(seed=1, allow_n=True, max_repeat=50))
    assert with_n.count(vocab.N_ID) > 40


def test_change_at_forces_a_new_chord_at_scene_cuts():
    model = _model()
    with torch.no_grad():
        model.out.bias[7] = 40.0  # the model would hold chord 7 for ever
    cuts = frozenset({5, 9, 17})
    chords = decode_chords(model, _video(24), 0, DecodeOptions(max_repeat=100, change_at=cuts, primer=(7,)))
    changes = {t for t in range(1, 24) if chords[t] != chords[t - 1]}
    assert cuts <= changes
    assert changes - cuts <= {t + 1 for t in cuts}  # only the cuts and the return to chord 7 after them


def test_emotion_guidance_favours_the_qualities_the_emotion_allows():
    model, video = _model(), _video(80)
    sad = np.zeros((80, 6), dtype=np.float32)
    sad[:, vocab.EMOTIONS.index("sad")] = 1.0
    allowed = {vocab.chord_id(r, q) for r in range(12) for q in vocab.AFFECTIVE_QUALITIES["sad"]}
    plain = decode_chords(model, video, 0, DecodeOptions(seed=2))
    guided = decode_chords(model, video, 0, DecodeOptions(seed=2, emotion_guidance=8.0), emotion=sad)

    def share(chords: list[int]) -> float:
        return float(np.mean([c in allowed for c in chords[1:]]))

    assert share(guided) > 0.9 > share(plain)


def test_top_p_small_keeps_only_the_most_likely_chord():
    model, video = _model(), _video(30)
    greedy = decode_chords(model, video, 0, DecodeOptions(temperature=0))
    nucleus = decode_chords(model, video, 0, DecodeOptions(seed=9, temperature=1.0, top_p=1e-6))
    assert nucleus == greedy


def test_long_videos_are_decoded_in_windows_that_continue_the_progression():
    model = _model(max_len=40)
    video = _video(130, seed=4)
    assert window_starts(130, 40) == [0, 27, 54, 81, 90]
    chords = decode_chords(model, video, 0, DecodeOptions(temperature=0))
    assert len(chords) == 130
    # Each window's chords are what the model predicts from that slice of the video primed with
    # the chords before it: re-check the last window with one full forward pass.
    with torch.inference_mode():
        logits = model(torch.tensor([chords[90:129]]), video[:, 90:130], torch.tensor([0.0]))[0]
    for t in range(121, 130):  # seconds the last window generated (the earlier ones were its primer)
        scores = logits[t - 91].clone()
        scores[[vocab.N_ID, vocab.END_ID, vocab.PAD_ID]] = float("-inf")
        if len(set(chords[t - 2 : t])) == 1:
            scores[chords[t - 1]] = float("-inf")
        assert chords[t] == int(scores.argmax())


@pytest.mark.parametrize(
    ("video", "options", "message"),
    [
        (_video(10, dim=700), DecodeOptions(), "700 dims"),
        (torch.full((1, 10, 776), float("nan")), DecodeOptions(), "NaN"),
        (torch.zeros(1, 0, 776), DecodeOptions(), "T = 0"),
        (_video(10), DecodeOptions(primer=(160,)), "not in the vocabulary"),
        (_video(10), DecodeOptions(primer=(vocab.END_ID,)), "not in the vocabulary"),
        (_video(10), DecodeOptions(temperature=-1), "temperature"),
        (_video(10), DecodeOptions(top_p=0), "top_p"),
        (_video(10), DecodeOptions(max_repeat=0), "max_repeat"),
    ],
)
def test_bad_input_is_refused_before_decoding(video, options, message):
    with pytest.raises(UserError, match=message):
        decode_chords(_model(), video, 0, options)


def test_guidance_without_emotion_features_is_refused():
    model = _model(inputs=("semantic",))
    with pytest.raises(UserError, match="emotion"):
        decode_chords(model, _video(5, dim=768), 0, DecodeOptions(emotion_guidance=1.0))


def test_float16_steps_stay_close_to_float32_and_leave_the_model_alone():
    model = import_reference(REFERENCE / "tiny_amt_state.pt", "amt")
    half = DecoderStepper(model, "float16")
    assert half.layers[0].ff1.weight.dtype == torch.float16
    assert model.decoder_layers[0].ff.linear1.weight.dtype == torch.float32
    video, chords = _video(60), torch.randint(1, 157, (60,), generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        full = model(chords[None], video, torch.tensor([0.0]))[0]
        state = half.start(video, 0)
        steps = torch.stack([half.step(state, int(c)) for c in chords])
    assert steps.dtype == torch.float32
    np.testing.assert_allclose(steps.log_softmax(-1).numpy(), full.log_softmax(-1).numpy(), atol=2e-3, rtol=0)
    assert not np.allclose(steps.numpy(), full.numpy(), atol=1e-6, rtol=0)  # it did round the weights


def test_default_float16_decoding_chooses_the_float32_chords():
    model, video = _model(), _video(80)
    assert DecodeOptions().precision == "float16"
    for seed in range(3):
        exact = decode_chords(model, video, 0, DecodeOptions(seed=seed, precision="float32"))
        assert decode_chords(model, video, 0, DecodeOptions(seed=seed)) == exact


def test_unknown_precision_is_refused():
    with pytest.raises(UserError, match="precision 'int4'"):
        decode_chords(_model(), _video(5), 0, DecodeOptions(precision="int4"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize(("precision", "tolerance"), [("float32", 1e-4), ("float16", 5e-3)])
def test_cuda_steps_match_the_cpu_forward_pass(precision, tolerance):
    model = import_reference(REFERENCE / "tiny_amt_state.pt", "amt")
    video, chords = _video(60), torch.randint(1, 157, (60,), generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        full = model(chords[None], video, torch.tensor([0.0]))[0]
        gpu = model.to("cuda")
        stepper = DecoderStepper(gpu, precision)
        state = stepper.start(video.cuda(), 0)
        steps = torch.stack([stepper.step(state, int(c)) for c in chords]).cpu()
    np.testing.assert_allclose(steps.numpy(), full.numpy(), atol=tolerance, rtol=0)
    chosen = decode_chords(gpu, video.cuda(), 0, DecodeOptions(seed=4, precision=precision))
    assert len(chosen) == 60 and chosen[0] == MAJOR_TONIC


def test_stepping_past_the_window_is_refused():
    model = _model(max_len=5)
    with torch.inference_mode():
        state = DecoderStepper(model).start(_video(5), 0)
        for _ in range(5):
            state.stepper.step(state, 3)
        with pytest.raises(UserError, match="window of 5"):
            state.stepper.step(state, 3)


def test_key_mask_keeps_chords_in_key_and_lets_borrowed_ones_in_rarely():
    model = _model()
    with torch.no_grad():
        model.out.bias[vocab.parse_chord("F#")] = 5.0  # a favourite that no key here allows
    for mode in (0, 1):
        chords = decode_chords(model, _video(120), mode, DecodeOptions(seed=2, key_mask=True, max_repeat=4))
        assert set(chords) <= harmony.allowed_chords(mode)
        in_key = np.mean([harmony.in_key(c, mode) for c in chords])
        assert in_key >= 0.8
    unmasked = decode_chords(model, _video(120), 0, DecodeOptions(seed=2, max_repeat=4))
    assert not set(unmasked) <= harmony.allowed_chords(0)


@pytest.mark.parametrize(
    ("key", "scale", "borrowed"),
    [
        ("C major", "C D E F G A B", "D D7 E E7 Bb Fm"),
        ("A minor", "A B C D E F G G#", ""),
        ("F# minor", "F# G# A B C# D E E#", ""),  # the key of the report: Dm used to come up
    ],
)
def test_the_key_mask_allows_only_chords_spelled_from_the_keys_scale(key, scale, borrowed):
    # A chord is in key when its tones, spelled for the key, are the scale's notes: Fm in A minor
    # (F Ab C) shares its pitch classes with the harmonic minor's G# but is no chord of the key.
    key = vocab.parse_key(key)
    mode = 1 if key.mode == "minor" else 0
    borrowed_ids = {vocab.transpose_chord(c, -key.transpose) for c in vocab.parse_progression(borrowed)}
    for chord in harmony.allowed_chords(mode) - borrowed_ids:
        moved = vocab.transpose_chord(chord, key.transpose)
        notes = vocab.chord_note_names(moved, key)
        assert set(notes) <= set(scale.split()), (vocab.chord_symbol(moved, key), notes)
    named = {
        vocab.chord_symbol(vocab.transpose_chord(c, key.transpose), key) for c in harmony.allowed_chords(mode)
    }
    if key.mode == "minor":
        dominant, leading = ("E", "G#dim") if key.tonic == 9 else ("C#", "E#dim")
        assert {dominant, f"{dominant}7", leading, f"{leading}7"} <= named
        assert ("Fm" if key.tonic == 9 else "Dm") not in named


@pytest.mark.parametrize(
    ("progression", "key"),
    [
        ("Am F C G", "A minor"),  # the relative major fits as well: the first chord decides
        ("C Am F G", "C major"),
        ("Dm C A Dsus2 Dm C F Dm7 Dm C Bb Dm", "D minor"),
        ("G D Em C", "G major"),
        ("E A B7 E", "E major"),
    ],
)
def test_a_progression_is_in_the_key_it_fits(progression, key):
    assert harmony.fitting_key(vocab.parse_progression(progression)) == vocab.parse_key(key)


def test_cadence_ends_on_the_tonic_after_a_chord_leading_there():
    model = _model()
    with torch.no_grad():
        model.out.bias[vocab.parse_chord("Bdim")] = 40.0  # the model would never resolve
    for mode in (0, 1):
        for seed in range(3):
            chords = decode_chords(
                model, _video(16), mode, DecodeOptions(seed=seed, cadence=True, max_repeat=99)
            )
            assert chords[-2:] == [harmony.TONIC[mode]] * 2
            assert set(chords[-4:-2]) <= harmony.cadence_chords(mode)
            assert chords[-5] == vocab.parse_chord("Bdim")  # before the last two bars the model decides


def test_loop_bias_brings_the_progression_back_four_bars_later():
    model = _model()
    options = DecodeOptions(seed=4, key_mask=True, max_repeat=4)
    plain = decode_chords(model, _video(64), 0, options)
    looped = decode_chords(model, _video(64), 0, dataclasses.replace(options, loop_bias=6.0))

    def returns(chords):
        return np.mean([chords[t] == chords[t - 8] for t in range(8, len(chords))])

    assert returns(looped) >= 0.8 > returns(plain)


def test_hold_bias_keeps_chords_through_the_middle_of_a_bar():
    model = _model()
    options = DecodeOptions(seed=5, key_mask=True, max_repeat=4)
    held = decode_chords(model, _video(64), 0, dataclasses.replace(options, hold_bias=6.0))
    mid_bar_changes = sum(held[t] != held[t - 1] for t in range(1, 64, 2))
    bar_changes = sum(held[t] != held[t - 1] for t in range(2, 64, 2))
    assert mid_bar_changes <= 3 < bar_changes


def test_vary_with_video_gives_one_seed_different_chords_on_different_videos():
    model = _model()
    options = DecodeOptions(seed=0, key_mask=True, max_repeat=4, vary_with_video=True)
    a = decode_chords(model, _video(60, seed=1), 0, options)
    b = decode_chords(model, _video(60, seed=2), 0, options)
    assert a == decode_chords(model, _video(60, seed=1), 0, options)  # still reproducible
    same = np.mean([x == y for x, y in zip(a, b, strict=True)])
    fixed = dataclasses.replace(options, vary_with_video=False)
    same_fixed = np.mean(
        [x == y for x, y in zip(decode_chords(model, _video(60, seed=1), 0, fixed),
                                 decode_chords(model, _video(60, seed=2), 0, fixed), strict=True)]
    )  # fmt: skip
    assert same < same_fixed


def test_steps_are_the_same_bit_for_bit_on_one_or_two_threads():
    # Full width, so that the products are large enough for torch to split them between threads.
    model = _model(n_encoder_layers=1, n_decoder_layers=1, d_model=512, n_heads=8, d_ff=1024)
    video = _video(30)
    chords = [int(c) for c in torch.randint(1, 157, (30,), generator=torch.Generator().manual_seed(2))]
    try:
        for precision in ("float32", "float16"):
            stepper = DecoderStepper(model, precision)
            logits = []
            for threads in (1, 2):
                with torch.inference_mode():
                    # The prefix is encoded on the caller's count, as decode_chords does (on CPUs
                    # with AVX-512 its larger products differ in their last bits between counts).
                    torch.set_num_threads(2)
                    state = stepper.start(video, 0)
                    torch.set_num_threads(threads)
                    logits.append(torch.stack([stepper.step(state, c) for c in chords]))
            assert torch.equal(*logits), precision
    finally:
        torch.set_num_threads(1)


@pytest.mark.parametrize("faster", [1, 2])
def test_step_threads_keep_the_faster_count_and_give_back_the_callers(faster):
    import time

    from video2music.model import step_threads

    def step() -> int:
        threads = torch.get_num_threads()
        if threads != faster:
            time.sleep(0.02)  # far beyond what another process's time slice adds to a step
        return threads

    torch.set_num_threads(2)
    try:
        with step_threads.StepThreads() as threads:
            trial = step_threads.TRIALS * 2
            counts = [threads(step) for _ in range(trial + 10)]
            assert sorted(counts[:trial]) == [1] * step_threads.TRIALS + [2] * step_threads.TRIALS
            assert counts[trial:] == [faster] * 10
            assert threads.wait == step_threads.FIRST_WAIT * (2 if faster == 1 else 1)
            assert threads.wide(torch.get_num_threads) == 2  # one large op: the caller's count
        assert torch.get_num_threads() == 2
        torch.set_num_threads(1)
        with step_threads.StepThreads() as threads:  # the caller allows one thread: nothing timed
            assert [threads(step) for _ in range(6)] == [1] * 6 and not threads.best
    finally:
        torch.set_num_threads(1)
