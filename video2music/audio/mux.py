"""Put a WAV into a copy of a video as its AAC soundtrack, without re-encoding the picture.

The video stream's packets are copied as they are (remuxed), so the picture is bit-identical to
the input. The audio starts with the first frame (also when the video stream starts late) and is
cut, or padded with silence, to the video stream's duration. The output has one audio stream;
the input's subtitle and data streams are left out.

What that stream holds is the ``Soundtrack``'s choice:

- ``mix`` (what generate.py and the app do by default): the video's own sound with the music
  under it. The music is ducked: lowered smoothly while the original is loud (speech, effects)
  and brought back when it is quiet, as a mixing engineer's side-chain compressor does. The
  level of the original is measured in 512-sample hops; from DUCK_FROM dBFS up to DUCK_FULL dBFS
  the music goes down by up to DUCK_DEPTH dB, reaching a lower level within about ATTACK seconds
  and recovering within about RELEASE seconds, the gain interpolated between hops so nothing
  clicks. The mix is then given the master every WAV gets (``audio.master``: no DC offset, the
  loudness target, true peak at most -1 dBTP), so the video's sound and the music keep their
  balance and together play at the target; it is written as a WAV (the one the writer keeps, or
  a temporary one), then encoded. A video without sound gets the music alone.
- ``replace``: the music alone (the original sound is left out).
- ``music-only``: no video is written at all (the writer's business; here it is ``replace``).

``music_gain_db`` scales the music before mixing (default: -6 dB in a mix with the video's own
sound, so the original leads; 0 dB where the music plays alone, a video without sound included).

The video's own sound is decoded once (``own_sound``) into a temporary file with the ducker's
gains, for the melody's rests (``ducked_spans``) and the mix alike. Everything streams, a block
at a time, and a long soundtrack is made on every core: the mix in parts that the master's first
pass measures at once (``master.record_parts``), its master applied in stretches at once, and
the AAC encoded in parts at once, their packets joined (AAC_LEAD); the packets are interleaved
with the copied picture packets as they come. Memory does not grow with the video's length but
for the later parts' packets, held until the first part's are written: about 0.7 MB a minute.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import logging
import math
import os
import tempfile
import threading
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from video2music.audio import master as mastering
from video2music.audio.master import LOUDNESS_TARGET
from video2music.utils.cores import stretches, usable_cores
from video2music.utils.errors import UserError
from video2music.utils.fileio import atomic_output
from video2music.utils.video_io import VideoInfo, open_video, probe

logger = logging.getLogger(__name__)

AUDIO_CODEC = "aac"
AUDIO_BITRATE = 192_000
AAC_OPTIONS = {"aac_coder": "fast", "aac_pns": "0"}  # FFmpeg's encoder (see _write_video)


_AUDIO_BLOCK = 1024 * 16  # samples per frame handed to the encoder
# A soundtrack of 16 s or more is encoded in parts at once, one encoder per core (up to
# MAX_CORES), each part at least MIN_AAC_PART seconds (the 24-s sample's mux: 0.18 s in one part,
# 0.11 s in two; its decoded sound 29.2 and 29.3 dB signal to error). A part after the first is encoded from
# AAC_LEAD samples before it and one before the last on to AAC_TAIL samples after it; only the
# packets of its own samples are kept, so the decoder joins two encoders' frames. With 16 frames
# of lead the encoder's choices had settled: around 12 joins in a minute of a mix, the decoded
# sound was as near the original as one encoder's (signal to error within 0.7 dB; with 2 frames
# of lead, 4 dB worse at one join).
AAC_FRAME = 1024
AAC_LEAD = 16 * AAC_FRAME
AAC_TAIL = 4 * AAC_FRAME
MIN_AAC_PART = 8.0
MAX_CORES = 4

AUDIO_MODES = ("mix", "replace", "music-only")
MIX_MUSIC_GAIN_DB = -6.0  # under a video's own sound, so the original leads
MUSIC_GAIN_RANGE = (-60.0, 20.0)  # dB
DUCK_FROM, DUCK_FULL, DUCK_DEPTH = -45.0, -25.0, 15.0  # dBFS, dBFS, dB
ATTACK, RELEASE = 0.08, 0.6  # seconds
_HOP = 512  # samples per level measurement; _AUDIO_BLOCK is a whole number of hops
MIX_HEADROOM = 0.5  # the mix is written at half scale before its master: sound and music may add up past 1
MIN_MIX_PART = 60.0  # seconds: a mix is made in parts at once only where each is this long
MIX_LEAD = 44100  # samples mixed before a part, for the master's filters to settle (high-pass: 32 ms)


def check_music_gain(gain_db: float) -> float:
    """``gain_db`` if the music may be set to it, else a UserError giving MUSIC_GAIN_RANGE."""
    low, high = MUSIC_GAIN_RANGE
    if not (math.isfinite(gain_db) and low <= gain_db <= high):
        raise UserError(f"music gain {gain_db:g} dB is out of range; use {low:g} to {high:g} dB")
    return float(gain_db)


@dataclass(frozen=True)
class Soundtrack:
    """What the video's audio stream holds: ``mode`` (see the module) and the music's gain in dB."""

    mode: str = "mix"
    music_gain_db: float | None = None  # None: MIX_MUSIC_GAIN_DB in a mix, else 0

    def __post_init__(self) -> None:
        if self.mode not in AUDIO_MODES:
            raise UserError(f"unknown audio mode {self.mode!r}; use one of {', '.join(AUDIO_MODES)}")
        if self.music_gain_db is not None:
            check_music_gain(self.music_gain_db)

    def gain_db(self, under_sound: bool) -> float:
        """The music's gain in dB: as given, else MIX_MUSIC_GAIN_DB when it goes ``under_sound`` (a
        mix with the video's own sound) and 0 when it plays alone (also in a mix of a silent video)."""
        if self.music_gain_db is not None:
            return self.music_gain_db
        return MIX_MUSIC_GAIN_DB if under_sound else 0.0


