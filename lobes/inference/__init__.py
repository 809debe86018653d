"""Inference: separating recordings with pretrained models, and writing the
pretrained folders they load from.

- `audio`: reading and checking input files (`AudioInputError`).
- `windows`: long recordings in overlapping, speaker-aligned windows.
- `separator`: `Separator`, a pretrained model on recordings of any length.
- `streaming`: `StreamingSeparator`, blocks in, separated blocks out.
- `pretrained`: the pretrained-folder format (``hyperparams.yaml``, ckpts).
- `export`: pretrained folders from recipe runs and upstream RE-SepFormers.
- `model_card`: the README.md of a pretrained folder.
- `cli`: ``python -m lobes.separate`` and ``python -m lobes.export``.

Authors
 * sepformer-lobes contributors 2026
"""

from lobes.inference.audio import AudioInputError
from lobes.inference.separator import Separator
from lobes.inference.streaming import StreamingSeparator

__all__ = ["AudioInputError", "Separator", "StreamingSeparator"]
