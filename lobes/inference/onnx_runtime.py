"""Separating with ONNX Runtime: `OnnxSeparator`, the same interface,
windowing, speaker alignment and file handling as
`lobes.inference.separator.Separator` (both are a
`lobes.inference.separator.BaseSeparator`), with the model run by an ONNX
Runtime session on the ``model.onnx`` of a pretrained folder
(`lobes.inference.onnx_export.add_onnx`, or ``python -m lobes.export ...
--onnx``).

A causal model streams under ONNX Runtime too (`OnnxSeparator.stream`,
`OnnxStream`): its ``stream.onnx`` (`lobes.inference.onnx_stream`) runs one
step, the masknet's stream state going in and out as tensors, and the
encoder's framing and the decoder's overlap-add are carried across steps
by the same code as the torch stream
(`lobes.inference.streaming.BlockStream`).

Needs the ``onnx`` extra: ``pip install 'sepformer-lobes[onnx]'``.

Authors
 * sepformer-lobes contributors 2026
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from lobes.inference.defaults import (
    MAX_PASS_SECONDS,
    OVERLAP_SECONDS,
    WINDOW_SECONDS,
)
from lobes.inference.onnx_export import (
    INPUT,
    INSTALL,
    ONNX_FILE,
    OUTPUT,
    checkpoints_digest,
)
from lobes.inference.onnx_stream import DECODED, NEXT, SAMPLES, STREAM_FILE
from lobes.inference.separator import BaseSeparator
from lobes.inference.streaming import BlockStream

NO_STREAM = (
    "{model} cannot stream: {reason}. Streaming needs a causal RESepFormer "
    "or FlashFormer (lobes.export --onnx writes its stream.onnx); separate "
    "offline (without --stream)."
)
STREAM_META = ("kernel", "stride", "stream_frames", "num_spks")


def _session(path: Path, threads: int | None, providers: list[str] | None):
    """An ONNX Runtime session on ``path`` with ``threads`` intra-op
    threads (None: torch's thread count) on ``providers`` (None: CPU)."""
    try:
        import onnxruntime
    except ImportError as error:
        raise ImportError(
            f"ONNX Runtime is not installed: {INSTALL}"
        ) from error
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    return onnxruntime.InferenceSession(
        str(path), options, providers=providers or ["CPUExecutionProvider"]
    )


class OnnxStream(BlockStream):
    """A stream through ONNX Runtime: the streaming step of
    `lobes.inference.onnx_stream.export_stream_onnx` run step after step,
    its state tensors fed back; push and flush as
    `lobes.inference.streaming.StreamingSeparator`, with the same output.

    Arguments
    ---------
    session : str, Path or onnxruntime.InferenceSession
        The stream graph (``stream.onnx``), or a session on it (shared by
        streams: a stream keeps its state, not the session).

    Example
    -------
    >>> path = "pretrained/stream.onnx"  # lobes.export ... --onnx, causal
    >>> stream = OnnxStream(path)  # doctest: +SKIP
    >>> out = stream.push(torch.randn(4000))  # doctest: +SKIP
    >>> out = torch.cat([out, stream.flush()])  # doctest: +SKIP
    """

    def __init__(self, session):
        if isinstance(session, (str, Path)):
            session = _session(Path(session), None, None)
        meta = session.get_modelmeta().custom_metadata_map
        if not set(STREAM_META) <= set(meta):
            raise ValueError(
                "not a stream graph (no kernel, stride, stream_frames and "
                "num_spks in its metadata): write it with lobes.export ... "
                "--onnx (lobes.inference.onnx_stream.export_stream_onnx)."
            )
        bias = meta.get("decoder_bias")
        super().__init__(
            int(meta["kernel"]),
            int(meta["stride"]),
            int(meta["stream_frames"]),
            int(meta["num_spks"]),
            None if bias is None else torch.tensor(float(bias)),
        )
        self.session = session
        inputs = session.get_inputs()[1:]  # after the samples
        self._names = [i.name for i in inputs]
        self._outputs = [DECODED] + [NEXT + name for name in self._names]
        # the first state: zeros, every dynamic axis empty
        self._state = [
            np.zeros([n if isinstance(n, int) else 0 for n in i.shape], "f4")
            for i in inputs
        ]

    def _decode(self, x: Tensor) -> Tensor:
        """One run of the graph; the state moves on."""
        feed = dict(zip(self._names, self._state, strict=True))
        feed[SAMPLES] = x.numpy()
        out, *self._state = self.session.run(self._outputs, feed)
        return torch.from_numpy(out)


class OnnxSeparator(BaseSeparator):
    """Separates recordings of any length with an ONNX model of
    `lobes.inference.onnx_export.export_onnx` under ONNX Runtime.

    Arguments
    ---------
    path : str or Path
        The ``.onnx`` file (its metadata gives the sample rate, the
        shortest input, the speakers and whether it is linear in length).
    window_seconds, overlap_seconds, max_pass_seconds : float
        See `lobes.inference.separator.BaseSeparator`.
    threads : int, optional
        ONNX Runtime's intra-op threads; None: torch's thread count
        (``torch.get_num_threads()``, what ``--threads`` sets).
    providers : list of str, optional
        ONNX Runtime execution providers; None: CPU.

    Example
    -------
    >>> folder = "pretrained_folder"  # written by lobes.export ... --onnx
    >>> separator = OnnxSeparator.from_pretrained(folder)  # doctest: +SKIP
    >>> sources, rate = separator.separate_file("mix.wav")  # doctest: +SKIP
    """

    def __init__(
        self,
        path: str | Path,
        window_seconds: float = WINDOW_SECONDS,
        overlap_seconds: float = OVERLAP_SECONDS,
        max_pass_seconds: float | None = MAX_PASS_SECONDS,
        threads: int | None = None,
        providers: list[str] | None = None,
    ):
        path = Path(path)
        self.session = _session(path, threads, providers)
        self._threads, self._providers = threads, providers
        self._stream_session = None
        meta = self.session.get_modelmeta().custom_metadata_map
        missing = {"sample_rate", "min_samples", "linear_in_length"} - set(meta)
        if missing:
            raise ValueError(
                f"{path} has no {', '.join(sorted(missing))} in its metadata:"
                " write it with lobes.inference.onnx_export.add_onnx (or "
                "python -m lobes.export ... --onnx)."
            )
        super().__init__(
            int(meta["sample_rate"]),
            window_seconds,
            overlap_seconds,
            max_pass_seconds,
            int(meta["min_samples"]),
        )
        self.path = path
        self.metadata = dict(meta)
        self._min_samples = int(meta["min_samples"])
        self._linear = meta["linear_in_length"] == "True"
        self._num_spks = int(meta["num_spks"]) if "num_spks" in meta else None

    @classmethod
    def from_pretrained(cls, source: str | Path, **kwargs) -> OnnxSeparator:
        """The ONNX model of a pretrained folder, ``<source>/model.onnx``.

        Arguments
        ---------
        source : str or Path
            A pretrained folder holding ``model.onnx`` (`ONNX_FILE`); one
        whose ``.ckpt`` files changed since it was exported is refused.
        **kwargs
            `OnnxSeparator` arguments.

        Returns
        -------
        OnnxSeparator
        """
        path = Path(source) / ONNX_FILE
        if not path.is_file():
            raise FileNotFoundError(
                f"{source} has no {ONNX_FILE}: add one with `python -m "
                "lobes.export SOURCE OUT_DIR --onnx` (or lobes.inference."
                "onnx_export.add_onnx), or separate with --runtime torch."
            )
        separator = cls(path, **kwargs)
        expected = separator.metadata.get("checkpoints")
        if expected and expected != checkpoints_digest(source):
            raise ValueError(
                f"{path} was exported from other weights than the .ckpt "
                f"files beside it: export it again (python -m lobes.export "
                "SOURCE OUT_DIR --onnx)."
            )
        return separator

    @property
    def min_samples(self) -> int:
        """The shortest input the encoder takes."""
        return self._min_samples

    @property
    def linear_in_length(self) -> bool:
        """Whether the masknet is linear in the input length."""
        return self._linear

    @property
    def num_spks(self) -> int:
        """Speakers the model separates."""
        return self._num_spks or super().num_spks

    def _separate_batch(self, mix: Tensor) -> Tensor:
        """One ONNX Runtime run: [B, T] -> [B, T, num_spks]."""
        (est,) = self.session.run([OUTPUT], {INPUT: mix.numpy()})
        return torch.from_numpy(est)

    def stream(self) -> OnnxStream:
        """A new `OnnxStream` on the ``stream.onnx`` beside the model
        (`lobes.inference.onnx_stream.STREAM_FILE`; its session made once).

        Returns
        -------
        OnnxStream
            Push and flush as `lobes.inference.streaming.StreamingSeparator`.
        """
        meta = self.metadata
        if meta.get("streams", meta.get("causal")) != "True":  # (older files)
            model = meta.get("masknet", "The model").rsplit(".", 1)[-1]
            reason = "it has no streaming step"
            if meta.get("causal") != "True":
                model = f"{model}(causal=False)"
                reason = "it looks at future frames"
            raise ValueError(NO_STREAM.format(model=model, reason=reason))
        if self._stream_session is None:
            self._stream_session = self._stream_graph()
        return OnnxStream(self._stream_session)

    def _stream_graph(self):
        """A session on ``stream.onnx``, checked: present, of the same
        weights as ``model.onnx``, a stream graph."""
        path = self.path.with_name(STREAM_FILE)
        if not path.is_file():
            raise FileNotFoundError(
                f"{self.path.parent} has no {STREAM_FILE}: export the model "
                "again with `python -m lobes.export SOURCE OUT_DIR --onnx` "
                "(it writes one for a causal model), or stream with "
                "--runtime torch."
            )
        session = _session(path, self._threads, self._providers)
        meta = session.get_modelmeta().custom_metadata_map
        if meta.get("checkpoints") != self.metadata.get("checkpoints"):
            raise ValueError(
                f"{path} was exported from other weights than "
                f"{self.path.name} beside it: export it again (python -m "
                "lobes.export SOURCE OUT_DIR --onnx)."
            )
        try:
            OnnxStream(session)
        except ValueError as error:
            raise ValueError(f"{path} is {error}") from error
        return session
