"""Reading and checking the recordings to separate.

Input files may have any sample rate (`resample`); multi-channel files are
refused unless ``downmix`` averages their channels; folders, empty,
unreadable and non-finite files raise `AudioInputError`, naming the file,
the problem and the fix. Outputs are written as `OUTPUT_SUBTYPE` WAV at the
model's output scale (no clipping), or peak-normalised (`peak_normalize`,
as SpeechBrain's ``separate_file``).

Authors
 * sepformer-lobes contributors 2026
"""

import logging
import math
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio
from torch import Tensor

from lobes.files import missing_bytes

OUTPUT_SUBTYPE = "FLOAT"  # 32-bit float WAV: no clipping
# reduced rate product above which `resample` takes SciPy's polyphase filter
POLYPHASE_ABOVE = 2**20

logger = logging.getLogger(__name__)


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
    lobes.inference.audio.AudioInputError: ...stereo.wav has 2 channels, ...
    """
    path = Path(path)
    if path.is_dir():
        raise AudioInputError(
            f"{path} is a folder, not an audio file: pass the files in it "
            f"(e.g. {path / '*.wav'})."
        )
    if not path.exists():
        raise AudioInputError(f"{path}: file not found. Check the path.")
    if not path.is_file():
        raise AudioInputError(
            f"{path} is not a regular file (a device or a pipe): save the "
            "recording to a file first."
        )
    if path.stat().st_size == 0:
        raise AudioInputError(
            f"{path} is an empty file (0 bytes): nothing to separate. Check "
            "that it was recorded or copied completely."
        )
    try:
        info = sf.info(str(path))
    except RuntimeError as error:  # soundfile.LibsndfileError
        raise AudioInputError(
            f"{path} cannot be read as audio ({error}). Convert it to WAV "
            f"or FLAC, e.g. `ffmpeg -i {path} {path.stem}_converted.wav`."
        ) from error
    if info.frames == 0:
        raise AudioInputError(
            f"{path} has no audio samples that can be read (no data, or "
            "truncated): check that it was recorded or copied completely."
        )
    if info.channels > 1 and not downmix:
        raise AudioInputError(
            f"{path} has {info.channels} channels, but the model separates "
            "a single-channel mixture. Pass --downmix (downmix=True) to "
            "average the channels, or keep one channel, e.g. "
            f"`sox {path} mono.wav remix 1`."
        )
    return info


def warn_if_truncated(path: str | Path, info: "sf._SoundFileInfo") -> None:
    """Logs a warning for a WAV file holding fewer samples than its header
    declares (a truncated copy: libsndfile reads what is there).

    Arguments
    ---------
    path : str or Path
        The file.
    info : soundfile info
        ``soundfile.info`` of it.

    Example
    -------
    >>> path = getfixture("tmp_path") / "cut.wav"
    >>> sf.write(path, np.zeros(1000), 8000, subtype="PCM_16")
    >>> _ = path.write_bytes(path.read_bytes()[:1044])
    >>> caplog = getfixture("caplog")
    >>> warn_if_truncated(path, sf.info(str(path)))
    >>> print(caplog.messages[-1].split(": ", 1)[1])
    its header declares 1000 samples, the file holds 500; separating those.
    """
    missing = missing_bytes(path) // (info.channels * _bytes(info.subtype))
    if missing:
        logger.warning(
            f"{path} is truncated: its header declares "
            f"{info.frames + missing} samples, the file holds {info.frames}; "
            "separating those."
        )


def _bytes(subtype: str) -> int:
    """Bytes per sample of a WAV subtype (PCM_16: 2, FLOAT: 4, ...)."""
    sizes = {"PCM_U8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4}
    return sizes.get(subtype, 8 if subtype == "DOUBLE" else 4)


def to_mono(audio: np.ndarray) -> np.ndarray:
    """[frames, channels] -> [frames], channels averaged.

    Arguments
    ---------
    audio : numpy.ndarray
        [frames, channels], as ``soundfile`` reads with ``always_2d``.

    Returns
    -------
    numpy.ndarray
        [frames]

    Example
    -------
    >>> to_mono(np.array([[1.0, 3.0], [2.0, 4.0]]))
    array([2., 3.])
    """
    return audio[:, 0] if audio.shape[1] == 1 else audio.mean(1)


def check_finite(
    audio: np.ndarray, path: str | Path, rate: int, offset: int = 0
) -> None:
    """Raises `AudioInputError` if ``audio`` has NaN or infinite samples.

    Arguments
    ---------
    audio : numpy.ndarray
        [frames, ...], read from ``path``.
    path : str or Path
        The file (for the message).
    rate : int
        Its sample rate (for the message).
    offset : int
        The file's sample at which ``audio`` starts (a block of it).

    Example
    -------
    >>> check_finite(np.array([0.0, np.inf]), "x.wav", 8000, offset=10)
    Traceback (most recent call last):
    ...
    lobes.inference.audio.AudioInputError: x.wav contains 1 non-finite ...
    """
    bad = ~np.isfinite(audio)
    if bad.any():
        rows = bad.reshape(len(audio), -1).any(1)
        first = offset + int(np.argmax(rows))
        raise AudioInputError(
            f"{path} contains {int(rows.sum())} non-finite (NaN or infinite) "
            f"sample(s), the first at {first / rate:.3f} s (sample {first}). "
            "Repair the file, e.g. export it again from its source."
        )


def unreadable(path: str | Path, error: Exception) -> AudioInputError:
    """The error for a file that fails while it is read (after its header
    was read).

    Arguments
    ---------
    path : str or Path
        The file.
    error : Exception
        What reading it raised.

    Returns
    -------
    AudioInputError

    Example
    -------
    >>> print(unreadable("a.flac", RuntimeError("lost sync")))
    a.flac cannot be read to the end (lost sync); the file may be truncated...
    """
    return AudioInputError(
        f"{path} cannot be read to the end ({error}); the file may be "
        "truncated. Convert or re-export it."
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
    lobes.inference.audio.AudioInputError: ...the first at 0.050 s (sample...
    """
    info = check_audio_file(path, downmix)
    warn_if_truncated(path, info)
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except RuntimeError as error:
        raise unreadable(path, error) from error
    check_finite(audio, path, info.samplerate)
    return torch.from_numpy(np.ascontiguousarray(to_mono(audio))), rate


