"""Separating recordings of any length, offline or as a stream.

::

    python -m lobes.separate MIX.wav [MORE.wav ...] --model DIR --out OUT_DIR

`Separator` wraps a pretrained encoder / masknet / decoder: a folder
written by ``python -m lobes.export``, or any folder that SpeechBrain's
``SepformerSeparation.from_hparams`` loads. It separates

- in one pass (``mode="whole"``) with masknets whose time and memory grow
  linearly with the input (`LINEAR_TIME_MASKNETS`): the whole recording
  goes through the model at once, exactly as the recipes evaluate, and
  memory stays a fixed multiple of the recording (the encoder output, the
  masks, the masknet's own bounded working set; see
  ``bench/separate_long.py``);
- in overlapping windows (``mode="windowed"``) with masknets that are
  quadratic in the input (SpeechBrain's SepFormer ``Dual_Path_Model``, its
  RE-SepFormer ``ResourceEfficientSeparator``): each window's speaker order
  is matched to what is already separated over their overlap before the
  two are cross-faded, so speakers do not swap at window edges
  (`separate_windowed`);
- as a stream (`StreamingSeparator`, ``--stream``) with causal masknets
  that follow the streaming protocol below: blocks of samples in, separated
  blocks out, after the model's algorithmic latency, equal to the offline
  causal separation.

Streaming protocol. A masknet streams when it is causal (``causal`` is
True) and has ``stream_frames``, the number of encoder frames it takes per
step, and ``forward_chunk(x, state) -> (masks, state)``, which takes
consecutive blocks of exactly ``stream_frames`` encoder frames [B, N, T]
(the last may be shorter), starting from ``state=None``, and returns their
masks [num_spks, B, N, T]: `lobes.resepformer.RESepFormer` (one chunk per
step) and `lobes.fsmn_flash.FlashFormer` (one window per step).

Input files may have any sample rate (resampled to the model's, outputs
written back at the input's rate); multi-channel files are refused unless
``--downmix`` averages their channels; empty, too short, non-finite and
unreadable files raise `AudioInputError`, naming the file, the problem and
the fix, and the command goes on with the other files. Outputs are
``OUT_DIR/<input name>_s<k>.wav``, one per speaker, 32-bit float WAV at the
model's output scale (no clipping, no normalisation).

Authors
 * sepformer-lobes contributors 2026
"""

import argparse
import itertools
import logging
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchaudio
from speechbrain.utils.logger import TqdmCompatibleStreamHandler, get_logger
from torch import Tensor
from tqdm import tqdm

from lobes.fsmn_flash import FlashFormer
from lobes.latent_xattn import LatentSepFormer
from lobes.resepformer import RESepFormer

logger = get_logger(__name__)

# Masknets separated in one pass: time and memory linear in the input.
LINEAR_TIME_MASKNETS: tuple[type, ...] = (
    RESepFormer,
    LatentSepFormer,
    FlashFormer,
)
MODES = ("auto", "whole", "windowed")
WINDOW_SECONDS = 10.0
OVERLAP_SECONDS = 2.0
MAX_PASS_SECONDS = 600.0
BLOCK_SECONDS = 0.1
OUTPUT_SUBTYPE = "FLOAT"


class AudioInputError(ValueError):
    """An input that cannot be separated; the message names the file, the
    problem and what to do."""


def check_audio_file(
    path: str | Path, downmix: bool = False
) -> "sf._SoundFileInfo":
    """Checks that a file is a readable, non-empty, single-channel recording
    (or that ``downmix`` is allowed) before anything is separated.

    Arguments
    ---------
    path : str or Path
        The audio file.
    downmix : bool
        Accept multi-channel files (their channels will be averaged).

    Returns
    -------
    soundfile info
        ``samplerate``, ``channels``, ``frames``, ...

    Example
    -------
    >>> path = getfixture("tmp_path") / "stereo.wav"
    >>> sf.write(path, np.zeros((800, 2)), 8000)
    >>> check_audio_file(path, downmix=True).channels
    2
    >>> check_audio_file(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    lobes.separate.AudioInputError: ...stereo.wav has 2 channels, but ...
    """
    path = Path(path)
    if not path.is_file():
        raise AudioInputError(f"{path}: file not found. Check the path.")
    try:
        info = sf.info(str(path))
    except RuntimeError as error:  # soundfile.LibsndfileError
        raise AudioInputError(
            f"{path} cannot be read as audio ({error}). Convert it to WAV "
            f"or FLAC, e.g. `ffmpeg -i {path} {path.stem}.wav`."
        ) from error
    if info.frames == 0:
        raise AudioInputError(f"{path} is empty (0 samples): nothing to do.")
    if info.channels > 1 and not downmix:
        raise AudioInputError(
            f"{path} has {info.channels} channels, but the model separates "
            "a single-channel mixture. Pass --downmix (downmix=True) to "
            "average the channels, or keep one channel, e.g. "
            f"`sox {path} mono.wav remix 1`."
        )
    return info