REPLACE = Soundtrack("replace")


@contextlib.contextmanager
def _open_wav(path: str | os.PathLike) -> Iterator[wave.Wave_read]:
    """A 16-bit mono or stereo PCM WAV opened for reading, or a UserError saying what is wrong."""
    try:
        source = wave.open(str(path), "rb")  # noqa: SIM115 - closed by the with below
    except (OSError, EOFError, wave.Error) as error:
        raise UserError(f"{path} is not a readable WAV file ({error}); pass a 16-bit PCM .wav") from None
    with source:
        if source.getsampwidth() != 2 or source.getnchannels() not in (1, 2):
            raise UserError(
                f"{path} is not a 16-bit mono or stereo WAV; render it with python -m video2music.music"
            )
        yield source


def _wav_blocks(source: wave.Wave_read, wanted: int) -> Iterator[np.ndarray]:
    """Exactly ``wanted`` (n, channels) int16 samples from ``source`` in _AUDIO_BLOCK blocks,
    padded with silence past its end."""
    channels = source.getnchannels()
    for offset in range(0, wanted, _AUDIO_BLOCK):
        count = min(_AUDIO_BLOCK, wanted - offset)
        block = np.frombuffer(source.readframes(count), dtype="<i2").reshape(-1, channels)
        if len(block) < count:
            block = np.concatenate([block, np.zeros((count - len(block), channels), np.int16)])
        yield block


def video_timing(video_path: str | os.PathLike) -> tuple[float, float]:
    """(start, duration) in seconds of the first video stream of ``video_path``."""
    return _timing(probe(video_path))


def _timing(info: VideoInfo) -> tuple[float, float]:
    if not info.duration or info.duration <= 0:
        raise UserError("the video's duration is unknown or zero; re-save it with a standard tool")
    return info.stream_start, info.duration


def has_audio(video_path: str | os.PathLike) -> bool:
    """Whether ``video_path`` has a sound of its own (an audio stream)."""
    source, _, _ = open_video(video_path)
    with source:
        return bool(source.streams.audio)


