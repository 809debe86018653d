"""Checks of the audio files a separation CSV names, before training: an
audio file soundfile can read (not a folder, not empty, not another
format), complete (samples, all those its WAV header says), mono, at the
run's sample rate, every sample finite. Each problem is one `DataError`
naming the file, the problem and the fix.

Authors
 * sepformer-lobes contributors 2026
"""

import os

import numpy as np
import soundfile as sf

from lobes.files import missing_bytes
from lobes.training.errors import DataError

FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")  # the only ones that hold NaN or inf
BLOCK = 1 << 20  # samples read at a time when looking for NaN and inf


def audio_frames(path: str, sample_rate: int) -> int:
    """Returns the length of a mono audio file, after checking it: an
    audio file (not empty, not another format), complete (not truncated,
    not a header only), mono, at ``sample_rate``, every sample finite.

    Arguments
    ---------
    path : str
        The audio file.
    sample_rate : int
        The sample rate the file must have.

    Returns
    -------
    frames : int
        Number of samples in the file.

    Example
    -------
    >>> import numpy as np
    >>> path = getfixture("tmp_path") / "a.wav"
    >>> sf.write(path, np.zeros(800), 8000)
    >>> audio_frames(str(path), 8000)
    800
    >>> audio_frames(str(path), 16000)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    lobes.training.errors.DataError: ...a.wav is sampled at 8000 Hz, but ...
    >>> _ = path.write_bytes(path.read_bytes()[:1000])  # a copy cut short
    >>> audio_frames(str(path), 8000)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    lobes.training.errors.DataError: ...a.wav is truncated: its header says...
    >>> sf.write(path, np.array([0.0, np.nan]), 8000, subtype="FLOAT")
    >>> audio_frames(str(path), 8000)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    lobes.training.errors.DataError: ...a.wav has 1 NaN or infinite sample...
    """
    info = audio_info(path)
    _check_complete(path, info.frames)
    if info.channels != 1:
        raise DataError(
            f"{path} has {info.channels} channels, but separation needs mono "
            "files: keep one channel (e.g. `sox in.wav out.wav remix 1`)."
        )
    if info.samplerate != sample_rate:
        raise DataError(
            f"{path} is sampled at {info.samplerate} Hz, but sample_rate is "
            f"{sample_rate} Hz: resample the data or pass "
            f"--sample_rate={info.samplerate}."
        )
    if info.subtype in FLOAT_SUBTYPES:
        _check_finite(path, sample_rate)
    return info.frames


def audio_info(path: str) -> sf._SoundFileInfo:
    """``soundfile.info`` of an audio file, or `DataError` (or
    ``FileNotFoundError``) naming what the path is instead.

    Arguments
    ---------
    path : str
        The audio file.

    Returns
    -------
    info
        What ``soundfile.info`` returns.

    Example
    -------
    >>> path = getfixture("tmp_path") / "a.wav"
    >>> _ = path.write_text("not audio")
    >>> audio_info(str(path))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    lobes.training.errors.DataError: ...a.wav is not an audio file ...
    """
    if os.path.isdir(path):
        raise DataError(
            f"{path} is a folder, not an audio file: point the CSV at a file."
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"Audio file not found: {path}. Check --data_folder and the "
            "paths in the CSV files."
        )
    if os.path.getsize(path) == 0:
        raise DataError(
            f"{path} is empty (0 bytes), maybe an interrupted copy: copy or "
            "write it again, or remove it from the data."
        )
    try:
        return sf.info(path)
    except sf.LibsndfileError as error:
        raise DataError(
            f"{path} is not an audio file soundfile can read "
            f"({error.error_string}): convert it to WAV (e.g. `ffmpeg -i "
            "FILE -ac 1 OUT.wav`) and use that, or remove it from the data."
        ) from error


def _check_complete(path: str, frames: int) -> None:
    """Raises `DataError` if a file holds no samples, or is a WAV file
    shorter than its header says (an interrupted write or copy)."""
    damaged = (
        "it is damaged (an interrupted write or copy): regenerate or copy "
        "it again, or remove it from the data."
    )
    missing = missing_bytes(path)
    if missing:
        actual = os.path.getsize(path)
        raise DataError(
            f"{path} is truncated: its header says {actual + missing} bytes, "
            f"the file has {actual}; {damaged}"
        )
    if frames == 0:
        raise DataError(f"{path} holds no samples, only a header; {damaged}")


def _check_finite(path: str, sample_rate: int) -> None:
    """Raises `DataError` if a (floating-point) file has a NaN or an
    infinite sample, naming the first."""
    bad, first, start = 0, None, 0
    for block in sf.blocks(path, blocksize=BLOCK, dtype="float32"):
        wrong = np.flatnonzero(~np.isfinite(block))
        if wrong.size and first is None:
            first = start + int(wrong[0])
        bad += wrong.size
        start += len(block)
    if bad:
        raise DataError(
            f"{path} has {bad} NaN or infinite sample(s), the first at "
            f"{first / sample_rate:.3f} s (sample {first}): they would make "
            "the loss and the scores NaN. Fix or regenerate the file, or "
            "remove it from the data."
        )
