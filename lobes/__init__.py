"""Efficient Transformer speech separation lobes for SpeechBrain."""

__version__ = "0.1.0"