def mux_into(
    video_path: str | os.PathLike,
    wav_path: str | os.PathLike,
    out_path: str | os.PathLike,
    soundtrack: Soundtrack = REPLACE,
    mixed_path: str | os.PathLike | None = None,
    loudness: float | None = LOUDNESS_TARGET,
) -> bool:
    """Write ``out_path`` (any existing file is replaced; see ``mux`` for the safe entry point),
    its audio as ``soundtrack`` says; with a mix, the mix is mastered for ``loudness`` LUFS
    (None: as mixed) and also written as the WAV ``mixed_path``. Returns whether the original
    sound was mixed in (False for a video without sound).

    An OSError (a full disk, no permission) is raised as it is, for the caller to name the file;
    other FFmpeg errors mean the container cannot hold these streams."""
    with _open_wav(wav_path) as wav, contextlib.ExitStack() as stack:
        rate = wav.getframerate()
        info = probe(video_path)
        start, duration = _timing(info)
        wanted = round(duration * rate)
        mixing = soundtrack.mode == "mix" and has_audio(video_path)
        gain = 10.0 ** (soundtrack.gain_db(mixing) / 20.0)
        channels = 2 if mixing else wav.getnchannels()

        if not mixing:
            _write_video(
                video_path, out_path, _wav_reader(wav_path, gain), wanted, rate, channels, start, mixing
            )
            return False
        if mixed_path is None:
            mixed_path = stack.enter_context(_temporary_wav(Path(out_path).parent))
        sound = own_sound(video_path, rate)
        # Mixing and the master's measuring run in parts at once, one a core.
        analysis = mastering.record_parts(
            _mix_parts(sound, _wav_reader(wav_path, gain), wanted), mixed_path, rate
        )
        master = mastering.plan(analysis, loudness, unnormalised_gain=1 / MIX_HEADROOM)
        mastering.finish(mixed_path, master, rate, parts=usable_cores(MAX_CORES))
        _write_video(video_path, out_path, _wav_reader(mixed_path), wanted, rate, channels, start, mixing)
        return True


def _write_video(
    video_path: str | os.PathLike,
    out_path: str | os.PathLike,
    read: Reader,
    frames: int,
    rate: int,
    channels: int,
    start: float,
    mixed: bool,
) -> None:
    """Write ``out_path``: the picture packets of ``video_path`` copied, the ``frames`` samples that
    ``read`` gives (the first at the first picture, ``start`` seconds) encoded as its AAC audio
    (``mixed`` with the video's own sound, or without it)."""
    source, video_in, _ = open_video(video_path)
    with source:
        if len(source.streams) > 1 and not mixed:
            logger.info("leaving out %d non-picture stream(s) of %s", len(source.streams) - 1, video_path)
        try:
            with av.open(str(out_path), "w") as output:
                video_out = output.add_stream_from_template(video_in)
                audio_out = output.add_stream(
                    AUDIO_CODEC, rate=rate, layout="stereo" if channels == 2 else "mono"
                )
                _configure(audio_out)
                audio = _encoded(audio_out, read, frames, rate, round(start * rate))
                for packet in _interleave(_copied(source.demux(video_in), video_out), audio):
                    output.mux(packet)
        except OSError:
            raise
        except av.error.FFmpegError as error:
            raise UserError(
                f"cannot write {out_path} ({error}); choose an .mp4, .mov or .mkv output"
            ) from None


def _configure(encoder) -> None:
    """Set the AAC ``encoder`` (a stream or a codec context) as every part of a soundtrack is."""
    encoder.bit_rate = AUDIO_BITRATE
    # FFmpeg's default AAC search (twoloop) took 0.4 s for 24 s of audio, the fast one 0.16 s,
    # and at 192 kb/s its decoded sound was nearer the render (39 dB signal to error on the
    # sample's music, against 31). Perceptual noise substitution (noise-like bands sent as a
    # level, played as any noise) is off: a minute of a mix with noisy sound of its own took
    # 1.40 s to encode with it, 0.55 s without, and its signal to error rose from 27.7 to 28.4 dB
    # (a minute of music alone: 0.44 s and 26.8 dB either way).
    context = getattr(encoder, "codec_context", encoder)
    context.options = dict(AAC_OPTIONS)


