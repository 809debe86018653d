"""Separating with ONNX Runtime: `OnnxSeparator`, the same interface,
windowing, speaker alignment and file handling as
`lobes.inference.separator.Separator` (both are a
`lobes.inference.separator.BaseSeparator`), with the model run by an ONNX
Runtime session on the ``model.onnx`` of a pretrained folder
(`lobes.inference.onnx_export.add_onnx`, or ``python -m lobes.export ...
--onnx``).

No streaming: a causal lobe's stream state lives in Python objects, not
tensors a graph could take and return. RE-SepFormer keeps, per memory
layer, a `lobes.attention.KVCache` of every past chunk summary (grown in
place, its length a Python int) and the chunk count, a Python int that
positions the sinusoidal codes; FlashFormer keeps per layer fixed-size
FSMN, window and summary buffers and the same growing cache. A streaming
graph needs each lobe to expose a functional step, ``(x, past keys, past
values, position tensor) -> (masks, new keys, new values)``, in the lobe
files, with its own equal-to-offline tests. Streaming runs on torch
(`lobes.inference.streaming`).

Needs the ``onnx`` extra: ``pip install 'sepformer-lobes[onnx]'``.

Authors
 * sepformer-lobes contributors 2026
"""

from __future__ import annotations

from pathlib import Path

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
from lobes.inference.separator import BaseSeparator

NO_STREAM = (
    "Streaming runs on torch only (--runtime torch): a causal lobe's stream "
    "state is not an input and output of its ONNX graph."
)


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
        try:
            import onnxruntime
        except ImportError as error:
            raise ImportError(
                f"ONNX Runtime is not installed: {INSTALL}"
            ) from error
        path = Path(path)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        self.session = onnxruntime.InferenceSession(
            str(path), options, providers=providers or ["CPUExecutionProvider"]
        )
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

    def stream(self):
        """Not available (see the module docstring): raises ValueError."""
        raise ValueError(NO_STREAM)