def peak_normalize(sources: Tensor) -> Tensor:
    """Scales each source to a peak of one, as SpeechBrain's
    ``SepformerSeparation.separate_file`` does (a silent source stays
    silent).

    Arguments
    ---------
    sources : torch.Tensor
        [time, speakers]

    Returns
    -------
    torch.Tensor
        [time, speakers], each column divided by its largest magnitude.

    Example
    -------
    >>> peak_normalize(torch.tensor([[4.0, 0.0], [-8.0, 0.0]]))
    tensor([[ 0.5000,  0.0000],
            [-1.0000,  0.0000]])
    """
    peak = sources.abs().amax(dim=0, keepdim=True)
    return sources / torch.where(peak > 0, peak, torch.ones_like(peak))


def resample(audio: Tensor, orig: int, new: int) -> Tensor:
    """Resamples audio with torchaudio's windowed sinc, or for rates with a
    small common divisor (8001 or 44101 Hz to 8000) with SciPy's polyphase
    filter: torchaudio's kernel grows with the product of the reduced rates
    (1.6 GB for 8001 to 8000 Hz, more than 6 GB for 44101), SciPy's with
    the larger one.

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
    >>> resample(torch.zeros(44101), 44101, 8000).shape  # instantly
    torch.Size([8000])
    """
    if orig == new:
        return audio
    common = math.gcd(orig, new)
    up, down = new // common, orig // common
    if up * down <= POLYPHASE_ABOVE:
        return torchaudio.functional.resample(audio, orig, new)
    from scipy.signal import resample_poly

    out = resample_poly(audio.numpy(), up, down, axis=-1)
    return torch.from_numpy(out.astype(np.float32))