def _encoded(stream, read: Reader, frames: int, rate: int, first_pts: int) -> Iterator[av.Packet]:
    """AAC packets for ``frames`` samples that ``read`` gives, the first at ``first_pts`` (in
    1/rate seconds): a long soundtrack in parts at once, one encoder per core (see AAC_LEAD),
    its packets in order; the first part encoded by ``stream`` itself."""
    parts = _aac_parts(frames, rate, usable_cores(MAX_CORES))
    stop = threading.Event()  # the caller stopped (an error, Ctrl-C): the other parts stop

    def encode(encoder, first: int, last: int) -> Iterator[av.Packet]:
        """The packets of the part ``first`` to ``last``, from an encoder led in and run on."""
        lead, tail = max(0, first - AAC_LEAD), min(frames, last + AAC_TAIL)
        for packet in _encode_audio(encoder, read(lead, tail, stop), rate, first_pts + lead):
            at = packet.pts - first_pts
            if (first == 0 or at >= first) and (last == frames or at < last):
                packet.stream = stream
                yield packet

    if len(parts) == 1:
        yield from encode(stream, 0, frames)
        return
    with concurrent.futures.ThreadPoolExecutor(len(parts) - 1) as pool:
        later = [pool.submit(lambda span: list(encode(_encoder(stream), *span)), span) for span in parts[1:]]
        try:
            yield from encode(stream, *parts[0])
            for part in later:
                yield from part.result()
        finally:
            stop.set()


def _aac_parts(frames: int, rate: int, cores: int) -> list[tuple[int, int]]:
    """``frames`` in up to ``cores`` parts of at least MIN_AAC_PART seconds, joined on AAC frames."""
    return stretches(frames, cores, AAC_FRAME, round(MIN_AAC_PART * rate))


def _encoder(stream) -> av.CodecContext:
    """An AAC encoder set as ``stream``'s is."""
    encoder = av.CodecContext.create(AUDIO_CODEC, "w")
    encoder.sample_rate = stream.sample_rate
    encoder.layout = stream.layout
    encoder.format = stream.format
    encoder.time_base = Fraction(1, stream.sample_rate)
    _configure(encoder)
    return encoder


# Reads samples ``first`` to ``last`` of a soundtrack as int16 blocks, ending early once ``stop`` is set.
Reader = Callable[[int, int, threading.Event], Iterator[np.ndarray]]


def _wav_reader(path: str | os.PathLike, gain: float = 1.0) -> Reader:
    """A Reader of the WAV ``path``, scaled by ``gain`` and padded with silence past its end;
    each call opens the file anew (the parts read it at once)."""

    def read(first: int, last: int, stop: threading.Event) -> Iterator[np.ndarray]:
        with _open_wav(path) as wav:
            wav.setpos(min(first, wav.getnframes()))
            for block in _scaled(_wav_blocks(wav, last - first), gain):
                if stop.is_set():
                    return
                yield block

    return read


@contextlib.contextmanager
def _temporary_wav(folder: Path) -> Iterator[Path]:
    """A path for a WAV beside the output, removed afterwards."""
    handle, name = tempfile.mkstemp(suffix=".wav", prefix=".mix-", dir=folder)
    os.close(handle)
    try:
        yield Path(name)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)


def _scaled(blocks: Iterator[np.ndarray], gain: float) -> Iterator[np.ndarray]:
    for block in blocks:
        yield block if gain == 1.0 else mastering.to_int16(block * (gain / 32768))


