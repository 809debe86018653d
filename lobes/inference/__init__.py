"""Inference: separating recordings with pretrained models, and writing the
pretrained folders they load from.

- `audio`: reading and checking input files (`AudioInputError`).
- `windows`: long recordings in overlapping, speaker-aligned windows.
- `separator`: `Separator`, a pretrained model on recordings of any length.
- `streaming`: `StreamingSeparator`, blocks in, separated blocks out.
- `pretrained`: the pretrained-folder format (``hyperparams.yaml``, ckpts)
  and writing it; `loading`: loading it strictly, faults in one line.
- `export`: pretrained folders from recipe runs; `convert`: from upstream
  RE-SepFormers.
- `model_card`: the README.md of a pretrained folder.
- `batch`: separating a list of files into a folder, nothing lost (files
  and folders appear only when complete: `lobes.files`).
- `cli`: ``python -m lobes.separate`` and ``python -m lobes.export``
  (one line per error: `lobes.errors`; `defaults`: the settings in
  ``--help``).

The names below are imported on first use, so that the command lines answer
``--help`` without loading torch.

Authors
 * sepformer-lobes contributors 2026
"""

import importlib

_WHERE = {
    "AudioInputError": "lobes.inference.audio",
    "Separator": "lobes.inference.separator",
    "StreamingSeparator": "lobes.inference.streaming",
}

__all__ = ["AudioInputError", "Separator", "StreamingSeparator"]


def __getattr__(name: str) -> object:
    """`Separator` and the others, imported on first use."""
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
