"""Separating recordings of any length with a pretrained model.

`BaseSeparator` holds what every separator shares whatever runs the model:
the length checks, the modes and windowing (`lobes.inference.windows`), the
file handling (reading, resampling, trimming back to the file's rate and
length); a subclass only runs the model on a batch (`_separate_batch`).

`Separator` runs a torch `lobes.model.EncoderMaskerDecoder` loaded from a
pretrained folder (written by ``python -m lobes.export``, or any folder
that SpeechBrain's ``SepformerSeparation.from_hparams`` loads), in fp32,
bf16 or fp16 (`lobes.inference.precision`); `lobes.inference.onnx_runtime
.OnnxSeparator` runs the folder's ONNX model. They separate

- in one pass (``mode="whole"``) with masknets whose time and memory grow
  linearly with the input (``linear_in_length``, `lobes.model.capabilities`):
  the whole recording goes through the model at once, exactly as the
  recipes evaluate, and memory stays a fixed multiple of the recording (the
  encoder output, the masks, the masknet's own bounded working set; see
  ``python -m bench.separate_long``);
- in overlapping windows (``mode="windowed"``) with masknets that are
  quadratic in the input, speaker order aligned across windows
  (`lobes.inference.windows.separate_windowed`);
- as a stream (`Separator.stream`) with causal masknets
  (`lobes.inference.streaming`; under ONNX Runtime too: `OnnxSeparator.stream`).

Authors
 * sepformer-lobes contributors 2026
"""

import math
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from lobes.inference.audio import AudioInputError, read_mixture, resample
from lobes.inference.defaults import (
    MAX_PASS_SECONDS,
    MODES,
    OVERLAP_SECONDS,
    WINDOW_SECONDS,
)
from lobes.inference.precision import autocast, check_precision
from lobes.inference.streaming import StreamingSeparator
from lobes.inference.windows import separate_windowed
from lobes.model import EncoderMaskerDecoder

__all__ = [
    "MAX_PASS_SECONDS",
    "MODES",
    "OVERLAP_SECONDS",
    "WINDOW_SECONDS",
    "BaseSeparator",
    "NonFiniteOutputError",
    "Separator",
    "WindowError",
]


class NonFiniteOutputError(ValueError):
    """A separation that gave NaN or infinite values (a mixture far beyond
    the model's scale, or a precision that overflows)."""


class WindowError(ValueError):
    """A window length that a separator cannot take (``window_seconds``,
    ``overlap_seconds`` or ``max_pass_seconds``).

    Arguments
    ---------
    name : str
        ``window``, ``overlap`` or ``max_pass``.
    seconds : float
        The value given.
    problem : str
        What is wrong with it.

    Example
    -------
    >>> str(WindowError("overlap", 1e-5, "is under one sample at 8000 Hz"))
    'overlap_seconds=1e-05 is under one sample at 8000 Hz.'
    """

    def __init__(self, name: str, seconds: float, problem: str):
        super().__init__(f"{name}_seconds={seconds} {problem}.")
        self.name, self.seconds, self.problem = name, seconds, problem