def _stereo(blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    for block in blocks:
        yield block if block.shape[1] == 2 else np.repeat(block, 2, axis=1)


def _original_blocks(
    video_path: str | os.PathLike, rate: int, wanted: int, start: float
) -> Iterator[np.ndarray]:
    """The video's own sound as float32 stereo at ``rate``, in _AUDIO_BLOCK blocks, exactly
    ``wanted`` samples from the first picture on (silence where it starts late or ends early).

    A packet that fails to decode ends the sound there, with a warning; the music goes on."""
    pending: list[np.ndarray] = []
    held = 0
    with av.open(str(video_path), metadata_errors="ignore") as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="stereo", rate=rate)
        skip: int | None = None  # samples before the first picture, dropped (negative: silence added)

        def converted() -> Iterator[np.ndarray]:
            try:
                for frame in container.decode(stream):
                    yield from (f.to_ndarray().reshape(-1, 2) for f in resampler.resample(frame))
            except av.error.FFmpegError as error:
                logger.warning(
                    "%s: its sound could not be read to the end (%s); the rest is music", video_path, error
                )
            yield from (f.to_ndarray().reshape(-1, 2) for f in resampler.resample(None))

        sent = 0
        for samples in converted():
            if skip is None:
                first = stream.start_time * stream.time_base if stream.start_time is not None else 0.0
                skip = round((float(first) - start) * -rate)
                if skip < 0:
                    pending.append(np.zeros((-skip, 2), np.float32))
                    held += -skip
            if skip > 0:
                dropped = min(skip, len(samples))
                samples, skip = samples[dropped:], skip - dropped
            pending.append(samples)
            held += len(samples)
            while held >= _AUDIO_BLOCK and sent < wanted:
                block, pending, held = _take(pending, min(_AUDIO_BLOCK, wanted - sent))
                sent += len(block)
                yield block
            if sent >= wanted:
                return
    while sent < wanted:
        count = min(_AUDIO_BLOCK, wanted - sent)
        block, pending, held = _take(pending, count)
        block = np.concatenate([block, np.zeros((count - len(block), 2), np.float32)])
        sent += count
        yield block


def _take(pending: list[np.ndarray], count: int) -> tuple[np.ndarray, list[np.ndarray], int]:
    """The first ``count`` samples of ``pending`` (fewer if it holds fewer), and what is left."""
    joined = np.concatenate(pending) if pending else np.zeros((0, 2), np.float32)
    rest = joined[count:]
    return joined[:count], [rest] if len(rest) else [], len(rest)