def _mono(audio: np.ndarray) -> np.ndarray:
    """[frames, channels] -> [frames], channels averaged."""
    return audio[:, 0] if audio.shape[1] == 1 else audio.mean(1)


def _check_finite(
    audio: np.ndarray, path: str | Path, rate: int, offset: int = 0
) -> None:
    """Raises AudioInputError if audio [frames, ...] has NaN or inf."""
    bad = ~np.isfinite(audio)
    if bad.any():
        rows = bad.reshape(len(audio), -1).any(1)
        first = offset + int(np.argmax(rows))
        raise AudioInputError(
            f"{path} contains {int(rows.sum())} non-finite (NaN or infinite) "
            f"sample(s), the first at {first / rate:.3f} s (sample {first}). "
            "Repair the file, e.g. export it again from its source."
        )


def read_mixture(path: str | Path, downmix: bool = False) -> tuple[Tensor, int]:
    """Reads and checks a mixture to separate.

    Arguments
    ---------
    path : str or Path
        The audio file (any format libsndfile reads).
    downmix : bool
        Average the channels of a multi-channel file (otherwise refused).

    Returns
    -------
    mixture : torch.Tensor
        [frames], float32.
    sample_rate : int
        The file's sample rate.

    Example
    -------
    >>> path = getfixture("tmp_path") / "bad.wav"
    >>> audio = np.zeros(800)
    >>> audio[400] = np.nan
    >>> sf.write(path, audio, 8000, subtype="FLOAT")
    >>> read_mixture(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    lobes.separate.AudioInputError: ...the first at 0.050 s (sample 400)...
    """
    info = check_audio_file(path, downmix)
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except RuntimeError as error:
        raise AudioInputError(
            f"{path} cannot be read to the end ({error}); the file may be "
            "truncated. Convert or re-export it."
        ) from error
    _check_finite(audio, path, info.samplerate)
    return torch.from_numpy(np.ascontiguousarray(_mono(audio))), rate


def resample(audio: Tensor, orig: int, new: int) -> Tensor:
    """Resamples audio with torchaudio's windowed sinc.

    Arguments
    ---------
    audio : torch.Tensor
        [..., time]
    orig : int
        Its sample rate.
    new : int
        The sample rate wanted.

    Returns
    -------
    torch.Tensor
        [..., ceil(time * new / orig)]; ``audio`` itself when the rates
        agree.

    Example
    -------
    >>> resample(torch.zeros(2, 16000), 16000, 8000).shape
    torch.Size([2, 8000])
    """
    if orig == new:
        return audio
    return torchaudio.functional.resample(audio, orig, new)


def best_permutation(reference: Tensor, estimate: Tensor) -> list[int]:
    """The speaker order of ``estimate`` closest to ``reference``.

    Arguments
    ---------
    reference : torch.Tensor
        [time, speakers], e.g. what is already separated over an overlap.
    estimate : torch.Tensor
        [time, speakers], the same stretch in a new window.

    Returns
    -------
    list of int
        ``estimate[:, perm]`` minimises the squared error to ``reference``
        (maximises the summed inner products); identity on a tie (silence).

    Example
    -------
    >>> ref = torch.stack([torch.ones(4), torch.zeros(4)], -1)
    >>> best_permutation(ref, ref.flip(-1))
    [1, 0]
    """
    products = (reference.T.double() @ estimate.double()).tolist()  # [S, S]
    speakers = range(len(products))
    best, best_score = list(speakers), -math.inf
    for perm in itertools.permutations(speakers):
        score = sum(products[s][perm[s]] for s in speakers)
        if score > best_score:
            best, best_score = list(perm), score
    return best


def window_starts(length: int, window: int, overlap: int) -> list[int]:
    """Starts of evenly spread windows that cover ``length`` samples with
    at least ``overlap`` samples shared by neighbours.

    Arguments
    ---------
    length : int
        Samples to cover.
    window : int
        Window length.
    overlap : int
        Least overlap, below ``window``.

    Returns
    -------
    list of int

    Example
    -------
    >>> window_starts(100, 40, 10)
    [0, 30, 60]
    >>> window_starts(30, 40, 10)
    [0]
    """
    if length <= window:
        return [0]
    n = 1 + math.ceil((length - window) / (window - overlap))
    return [round(k * (length - window) / (n - 1)) for k in range(n)]


