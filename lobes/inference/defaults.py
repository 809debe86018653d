"""The inference settings the command lines show in ``--help``, in a module
that imports nothing (``--help`` answers without loading torch).

Authors
 * sepformer-lobes contributors 2026
"""

MODES = ("auto", "whole", "windowed")
WINDOW_SECONDS = 10.0
OVERLAP_SECONDS = 2.0
MAX_PASS_SECONDS = 600.0
BLOCK_SECONDS = 0.1
PRECISIONS = ("fp32", "bf16", "fp16")  # SpeechBrain's --precision values
RUNTIMES = ("torch", "onnx")