class Ducker:
    """The music's gain over time, from the level of the original sound (see the module)."""

    def __init__(self, rate: int) -> None:
        self._attack = math.exp(-_HOP / (ATTACK * rate))
        self._release = math.exp(-_HOP / (RELEASE * rate))
        self._reduction = 0.0  # dB, <= 0

    def hop_gains(self, original: np.ndarray) -> np.ndarray:
        """The gain at the end of each _HOP samples of ``original`` ((n, 2) float, full scale 1; a
        last part hop counts as one), going on from the block before."""
        hops = -(-len(original) // _HOP)
        padded = np.zeros((hops * _HOP, 2), np.float32)
        padded[: len(original)] = original
        rms = np.sqrt(np.mean(padded.reshape(hops, -1) ** 2, axis=1))
        level = 20.0 * np.log10(np.maximum(rms, 1e-6))
        targets = -DUCK_DEPTH * np.clip((level - DUCK_FROM) / (DUCK_FULL - DUCK_FROM), 0.0, 1.0)
        hop_gains = np.empty(hops)
        for i, target in enumerate(targets):
            coefficient = self._attack if target < self._reduction else self._release
            self._reduction = target + coefficient * (self._reduction - target)
            hop_gains[i] = 10.0 ** (self._reduction / 20.0)
        return hop_gains


def ducking(hop_gains: np.ndarray, first: int, count: int) -> np.ndarray:
    """The music's gain at each of ``count`` samples from ``first`` on, given the gain at the end
    of each hop (``Ducker.hop_gains`` over the whole sound): linear between hop ends, from 1 before
    the first, so nothing steps and nothing clicks."""
    low = max(0, first // _HOP - 1)
    high = min(len(hop_gains), (first + count) // _HOP + 1)
    ends = (np.arange(low, high) + 1) * _HOP - 1
    gains = hop_gains[low:high]
    if low == 0:
        ends, gains = np.concatenate([[-1], ends]), np.concatenate([[1.0], gains])
    return np.interp(np.arange(first, first + count), ends, gains)


@dataclass(frozen=True)
class Sound:
    """A video's own sound, decoded once (``own_sound``): ``frames`` stereo samples at ``rate``
    from the first picture on, as raw 16-bit PCM in the file ``path``, and the music's gain at the
    end of each _HOP of them (``Ducker.hop_gains``)."""

    path: Path
    rate: int
    frames: int
    hop_gains: np.ndarray

    def read(self, first: int, count: int) -> np.ndarray:
        """(count, 2) float32 samples (full scale 1) from ``first`` on, silence past the end."""
        with open(self.path, "rb") as raw:
            raw.seek(4 * first)
            samples = np.frombuffer(raw.read(4 * max(0, min(count, self.frames - first))), "<i2")
        out = np.zeros((count, 2), np.float32)
        out[: len(samples) // 2] = samples.reshape(-1, 2) / np.float32(32768)
        return out


_decoded: dict[tuple, Sound] = {}  # the last video's sound (see own_sound)
_decoding = threading.Lock()  # held while a sound is decoded into _decoded
_files: set[Path] = set()  # this process's temporary sound files, removed when it ends


def own_sound(video_path: str | os.PathLike, rate: int = 44100) -> Sound | None:
    """The video's own sound at ``rate`` (None for a video without one), decoded once: the melody's
    rests (``ducked_spans``) and the mix (``mux_into``) read the same decoding, kept in a
    temporary file until the next video's or until the process ends. A call while another thread
    decodes it (``decode_own_sound_soon``) waits for that decoding."""
    source, _, info = open_video(video_path)
    with source:
        if not source.streams.audio:
            return None
    status = Path(video_path).stat()
    key = (str(Path(video_path).resolve()), status.st_mtime_ns, status.st_size, rate)
    with _decoding:
        if key not in _decoded:
            sound = _decoded_sound(video_path, rate, info)
            for old in _decoded.values():
                _forget(old.path)
            _decoded.clear()
            _decoded[key] = sound
        return _decoded[key]


def decode_own_sound_soon(video_path: str | os.PathLike, rate: int = 44100) -> None:
    """Start ``own_sound(video_path, rate)`` in a thread of its own. generate.py calls it before it
    waits for the features its child process extracts: the decoding fills the core that waiting
    leaves idle (a 25-minute video's sound took 1.4 s, then inside the melody's stage). Started
    later, beside the chords model, it only made the model's threads wait. A failure is left for
    the next call to meet and report."""

    def decode() -> None:
        try:
            own_sound(video_path, rate)
        except BaseException:
            logger.debug("decoding the sound of %s ahead failed", video_path, exc_info=True)

    threading.Thread(target=decode, name="own-sound", daemon=True).start()


def _decoded_sound(video_path: str | os.PathLike, rate: int, info: VideoInfo) -> Sound:
    """The video's own sound decoded into a new temporary file."""
    start, duration = _timing(info)
    path = Path(tempfile.gettempdir()) / "video2music-sound"  # named once the file is made
    try:
        handle, name = tempfile.mkstemp(suffix=".raw", prefix="video2music-sound-")
        os.close(handle)
        path = Path(name)
        _files.add(path)
        hop_gains = _decode(video_path, path, rate, start, duration)
    except OSError as error:  # the temporary folder is full or not writable
        _forget(path)
        raise UserError(
            f"cannot keep the video's own sound in {path.parent} ({error.strerror}); free space "
            "there or point TMPDIR at a folder with room (it takes about 10 MB a minute)"
        ) from None
    except BaseException:
        _forget(path)
        raise
    return Sound(path, rate, round(duration * rate), hop_gains)


def _decode(
    video_path: str | os.PathLike, path: Path, rate: int, start: float, duration: float
) -> np.ndarray:
    """Decode the video's own sound into the raw file ``path``; the ducker's gain at each hop."""
    ducker, hop_gains = Ducker(rate), []
    blocks = _original_blocks(video_path, rate, round(duration * rate), start)
    with open(path, "wb") as raw, contextlib.closing(blocks):
        for block in blocks:
            hop_gains.append(ducker.hop_gains(block))
            raw.write(mastering.to_int16(block).tobytes())
    return np.concatenate([*hop_gains, np.zeros(0)])


def _forget(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
    _files.discard(path)


@atexit.register
def _forget_sounds() -> None:
    for path in list(_files):
        _forget(path)


def ducked_spans(
    video_path: str | os.PathLike, bridge: float = 1.0, rate: int = 44100
) -> list[tuple[float, float]]:
    """Where a mix lowers the music by more than half of DUCK_DEPTH under the video's own sound
    (its speech or effects lead): (start, end) seconds from the first picture, in order, with
    gaps shorter than ``bridge`` seconds (a breath between words) bridged; none for a video
    without sound. The arrangement rests the melody there."""
    sound = own_sound(video_path, rate)
    if sound is None:
        return []
    hops = sound.hop_gains < 10.0 ** (-DUCK_DEPTH / 2 / 20)
    edges = np.flatnonzero(np.diff(np.concatenate([[False], hops, [False]]).astype(np.int8))) * _HOP / rate
    spans: list[tuple[float, float]] = []
    for first, last in zip(edges[::2], edges[1::2], strict=True):
        if spans and first - spans[-1][1] < bridge:
            first = spans.pop()[0]
        spans.append((float(first), float(min(last, sound.frames / rate))))
    return spans


def _mix_parts(sound: Sound, music: Reader, frames: int) -> list[mastering.Part]:
    """The mix (the video's own ``sound`` plus the ``music`` ducked under it, at MIX_HEADROOM) in
    one part a core, each led in by MIX_LEAD samples for the master's filters (``record_parts``)."""
    rate = sound.rate
    parts = stretches(frames, usable_cores(MAX_CORES), mastering.part_grid(rate), round(MIN_MIX_PART * rate))

    def mixed(first: int, last: int) -> Iterator[np.ndarray]:
        at = first
        for notes in _stereo(music(first, last, threading.Event())):
            gains = ducking(sound.hop_gains, at, len(notes))[:, None]
            yield (sound.read(at, len(notes)) + notes / np.float32(32768) * gains) * MIX_HEADROOM
            at += len(notes)

    return [
        mastering.Part(first, first - max(0, first - MIX_LEAD), mixed(max(0, first - MIX_LEAD), last))
        for first, last in parts
    ]


def _encode_audio(stream, blocks: Iterator[np.ndarray], rate: int, first_pts: int) -> Iterator[av.Packet]:
    """AAC packets for the sample ``blocks``, the first sample at ``first_pts`` (in 1/rate seconds),
    from ``stream`` (an output stream or a codec context)."""
    layout = stream.layout.name
    offset = 0
    for block in blocks:
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(block).reshape(1, -1), format="s16", layout=layout
        )
        frame.sample_rate = rate
        frame.time_base = Fraction(1, rate)
        frame.pts = first_pts + offset
        offset += len(block)
        yield from stream.encode(frame)
    yield from stream.encode(None)


def _copied(packets, stream):
    """The demuxed packets, re-addressed to the output ``stream`` (their data untouched)."""
    for packet in packets:
        if packet.dts is None:  # the demuxer's end-of-stream flush packet carries nothing
            continue
        packet.stream = stream
        yield packet


def _interleave(video_packets, audio_packets: Iterator[av.Packet]):
    """Video and audio packets merged in time order, as players read a file."""
    audio = iter(audio_packets)
    pending = next(audio, None)
    for packet in video_packets:
        at = packet.dts * packet.time_base
        while pending is not None and pending.dts * pending.time_base <= at:
            yield pending
            pending = next(audio, None)
        yield packet
    while pending is not None:
        yield pending
        pending = next(audio, None)


def mux(
    video_path: str | os.PathLike,
    wav_path: str | os.PathLike,
    out_path: str | os.PathLike,
    overwrite: bool = False,
) -> Path:
    """Write a copy of ``video_path`` with ``wav_path`` as its AAC audio (atomically; refuses to
    replace an existing file unless ``overwrite``). The picture packets are copied unchanged."""
    with atomic_output(out_path, overwrite) as tmp:
        mux_into(video_path, wav_path, tmp)
    logger.info("muxed %s into %s", wav_path, out_path)
    return Path(out_path)