def _ramp(n: int) -> Tensor:
    """Raised-cosine fade-in of n samples, strictly inside (0, 1)."""
    t = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    return (0.5 - 0.5 * torch.cos(math.pi * t)).float()


def separate_windowed(
    mix: Tensor,
    separate_fn: Callable[[Tensor], Tensor],
    window: int,
    overlap: int,
    align: bool = True,
    progress: bool = False,
) -> Tensor:
    """Separates a long recording in overlapping windows.

    Windows are spread evenly with at least ``overlap`` samples shared by
    neighbours. Before a window is added, its speaker order is matched to
    the separation so far over their overlap (`best_permutation`): a
    separator's output order is arbitrary in every window, and without this
    the speakers swap at window edges. Neighbours are cross-faded with
    complementary raised-cosine ramps over their whole overlap (at most
    half a window; the weights are normalised, so the gain stays one).

    Arguments
    ---------
    mix : torch.Tensor
        [time], the mixture.
    separate_fn : callable
        Separates a window [time] into [time, speakers].
    window : int
        Window length in samples.
    overlap : int
        Least overlap in samples, at most half a window.
    align : bool
        Match speaker orders (False only to show what goes wrong).
    progress : bool
        Show a progress bar over the windows.

    Returns
    -------
    torch.Tensor
        [time, speakers]

    Example
    -------
    >>> def unordered(x):  # a separator whose order depends on the window
    ...     est = torch.stack([x, 2 * x], -1)
    ...     return est.flip(-1) if x[0] > 0 else est
    >>> mix = torch.linspace(-1, 1, 1000)
    >>> out = separate_windowed(mix, unordered, window=300, overlap=100)
    >>> torch.allclose(2 * out[:, 0], out[:, 1])  # one order throughout
    True
    """
    if not 0 < overlap <= window // 2:
        raise ValueError(
            f"overlap={overlap} samples must be positive and at most half "
            f"the window ({window} samples)."
        )
    T = mix.shape[0]
    starts = window_starts(T, window, overlap)
    out = weights = None
    for k, start in enumerate(
        tqdm(starts, desc="windows", disable=not progress)
    ):
        end = min(start + window, T)
        est = separate_fn(mix[start:end]).float().cpu()  # [t, S]
        if out is None:
            out = est.new_zeros(T, est.shape[1])
            weights = est.new_zeros(T)
        w = torch.ones(end - start)
        if k > 0:
            shared = starts[k - 1] + window - start  # overlap with previous
            if align:
                done = slice(start, start + shared)
                so_far = out[done] / weights[done, None]
                est = est[:, best_permutation(so_far, est[:shared])]
            r = min(shared, window // 2)
            w[:r] = _ramp(r)
        if k + 1 < len(starts):
            r = min(start + window - starts[k + 1], window // 2)
            w[-r:] = torch.minimum(w[-r:], _ramp(r).flip(0))
        out[start:end] += w[:, None] * est
        weights[start:end] += w
    return out / weights[:, None]


def _encoder_conv(encoder: nn.Module) -> nn.Conv1d:
    """The Conv1d of a SpeechBrain ``Encoder`` (or the encoder itself)."""
    conv = getattr(encoder, "conv1d", encoder)
    if not isinstance(conv, nn.Conv1d):
        raise TypeError(
            f"{type(encoder).__name__} is not a convolutional encoder "
            "(speechbrain.lobes.models.dual_path.Encoder)."
        )
    return conv


class Separator:
    """Separates recordings of any length with an encoder / masknet /
    decoder separator (SpeechBrain's masknet contract).

    Arguments
    ---------
    encoder : torch.nn.Module
        [B, T] -> [B, N, L], e.g. ``speechbrain.lobes.models.dual_path
        .Encoder``.
    masknet : torch.nn.Module
        [B, N, L] -> masks [num_spks, B, N, L].
    decoder : torch.nn.Module
        [B, N, L] -> [B, T'], e.g. ``dual_path.Decoder``.
    sample_rate : int
        The model's sample rate.
    window_seconds : float
        Window length of the windowed mode.
    overlap_seconds : float
        Least overlap of neighbouring windows.
    max_pass_seconds : float, optional
        Longest input separated in one pass (``whole`` mode, default 10
        minutes); longer ones go through windows of this length
        (``overlap_seconds`` shared, speaker order aligned), which bounds
        memory for any length. None: no limit.

    Example
    -------
    >>> from speechbrain.lobes.models.dual_path import Decoder, Encoder
    >>> masknet = RESepFormer(16, chunk_size=10, intra_layers=1,
    ...     memory_layers=1, nhead=2, intra_d_ffn=32, memory_d_ffn=32)
    >>> separator = Separator(Encoder(16, 16), masknet,
    ...     Decoder(16, 1, 16, stride=8, bias=False), sample_rate=8000)
    >>> separator.mode
    'whole'
    >>> separator.separate(torch.randn(4000)).shape
    torch.Size([4000, 2])
    """

    def __init__(
        self,
        encoder: nn.Module,
        masknet: nn.Module,
        decoder: nn.Module,
        sample_rate: int,
        window_seconds: float = WINDOW_SECONDS,
        overlap_seconds: float = OVERLAP_SECONDS,
        max_pass_seconds: float | None = MAX_PASS_SECONDS,
    ):
        self.encoder = encoder.eval()
        self.masknet = masknet.eval()
        self.decoder = decoder.eval()
        self.sample_rate = int(sample_rate)
        self.window = round(window_seconds * self.sample_rate)
        self.overlap = round(overlap_seconds * self.sample_rate)
        if not 0 < self.overlap <= self.window // 2:
            raise ValueError(
                f"overlap_seconds={overlap_seconds} must be positive and at "
                f"most half of window_seconds={window_seconds}."
            )
        self.max_pass = None
        if max_pass_seconds is not None:
            self.max_pass = round(max_pass_seconds * self.sample_rate)
            if self.max_pass < 2 * self.overlap:
                raise ValueError(
                    f"max_pass_seconds={max_pass_seconds} must be at least "
                    f"twice overlap_seconds={overlap_seconds}."
                )
        try:
            self.min_samples = _encoder_conv(encoder).kernel_size[0]
        except TypeError:
            self.min_samples = 1
        self.device = next(masknet.parameters()).device

    @classmethod
    def from_pretrained(
        cls,
        source: str | Path,
        savedir: str | Path | None = None,
        device: str = "cpu",
        **kwargs,
    ) -> "Separator":
        """Loads a pretrained folder through SpeechBrain, offline.

        Arguments
        ---------
        source : str or Path
            A local folder with ``hyperparams.yaml`` and the ``.ckpt`` files
            (``python -m lobes.export``, or SpeechBrain's own format).
        savedir : str or Path, optional
            Where SpeechBrain links the files (symlinks; a file already
            there is used as it is, so give each model its own savedir).
            None: read them where they are.
        device : str
            ``cpu``, ``cuda``, ``cuda:1``, ...
        **kwargs
            `Separator` arguments (window_seconds, overlap_seconds).

        Returns
        -------
        Separator
        """
        from speechbrain.inference.separation import SepformerSeparation
        from speechbrain.utils.fetching import FetchConfig

        source = Path(source)
        if not (source / "hyperparams.yaml").is_file():
            raise FileNotFoundError(
                f"{source} is not a pretrained model folder (no "
                "hyperparams.yaml). Export a recipe run with `python -m "
                "lobes.export RUN_DIR OUT_DIR`."
            )
        model = SepformerSeparation.from_hparams(
            source=str(source.resolve()),
            savedir=None if savedir is None else str(savedir),
            run_opts={"device": device},
            fetch_config=FetchConfig(allow_network=False),
        )
        sample_rate = getattr(model.hparams, "sample_rate", None)
        if sample_rate is None:
            raise ValueError(
                f"{source}/hyperparams.yaml has no sample_rate; add the "
                "sample rate the model was trained at (e.g. sample_rate: "
                "8000)."
            )
        mods = model.mods
        return cls(
            mods.encoder, mods.masknet, mods.decoder, sample_rate, **kwargs
        )

    @property
    def num_spks(self) -> int:
        """Speakers the model separates."""
        n = getattr(self.masknet, "num_spks", None)
        if n is None:  # ask the model
            n = self.separate_whole(torch.zeros(4 * self.min_samples)).shape[1]
        return int(n)

    @property
    def mode(self) -> str:
        """``whole`` for a linear-time masknet, else ``windowed``."""
        linear = isinstance(self.masknet, LINEAR_TIME_MASKNETS)
        return "whole" if linear else "windowed"

    @torch.no_grad()
    def separate_whole(self, mix: Tensor) -> Tensor:
        """Separates [T] (model rate) in one pass into [T, num_spks].

        What the recipes' evaluation and SpeechBrain's ``separate_batch``
        compute, with the masks multiplied in place and each speaker decoded
        alone, so that beyond the masknet only the encoder output and the
        masks are held.

        Arguments
        ---------
        mix : torch.Tensor
            [T], at the model's sample rate.

        Returns
        -------
        torch.Tensor
            [T, num_spks] on the CPU.
        """
        T = mix.shape[0]
        if T < self.min_samples:
            raise ValueError(
                f"{T} samples is too short: the encoder needs at least "
                f"{self.min_samples} samples."
            )
        h = self.encoder(mix.float().to(self.device)[None])  # [1, N, L]
        masks = self.masknet(h)  # [S, 1, N, L]
        try:
            masks.mul_(h)
        except RuntimeError:  # a masknet returning an expanded view
            masks = masks * h
        del h
        sources = [self.decoder(m).reshape(-1)[:T].cpu() for m in masks]
        del masks
        est = torch.stack(sources, -1)
        return F.pad(est, (0, 0, 0, T - est.shape[0]))

    def separate(
        self, mix: Tensor, mode: str = "auto", progress: bool = False
    ) -> Tensor:
        """Separates a mixture of any length at the model's sample rate.

        Arguments
        ---------
        mix : torch.Tensor
            [T]
        mode : str
            ``auto`` (`mode`), ``whole`` (one pass, up to
            ``max_pass_seconds``) or ``windowed``.
        progress : bool
            Progress bar over the windows.

        Returns
        -------
        torch.Tensor
            [T, num_spks]
        """
        if mode not in MODES:
            raise ValueError(f"mode={mode!r}, expected one of {MODES}.")
        if mode == "auto":
            mode = self.mode
        window = self.window if mode == "windowed" else self.max_pass
        if window is None or mix.shape[0] <= window:
            return self.separate_whole(mix)
        return separate_windowed(
            mix, self.separate_whole, window, self.overlap, True, progress
        )

    def separate_file(
        self,
        path: str | Path,
        downmix: bool = False,
        mode: str = "auto",
        progress: bool = False,
    ) -> tuple[Tensor, int]:
        """Reads, checks, resamples and separates one file.

        Arguments
        ---------
        path : str or Path
            The mixture.
        downmix : bool
            Average the channels of a multi-channel file.
        mode : str
            See `separate`.
        progress : bool
            Progress bar over the windows.

        Returns
        -------
        sources : torch.Tensor
            [frames, num_spks] at the file's sample rate and length.
        sample_rate : int
            The file's sample rate.
        """
        mix, rate = read_mixture(path, downmix)
        x = resample(mix, rate, self.sample_rate)
        if x.shape[0] < self.min_samples:
            need = math.ceil(self.min_samples * rate / self.sample_rate)
            raise AudioInputError(
                f"{path} is too short: {mix.shape[0]} samples "
                f"({1000 * mix.shape[0] / rate:.2f} ms) at {rate} Hz; the "
                f"model needs at least {need} samples "
                f"({1000 * need / rate:.2f} ms)."
            )
        est = resample(
            self.separate(x, mode, progress).T, self.sample_rate, rate
        )
        est = F.pad(est, (0, max(0, mix.shape[0] - est.shape[1])))
        return est[:, : mix.shape[0]].T.contiguous(), rate

    def stream(self) -> "StreamingSeparator":
        """A new `StreamingSeparator` on this model (causal masknets)."""
        return StreamingSeparator(self.encoder, self.masknet, self.decoder)


class StreamingSeparator:
    """Separates audio blocks as they arrive, with a causal masknet.

    Blocks of any size go in (`push`); each call returns the samples that
    are complete, [n, num_spks]; `flush` ends the stream. Once flushed, the
    concatenated outputs equal the offline causal separation of the whole
    input (`Separator.separate_whole`), within float tolerance. The masknet
    runs ``stream_frames`` encoder frames per step (see the module
    docstring); the encoder's framing (kernel K, stride K / 2) and the
    decoder's overlap-add are carried exactly across steps, so an output
    sample waits for at most `latency_samples` later input samples.

    Arguments
    ---------
    encoder : torch.nn.Module
        A SpeechBrain ``dual_path.Encoder`` (a mono Conv1d and ReLU).
    masknet : torch.nn.Module
        A causal masknet with ``stream_frames`` and ``forward_chunk``.
    decoder : torch.nn.ConvTranspose1d
        A SpeechBrain ``dual_path.Decoder`` with the encoder's kernel and
        stride.

    Example
    -------
    >>> from speechbrain.lobes.models.dual_path import Decoder, Encoder
    >>> masknet = RESepFormer(16, chunk_size=10, intra_layers=1,
    ...     memory_layers=1, nhead=2, intra_d_ffn=32, memory_d_ffn=32,
    ...     causal=True)
    >>> separator = Separator(Encoder(16, 16), masknet,
    ...     Decoder(16, 1, 16, stride=8, bias=False), sample_rate=8000)
    >>> stream = separator.stream()
    >>> stream.latency_samples  # (10 - 1) * 8 + 16 - 1
    87
    >>> mix = torch.randn(500)
    >>> out = torch.cat([stream.push(b) for b in mix.split(64)]
    ...     + [stream.flush()])
    >>> torch.allclose(out, separator.separate_whole(mix), atol=1e-5)
    True
    """

    def __init__(
        self, encoder: nn.Module, masknet: nn.Module, decoder: nn.Module
    ):
        check_streamable(masknet)
        conv = _encoder_conv(encoder)
        self.kernel, self.stride = conv.kernel_size[0], conv.stride[0]
        if (
            conv.in_channels != 1
            or conv.padding[0] != 0
            or conv.dilation[0] != 1
        ):
            raise ValueError(
                "streaming needs a mono encoder without padding or dilation "
                "(speechbrain.lobes.models.dual_path.Encoder)."
            )
        if not (
            isinstance(decoder, nn.ConvTranspose1d)
            and decoder.out_channels == 1
            and decoder.groups == 1
            and decoder.kernel_size[0] == self.kernel
            and decoder.stride[0] == self.stride
            and decoder.padding[0] == 0
            and decoder.output_padding[0] == 0
            and decoder.dilation[0] == 1
        ):
            raise ValueError(
                "streaming needs a speechbrain.lobes.models.dual_path."
                "Decoder (a ConvTranspose1d to one channel, without padding) "
                f"with the encoder's kernel {self.kernel} and stride "
                f"{self.stride}."
            )
        self.encoder, self.masknet, self.decoder = encoder, masknet, decoder
        self.frames_per_step = int(masknet.stream_frames)
        device = next(masknet.parameters()).device
        self.num_spks = getattr(masknet, "num_spks", None)
        if self.num_spks is None:  # ask the model
            probe = torch.zeros(1, conv.out_channels, 1, device=device)
            self.num_spks = masknet.forward_chunk(probe, None)[0].shape[0]
        self._input = torch.zeros(0, device=device)  # from frame self._frames
        self._tail: Tensor | None = None  # partial overlap-add [S, K - stride]
        self._state = None
        self._frames = 0  # encoder frames done
        self._received = 0
        self._emitted = 0
        self._closed = False

    @property
    def latency_samples(self) -> int:
        """Algorithmic latency: the most input samples that arrive after an
        input sample before its separated sample is returned,
        (stream_frames - 1) * stride + kernel - 1."""
        return (self.frames_per_step - 1) * self.stride + self.kernel - 1

    def _frames_available(self) -> int:
        """Encoder frames computable from the samples received so far."""
        if self._received < self.kernel:
            return 0
        return (self._received - self.kernel) // self.stride + 1

    @torch.no_grad()
    def _step(self, frames: int) -> Tensor:
        """Encodes, masks and decodes the next ``frames`` encoder frames;
        returns the completed samples [frames * stride, S]."""
        s = self.stride
        x = self._input[: (frames - 1) * s + self.kernel]
        h = self.encoder(x[None])  # [1, N, frames]
        masks, self._state = self.masknet.forward_chunk(h, self._state)
        y = (masks * h)[:, 0]  # [S, N, frames]
        out = F.conv_transpose1d(y, self.decoder.weight, None, s)[:, 0]
        if self._tail is not None:  # the previous step's overlap-add tail
            out[:, : self._tail.shape[1]] += self._tail
        done = frames * s
        self._tail = out[:, done:]
        out = out[:, :done]
        if self.decoder.bias is not None:
            out = out + self.decoder.bias
        self._frames += frames
        self._input = self._input[done:]
        self._emitted += done
        return out.T.cpu()

    def push(self, block: Tensor | np.ndarray) -> Tensor:
        """Feeds the next samples; returns the separated samples now final.

        Arguments
        ---------
        block : torch.Tensor or numpy.ndarray
            [n] samples at the model's rate (any n >= 0).

        Returns
        -------
        torch.Tensor
            [m, num_spks], the next m output samples (m may be 0).
        """
        if self._closed:
            raise RuntimeError("this stream was flushed; start a new one.")
        block = torch.as_tensor(block, dtype=torch.float32).reshape(-1)
        if not torch.isfinite(block).all():
            raise ValueError(
                f"the block after sample {self._received} has NaN or "
                "infinite samples."
            )
        self._input = torch.cat([self._input, block.to(self._input.device)])
        self._received += block.shape[0]
        outs = [self._empty()]
        C = self.frames_per_step
        while self._frames_available() - self._frames >= C:
            outs.append(self._step(C))
        return torch.cat(outs)

    def flush(self) -> Tensor:
        """Ends the stream: returns the remaining samples, so that the
        outputs add up to as many samples as were pushed.

        Returns
        -------
        torch.Tensor
            [m, num_spks]
        """
        if self._closed:
            raise RuntimeError("this stream was flushed already.")
        self._closed = True
        outs = [self._empty()]
        rest = self._frames_available() - self._frames
        if rest > 0:  # a shorter last step ends the masknet's stream
            outs.append(self._step(rest))
        if self._tail is not None:
            tail = self._tail
            if self.decoder.bias is not None:
                tail = tail + self.decoder.bias
            outs.append(tail.T.cpu())
            self._emitted += tail.shape[1]
        out = torch.cat(outs)
        # as offline: samples the encoder's frames do not reach are zeros
        missing = self._received - self._emitted
        return F.pad(out, (0, 0, 0, missing))

    def _empty(self) -> Tensor:
        """No samples, [0, num_spks]."""
        return torch.zeros(0, self.num_spks)


def check_streamable(masknet: nn.Module) -> None:
    """Raises a ValueError, naming the model and what to do, unless
    ``masknet`` follows the streaming protocol (causal, ``stream_frames``,
    ``forward_chunk``).

    Arguments
    ---------
    masknet : torch.nn.Module
        The mask network.

    Example
    -------
    >>> check_streamable(RESepFormer(16, nhead=2, causal=False))
    Traceback (most recent call last):
    ...
    ValueError: RESepFormer(causal=False) cannot stream: ...
    """
    name = type(masknet).__name__
    fix = (
        "Streaming needs a causal masknet with `stream_frames` and "
        "`forward_chunk` (RESepFormer or FlashFormer): train one with "
        '--model="{causal: True}" and export it, or separate offline '
        "(without --stream)."
    )
    if not (
        hasattr(masknet, "forward_chunk") and hasattr(masknet, "stream_frames")
    ):
        raise ValueError(
            f"{name} cannot stream: it has no forward_chunk/stream_frames. "
            + fix
        )
    if not getattr(masknet, "causal", False):
        raise ValueError(
            f"{name}(causal=False) cannot stream: it looks at future "
            "frames. " + fix
        )


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def output_paths(out_dir: Path, path: str | Path, num_spks: int) -> list[Path]:
    """Where the CLI writes the speakers of one input.

    Arguments
    ---------
    out_dir : Path
        The output folder.
    path : str or Path
        The input file.
    num_spks : int
        Speakers.

    Returns
    -------
    list of Path
        ``out_dir/<input stem>_s<k>.wav`` for k = 1..num_spks.

    Example
    -------
    >>> [p.name for p in output_paths(Path("out"), "a/mix.flac", 2)]
    ['mix_s1.wav', 'mix_s2.wav']
    """
    stem = Path(path).stem
    return [out_dir / f"{stem}_s{k + 1}.wav" for k in range(num_spks)]


def stream_file(
    separator: Separator,
    path: str | Path,
    outputs: Sequence[Path],
    downmix: bool = False,
    block_seconds: float = BLOCK_SECONDS,
    progress: bool = False,
) -> None:
    """Separates a file block by block through a `StreamingSeparator`, as
    a live input would arrive, writing the outputs as they come.

    Arguments
    ---------
    separator : Separator
        With a causal masknet.
    path : str or Path
        The mixture, at the model's sample rate.
    outputs : sequence of Path
        One output file per speaker.
    downmix : bool
        Average the channels of a multi-channel file.
    block_seconds : float
        Block length.
    progress : bool
        Progress bar over the blocks.
    """
    stream = separator.stream()
    info = check_audio_file(path, downmix)
    rate = info.samplerate
    if rate != separator.sample_rate:
        raise AudioInputError(
            f"{path} is sampled at {rate} Hz, the model at "
            f"{separator.sample_rate} Hz; --stream feeds the file as it is. "
            f"Resample it first (e.g. `sox {path} -r {separator.sample_rate} "
            "out.wav`) or separate it offline (without --stream)."
        )
    if info.frames < separator.min_samples:
        raise AudioInputError(
            f"{path} is too short: {info.frames} samples; the model needs "
            f"at least {separator.min_samples}."
        )
    block = max(1, round(block_seconds * rate))
    writers = [
        sf.SoundFile(p, "w", rate, 1, subtype=OUTPUT_SUBTYPE) for p in outputs
    ]
    try:
        position = 0
        bar = tqdm(
            total=info.frames,
            desc=Path(path).name,
            unit="sample",
            unit_scale=True,
            disable=not progress,
        )
        with sf.SoundFile(str(path)) as f, bar:
            for audio in f.blocks(block, dtype="float32", always_2d=True):
                _check_finite(audio, path, rate, position)
                out = stream.push(torch.from_numpy(_mono(audio).copy()))
                for k, w in enumerate(writers):
                    w.write(out[:, k].numpy())
                position += len(audio)
                bar.update(len(audio))
        out = stream.flush()
        for k, w in enumerate(writers):
            w.write(out[:, k].numpy())
    except BaseException:
        for w, p in zip(writers, outputs, strict=True):
            w.close()
            p.unlink(missing_ok=True)
        raise
    for w in writers:
        w.close()


def _setup_logging() -> None:
    """Logs this package's INFO messages to stderr, around tqdm bars (also
    this module's, named ``__main__`` under ``python -m``)."""
    handler = TqdmCompatibleStreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in dict.fromkeys(("lobes", __name__)):
        package = logging.getLogger(name)
        if not package.handlers:
            package.addHandler(handler)
            package.propagate = False


def main(argv: list[str] | None = None) -> int:
    """``python -m lobes.separate MIX.wav [MORE.wav ...] --model DIR --out
    OUT_DIR``.

    Arguments
    ---------
    argv : list of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        0 when every file was separated, 1 otherwise.
    """
    parser = argparse.ArgumentParser(
        prog="python -m lobes.separate",
        description="Separate recordings of any length with a pretrained "
        "model: one OUT_DIR/<name>_s<k>.wav per speaker, at the input's "
        "sample rate.",
    )
    parser.add_argument("inputs", nargs="+", help="mixtures to separate")
    parser.add_argument(
        "--model", required=True, help="pretrained folder (lobes.export)"
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--savedir", help="where SpeechBrain links the model files"
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda, ...")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument(
        "--downmix",
        action="store_true",
        help="average the channels of multi-channel files (else refused)",
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="auto",
        help="whole: one pass; windowed: overlapping windows; auto: whole "
        "for linear-time masknets, else windowed",
    )
    parser.add_argument(
        "--window", type=float, default=WINDOW_SECONDS, help="seconds"
    )
    parser.add_argument(
        "--overlap", type=float, default=OVERLAP_SECONDS, help="seconds"
    )
    parser.add_argument(
        "--max-pass",
        type=float,
        default=MAX_PASS_SECONDS,
        help="longest one pass, seconds (0: no limit); longer files go "
        "through aligned windows of this length (bounded memory)",
    )
    parser.add_argument(
        "--stream",
        action="store_true",
        help="feed each file block by block to a causal model",
    )
    parser.add_argument(
        "--block", type=float, default=BLOCK_SECONDS, help="--stream block, s"
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bars"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    progress = not args.no_progress
    try:
        separator = Separator.from_pretrained(
            args.model,
            savedir=args.savedir,
            device=args.device,
            window_seconds=args.window,
            overlap_seconds=args.overlap,
            max_pass_seconds=args.max_pass or None,
        )
        if args.stream:
            check_streamable(separator.masknet)
    except (FileNotFoundError, ValueError) as error:
        parser.error(str(error))
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    num_spks = separator.num_spks
    mode = separator.mode if args.mode == "auto" else args.mode
    done, failed, claimed = [], {}, {}
    for path in args.inputs:
        start = time.perf_counter()
        outputs = output_paths(out_dir, path, num_spks)
        if outputs[0] in claimed:
            failed[path] = (
                f"{path} would overwrite the outputs of {claimed[outputs[0]]}"
                " (same file name): rename it or separate it separately."
            )
            logger.error(failed[path])
            continue
        claimed[outputs[0]] = path
        try:
            info = check_audio_file(path, args.downmix)
            logger.info(
                f"Separating {path} ({info.frames / info.samplerate:.1f} s "
                f"at {info.samplerate} Hz, "
                f"{'stream' if args.stream else mode})"
            )
            if args.stream:
                stream_file(
                    separator, path, outputs, args.downmix, args.block, progress
                )
            else:
                est, rate = separator.separate_file(
                    path, args.downmix, args.mode, progress
                )
                for k, p in enumerate(outputs):
                    sf.write(p, est[:, k].numpy(), rate, subtype=OUTPUT_SUBTYPE)
        except AudioInputError as error:
            failed[path] = str(error)
            logger.error(str(error))
            continue
        except (MemoryError, torch.OutOfMemoryError) as error:
            failed[path] = (
                f"{path}: out of memory ({type(error).__name__}). Lower "
                "--max-pass (one pass at most this many seconds), or use "
                "--mode windowed with a shorter --window."
            )
            logger.error(failed[path])
            continue
        seconds = time.perf_counter() - start
        done.append(path)
        logger.info(
            f"{path} -> {', '.join(str(p) for p in outputs)} ({seconds:.1f} s)"
        )
    summary = (
        f"Separated {len(done)} of {len(args.inputs)} file(s) into {out_dir}"
    )
    if failed:
        summary += f"; {len(failed)} failed:\n" + "\n".join(
            f"  {message}" for message in failed.values()
        )
    print(summary)
    return 1 if failed else 0


if __name__ == "__main__":
    _setup_logging()
    sys.exit(main())