class BaseSeparator:
    """Separates recordings of any length with a model that a subclass
    runs (`_separate_batch`); everything else is here, shared.

    Arguments
    ---------
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
    min_samples : int
        The model's shortest input: a shorter window or pass is refused.
    """

    def __init__(
        self,
        sample_rate: int,
        window_seconds: float = WINDOW_SECONDS,
        overlap_seconds: float = OVERLAP_SECONDS,
        max_pass_seconds: float | None = MAX_PASS_SECONDS,
        min_samples: int = 1,
    ):
        self.sample_rate = int(sample_rate)
        self.window = self._samples("window", window_seconds)
        self.overlap = self._samples("overlap", overlap_seconds)
        if self.overlap < 1:
            raise WindowError(
                "overlap",
                overlap_seconds,
                f"is under one sample at {self.sample_rate} Hz",
            )
        if self.overlap > self.window // 2:
            raise WindowError(
                "overlap",
                overlap_seconds,
                f"must be at most half of the window ({window_seconds} s)",
            )
        lengths = [("window", window_seconds, self.window)]
        self.max_pass = None
        if max_pass_seconds is not None:
            self.max_pass = self._samples("max_pass", max_pass_seconds)
            if self.max_pass < 2 * self.overlap:
                raise WindowError(
                    "max_pass",
                    max_pass_seconds,
                    f"must be at least twice the overlap ({overlap_seconds} s)",
                )
            lengths.append(("max_pass", max_pass_seconds, self.max_pass))
        for name, seconds, samples in lengths:
            if samples < min_samples:
                raise WindowError(
                    name,
                    seconds,
                    f"is {samples} samples, under the model's shortest input "
                    f"({min_samples} samples, "
                    f"{min_samples / self.sample_rate:g} s)",
                )

    def _samples(self, name: str, seconds: float) -> int:
        """``seconds`` at the model's rate; a `WindowError` if that is not
        a length (infinite, or beyond 2^53 samples)."""
        samples = seconds * self.sample_rate
        if not 0 <= samples <= 2**53:
            raise WindowError(name, seconds, "is not a length in seconds")
        return round(samples)

    @property
    def min_samples(self) -> int:
        """The shortest input the encoder takes."""
        raise NotImplementedError

    @property
    def linear_in_length(self) -> bool:
        """Whether the masknet's time and memory grow linearly with L."""
        raise NotImplementedError

    def _separate_batch(self, mix: Tensor) -> Tensor:
        """Runs the model: mixtures [B, T] (float32, CPU, T at least
        `min_samples`) -> sources [B, T, num_spks] (float32, CPU)."""
        raise NotImplementedError

    @property
    def num_spks(self) -> int:
        """Speakers the model separates (asks the model)."""
        return self.separate_whole(torch.zeros(4 * self.min_samples)).shape[1]

    @property
    def mode(self) -> str:
        """``whole`` for a linear-time masknet, else ``windowed``."""
        return "whole" if self.linear_in_length else "windowed"

    def separate_whole(self, mix: Tensor) -> Tensor:
        """Separates [T] (model rate) in one pass into [T, num_spks].

        What the recipes' evaluation and SpeechBrain's ``separate_batch``
        compute.

        Arguments
        ---------
        mix : torch.Tensor
            [T], at the model's sample rate.

        Returns
        -------
        torch.Tensor
            [T, num_spks] float32 on the CPU.
        """
        T = mix.shape[0]
        if T < self.min_samples:
            raise ValueError(
                f"{T} samples is too short: the encoder needs at least "
                f"{self.min_samples} samples."
            )
        return self._separate_batch(mix.float().cpu()[None])[0]

    def pass_window(self, samples: int, mode: str = "auto") -> int | None:
        """The window `separate` takes an input of ``samples`` in.

        Arguments
        ---------
        samples : int
            The input's length at the model's sample rate.
        mode : str
            ``auto`` (`mode`), ``whole`` or ``windowed``.

        Returns
        -------
        int or None
            The window length in samples, or None for one pass.
        """
        if mode not in MODES:
            raise ValueError(f"mode={mode!r}, expected one of {MODES}.")
        if mode == "auto":
            mode = self.mode
        window = self.window if mode == "windowed" else self.max_pass
        return None if window is None or samples <= window else window

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

        Raises
        ------
        ValueError
            For a mixture that is not [T] or has NaN or infinite samples.
        NonFiniteOutputError
            For a separation that gives NaN or infinite values.
        """
        if mix.dim() != 1:
            raise ValueError(
                f"mix has shape {list(mix.shape)}: pass one mixture as "
                "[time] (one channel: mix[0]; channels averaged: mix.mean(0))."
            )
        if not torch.isfinite(mix).all():
            raise ValueError(
                f"mix has {int((~torch.isfinite(mix)).sum())} NaN or "
                "infinite samples: repair the recording first."
            )
        window = self.pass_window(mix.shape[0], mode)
        if window is None:
            est = self.separate_whole(mix)
        else:
            est = separate_windowed(
                mix, self.separate_whole, window, self.overlap, True, progress
            )
        if not torch.isfinite(est).all():
            raise NonFiniteOutputError(
                "the separation gave NaN or infinite values (the mixture's "
                f"peak is {mix.abs().max():.3g}): scale the mixture to about "
                "[-1, 1], or run in fp32 (fp16 overflows)."
            )
        return est

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
        try:
            est = self.separate(x, mode, progress)
        except NonFiniteOutputError as error:
            raise AudioInputError(f"{path}: {error}") from error
        est = resample(est.T, self.sample_rate, rate)
        est = F.pad(est, (0, max(0, mix.shape[0] - est.shape[1])))
        return est[:, : mix.shape[0]].T.contiguous(), rate


class Separator(BaseSeparator):
    """Separates recordings of any length with an encoder / masknet /
    decoder separator (SpeechBrain's masknet contract), held as an
    `lobes.model.EncoderMaskerDecoder` (``model``), in fp32, bf16 or fp16.

    Arguments
    ---------
    encoder, masknet, decoder : torch.nn.Module
        The model's parts (see `lobes.model.EncoderMaskerDecoder`), e.g.
        SpeechBrain's ``dual_path.Encoder`` and ``Decoder`` around a lobe.
    sample_rate : int
        The model's sample rate.
    window_seconds, overlap_seconds, max_pass_seconds : float
        See `BaseSeparator`.
    precision : str
        SpeechBrain's values: ``fp32``, or ``bf16`` / ``fp16`` (the model
        runs under ``torch.autocast`` on its device; outputs are float32);
        see `lobes.inference.precision`.

    Example
    -------
    >>> from speechbrain.lobes.models.dual_path import Decoder, Encoder
    >>> from lobes.resepformer import RESepFormer
    >>> masknet = RESepFormer(16, chunk_size=10, intra_layers=1,
    ...     memory_layers=1, nhead=2, intra_d_ffn=32, memory_d_ffn=32)
    >>> separator = Separator(Encoder(16, 16), masknet,
    ...     Decoder(16, 1, 16, stride=8, bias=False), sample_rate=8000)
    >>> separator.mode
    'whole'
    >>> separator.separate(torch.randn(4000)).shape
    torch.Size([4000, 2])
    >>> bf16 = Separator(Encoder(16, 16), masknet,
    ...     Decoder(16, 1, 16, stride=8, bias=False), 8000, precision="bf16")
    >>> bf16.separate(torch.randn(4000)).dtype
    torch.float32
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
        precision: str = "fp32",
    ):
        self.model = EncoderMaskerDecoder(encoder, masknet, decoder).eval()
        super().__init__(
            sample_rate,
            window_seconds,
            overlap_seconds,
            max_pass_seconds,
            self.model.min_samples,
        )
        self.device = next(masknet.parameters()).device
        check_precision(precision, self.device)
        self.precision = precision

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
            `Separator` arguments (window_seconds, overlap_seconds,
            max_pass_seconds, precision).

        Returns
        -------
        Separator

        Raises
        ------
        lobes.inference.loading.PretrainedError
            The folder's fault in one line (a missing, truncated or corrupt
            ``.ckpt``, weights that do not fit ``hyperparams.yaml``: of
            another size, or of another model).
        """
        from speechbrain.inference.separation import SepformerSeparation
        from speechbrain.utils.fetching import FetchConfig

        from lobes.inference.loading import load_pretrained_modules

        source = Path(source)
        if not (source / "hyperparams.yaml").is_file():
            raise FileNotFoundError(
                f"{source} is not a pretrained model folder (no "
                "hyperparams.yaml). Export a recipe run with `python -m "
                "lobes.export RUN_DIR OUT_DIR`."
            )
        # strictly first: SpeechBrain's Pretrainer loads weights with keys
        # missing or left over, and only warns
        load_pretrained_modules(source)
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
    def encoder(self) -> nn.Module:
        """The model's encoder."""
        return self.model.encoder

    @property
    def masknet(self) -> nn.Module:
        """The model's masknet."""
        return self.model.masknet

    @property
    def decoder(self) -> nn.Module:
        """The model's decoder."""
        return self.model.decoder

    @property
    def min_samples(self) -> int:
        """The shortest input the encoder takes."""
        return self.model.min_samples

    @property
    def linear_in_length(self) -> bool:
        """Whether the masknet is linear in the input length."""
        return self.model.capabilities.linear_in_length

    @property
    def num_spks(self) -> int:
        """Speakers the model separates."""
        n = getattr(self.masknet, "num_spks", None)
        return super().num_spks if n is None else int(n)

    def _separate_batch(self, mix: Tensor) -> Tensor:
        """`lobes.model.EncoderMaskerDecoder.separate` (masks multiplied in
        place, each speaker decoded alone, so that beyond the masknet only
        the encoder output and the masks are held), in ``precision``."""
        with autocast(self.precision, self.device):
            est = self.model.separate(mix.to(self.device))
        return est.float().cpu()

    def stream(self) -> StreamingSeparator:
        """A new `StreamingSeparator` on this model (causal masknets), in
        this separator's precision."""
        return StreamingSeparator(
            self.encoder, self.masknet, self.decoder, self.precision
        )
