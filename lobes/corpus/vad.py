"""Cutting recordings into utterances: an energy voice-activity detector
and the joining of short speech pieces into utterances of 1-10 s.

Recordings of real voices (game dialogue, telephone prompts, spoken
letters) come as files of one line, one prompt or one letter each, with
silence around them. :func:`speech_segments` finds the speech in one
recording by its short-time energy; :func:`join_pieces` strings the speech
pieces of one voice together, with short pauses, into utterances of a
drawn length, as long as a WSJ0 sentence.

Authors
 * sepformer-lobes contributors 2026
"""

from collections.abc import Iterable, Iterator

import numpy as np

FRAME_SECONDS = 0.02  # energy frames of 20 ms, no overlap
THRESHOLD_DB = -35.0  # speech: within 35 dB of the loud frames ...
FLOOR_DB = -60.0  # ... and above -60 dBFS
MAX_GAP_SECONDS = 0.35  # pauses shorter than this stay inside a segment
MIN_SPEECH_SECONDS = 0.12  # shorter bursts are clicks, not speech
PAD_SECONDS = 0.05  # kept before and after each segment
MIN_SECONDS, MAX_SECONDS = 1.0, 10.0  # utterance lengths
TARGET_SECONDS = (2.5, 8.0)  # each utterance's length is drawn in here
PAUSE_SECONDS = (0.1, 0.3)  # silence between joined pieces


def speech_segments(
    signal: np.ndarray,
    sample_rate: int,
    threshold_db: float = THRESHOLD_DB,
    floor_db: float = FLOOR_DB,
) -> list[tuple[int, int]]:
    """Finds the speech in a recording by its short-time energy.

    The signal is cut into 20 ms frames; a frame is speech when its level
    is within ``threshold_db`` of the recording's loud frames (the 95th
    percentile of frame levels) and above ``floor_db`` dBFS. Pauses shorter
    than 0.35 s are bridged, bursts shorter than 0.12 s dropped, and each
    segment padded by 50 ms on both sides.

    Arguments
    ---------
    signal : numpy.ndarray
        Mono samples in -1..1, [time].
    sample_rate : int
        Its sample rate in Hz.
    threshold_db : float
        Speech frames are at most this far (dB, negative) below the loud
        frames.
    floor_db : float
        Speech frames are louder than this (dBFS).

    Returns
    -------
    list of (int, int)
        ``(start, end)`` sample ranges of speech, in order, not
        overlapping.

    Example
    -------
    >>> rate = 8000
    >>> t = np.arange(rate) / rate
    >>> tone = 0.5 * np.sin(2 * np.pi * 200 * t)
    >>> silence = np.zeros(rate)
    >>> speech_segments(np.concatenate([silence, tone, silence]), rate)
    [(7600, 16400)]
    """
    frame = max(1, round(FRAME_SECONDS * sample_rate))
    count = len(signal) // frame
    if count == 0:
        return []
    frames = np.asarray(signal[: count * frame], np.float64)
    power = np.mean(frames.reshape(count, frame) ** 2, axis=1)
    level = 10 * np.log10(power + 1e-12)
    loud = np.percentile(level, 95)
    speech = (level > loud + threshold_db) & (level > floor_db)
    runs = _runs(speech)
    runs = _bridge(runs, round(MAX_GAP_SECONDS / FRAME_SECONDS))
    shortest = round(MIN_SPEECH_SECONDS / FRAME_SECONDS)
    pad = round(PAD_SECONDS * sample_rate)
    return [
        (max(0, a * frame - pad), min(len(signal), b * frame + pad))
        for a, b in runs
        if b - a >= shortest
    ]


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """``(start, end)`` of each run of True in ``flags``."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


def _bridge(runs: list[tuple[int, int]], gap: int) -> list[tuple[int, int]]:
    """Merges runs separated by fewer than ``gap`` frames."""
    merged = []
    for start, end in runs:
        if merged and start - merged[-1][1] < gap:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def join_pieces(
    pieces: Iterable[tuple[np.ndarray, object]],
    sample_rate: int,
    rng: np.random.Generator,
) -> Iterator[tuple[np.ndarray, list]]:
    """Strings speech pieces of one voice into utterances of 1-10 s.

    Each utterance gets a length drawn uniformly in 2.5..8 s and takes the
    next pieces, with a pause of 0.1-0.3 s of silence between them, until
    it is that long; a piece that would make it longer than 10 s starts
    the next utterance instead. A piece longer than 10 s is cut into equal
    parts of at most 10 s. An utterance shorter than 1 s at the end is
    dropped.

    Arguments
    ---------
    pieces : iterable of (numpy.ndarray, object)
        Speech samples [time] and a label saying where they came from, in
        the order to join them.
    sample_rate : int
        Sample rate of the pieces in Hz.
    rng : numpy.random.Generator
        Draws the lengths and the pauses.

    Yields
    ------
    samples : numpy.ndarray
        One utterance, [time], float64.
    labels : list
        The labels of the pieces in it.

    Example
    -------
    >>> rng = np.random.default_rng(0)
    >>> words = [(np.ones(8000), k) for k in range(20)]  # 1 s each
    >>> utterances = list(join_pieces(words, 8000, rng))
    >>> [labels for _, labels in utterances][:2]
    [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]
    >>> all(8000 <= len(u) <= 80000 for u, _ in utterances)
    True
    """
    longest = int(MAX_SECONDS * sample_rate)
    parts, labels, length = [], [], 0
    target = rng.uniform(*TARGET_SECONDS) * sample_rate
    for samples, label in pieces:
        if len(samples) == 0:
            continue
        for piece in np.array_split(samples, -(-len(samples) // longest)):
            pause = np.zeros(round(rng.uniform(*PAUSE_SECONDS) * sample_rate))
            if parts and length + len(pause) + len(piece) > longest:
                yield np.concatenate(parts), labels
                parts, labels, length = [], [], 0
                target = rng.uniform(*TARGET_SECONDS) * sample_rate
            if parts:
                parts.append(pause)
                length += len(pause)
            parts.append(np.asarray(piece, np.float64))
            length += len(piece)
            if not labels or labels[-1] != label:
                labels.append(label)
            if length >= target:
                yield np.concatenate(parts), labels
                parts, labels, length = [], [], 0
                target = rng.uniform(*TARGET_SECONDS) * sample_rate
    if length >= MIN_SECONDS * sample_rate:
        yield np.concatenate(parts), labels
