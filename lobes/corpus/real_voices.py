"""The second speech source of the embedded corpus: real recorded voices.

:func:`load_real_voices` finds the packages of
:mod:`lobes.corpus.voice_catalogue` (fetched and checked into the cache by
:mod:`lobes.corpus.debian`, or unpacked by hand into a folder) and returns
a :class:`RealVoices`, which cuts each voice's recordings into utterances
of 1-10 s at the corpus's sample rate (:mod:`lobes.corpus.vad`) as the
writer asks for them, and writes the credits. Without them (no apt-get,
no network) it says so in one line and the corpus is eSpeak NG only.

Authors
 * sepformer-lobes contributors 2026
"""

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio
from speechbrain.utils.logger import get_logger

from lobes.corpus.debian import MARKER, FetchError, default_cache, fetch
from lobes.corpus.vad import join_pieces, speech_segments
from lobes.corpus.voice_catalogue import PACKAGES, VOICES, Package, Voice
from lobes.files import write_text

logger = get_logger(__name__)

CREDITS = "CREDITS.md"
LICENCES = "licences"  # the packages' copyright files, in the corpus
BY_HAND = "unpacked by hand"  # the version of a package from a folder


class RealVoices:
    """Utterances of real voices, cut from unpacked packages on demand.

    Each voice's recordings are read in an order drawn from ``seed``,
    downmixed, resampled to ``sample_rate`` (one sinc kernel per source
    rate, built once: the same samples as
    :func:`torchaudio.functional.resample`), cut at pauses by the energy
    voice-activity detector and joined into utterances of 1-10 s
    (:func:`lobes.corpus.vad.join_pieces`). A voice's utterances depend
    only on the packages, its id, ``seed`` and ``sample_rate``.

    Arguments
    ---------
    roots : dict
        Package name -> unpacked root folder; voices of other packages, or
        without recordings there, are left out.
    versions : dict
        Package name -> version and SHA-256 of its ``.deb`` (for the
        credits).
    sample_rate : int
        Sample rate of the utterances.
    seed : int
        Draws the order of the recordings, lengths and pauses.
    voices : tuple of Voice
        The catalogue (default :data:`~lobes.corpus.voice_catalogue.VOICES`).
    packages : dict
        Package name -> :class:`~lobes.corpus.voice_catalogue.Package`.
    """

    def __init__(
        self,
        roots: dict[str, Path],
        versions: dict[str, tuple[str, str]],
        sample_rate: int,
        seed: int,
        voices: tuple[Voice, ...] = VOICES,
        packages: dict[str, Package] = PACKAGES,
    ):
        self.roots, self.versions = roots, versions
        self.sample_rate, self.seed = sample_rate, seed
        self.packages = packages
        self._files = {}
        self.voices = [
            v for v in voices if v.package in roots and self.files(v)
        ]
        self._streams, self._cut = {}, {}
        self._resamplers = {}  # source rate -> torchaudio Resample

    def role(self, role: str) -> list[Voice]:
        """The voices of a role (``tr``, ``cv``, ``tt``), in catalogue order.

        Arguments
        ---------
        role : str
            ``tr``, ``cv`` or ``tt``.

        Returns
        -------
        list of Voice
        """
        return [v for v in self.voices if v.role == role]

    def utterances(self, voice: Voice, count: int) -> list[tuple]:
        """The first ``count`` utterances of ``voice`` (fewer if its
        recordings run out).

        Arguments
        ---------
        voice : Voice
            A voice of :attr:`voices`.
        count : int
            Utterances wanted.

        Returns
        -------
        list of (numpy.ndarray, list)
            Samples [time] in -1..1 at ``sample_rate`` and the pieces they
            were cut from: ``[file, start s, end s]``, the file relative
            to its package.
        """
        cut = self._cut.setdefault(voice.id, [])
        stream = self._streams.get(voice.id)
        if stream is None:
            rng = np.random.default_rng([self.seed, int(voice.id, 36)])
            pieces = self._pieces(voice, rng)
            stream = join_pieces(pieces, self.sample_rate, rng)
            self._streams[voice.id] = stream
        while len(cut) < count:
            utterance = next(stream, None)
            if utterance is None:
                break
            cut.append(utterance)
        return cut[:count]

    def release(self, voice: Voice) -> None:
        """Forgets the utterances of ``voice`` cut so far (memory); asked
        for again, they are cut again, the same.

        Arguments
        ---------
        voice : Voice
            A voice of :attr:`voices`.
        """
        self._cut.pop(voice.id, None)
        self._streams.pop(voice.id, None)

    def files(self, voice: Voice) -> list[Path]:
        """The recordings of ``voice``, sorted: the files of its glob,
        those of its name prefix only, none in its excluded folders.

        Arguments
        ---------
        voice : Voice
            A voice of :attr:`voices`.

        Returns
        -------
        list of pathlib.Path
        """
        if voice.id not in self._files:
            root = self.roots[voice.package]
            pattern = re.compile(f"[^-]+{re.escape(voice.name_prefix)}")
            excluded = [root / folder for folder in voice.exclude]
            self._files[voice.id] = sorted(
                path
                for path in root.glob(voice.glob)
                if (not voice.name_prefix or pattern.match(path.name))
                and not any(path.is_relative_to(e) for e in excluded)
            )
        return self._files[voice.id]

    def _pieces(self, voice, rng) -> Iterator[tuple[np.ndarray, list]]:
        """The speech pieces of a voice's recordings, in a drawn order."""
        files = self.files(voice)
        root = self.roots[voice.package]
        for k in rng.permutation(len(files)):
            path = files[k]
            try:
                audio, rate = sf.read(path, dtype="float32", always_2d=True)
            except (RuntimeError, sf.LibsndfileError) as err:
                logger.warning("Skipping %s: unreadable (%s)", path, err)
                continue
            if len(audio) < rate // 10:
                continue
            audio = self._resample(torch.from_numpy(audio.mean(axis=1)), rate)
            audio = audio.double().numpy()
            name = path.relative_to(root).as_posix()
            for start, end in speech_segments(audio, self.sample_rate):
                where = [name, start / self.sample_rate, end / self.sample_rate]
                yield audio[start:end], where

    def _resample(self, audio: torch.Tensor, rate: int) -> torch.Tensor:
        """``audio`` (float32) from ``rate`` to the corpus's sample rate.
        Building the sinc kernel costs far more than applying it (0.2 s
        for 44.1 kHz), so each rate's is built once; in float32, as
        :func:`torchaudio.functional.resample` builds it for float32
        audio, so the samples are the same."""
        if rate == self.sample_rate:
            return audio
        if rate not in self._resamplers:
            self._resamplers[rate] = torchaudio.transforms.Resample(
                rate, self.sample_rate, dtype=torch.float32
            )
        return self._resamplers[rate](audio)

    def write_credits(self, out: Path, used: dict[str, list[str]]) -> list[str]:
        """Writes ``OUT/CREDITS.md`` and the packages' copyright files
        (``OUT/licences/<package>.copyright``).

        Arguments
        ---------
        out : pathlib.Path
            The corpus folder.
        used : dict
            Split folder -> ids of the real voices in it.

        Returns
        -------
        list of str
            The names written under ``out``.
        """
        split_of = {v: split for split, ids in used.items() for v in ids}
        voices = [v for v in self.voices if v.id in split_of]
        names = sorted({v.package for v in voices})
        lines = [
            "# Real voices in this corpus",
            "",
            "Recordings of real voices from Debian packages, cut into "
            "utterances and",
            "resampled; each voice is in one split only. The packages' "
            "copyright files",
            f"are in `{LICENCES}/`.",
            "",
            "| id | voice | language | sex | split | package | licence |",
            "|---|---|---|---|---|---|---|",
        ]
        for v in voices:
            lines.append(
                f"| {v.id} | {v.name} | {v.language} | {v.sex} | "
                f"{split_of[v.id]} | {v.package} | "
                f"{self.packages[v.package].licence} |"
            )
        lines += ["", "| package | version | SHA-256 of the .deb | "]
        lines[-1] += "copyright | licence |"
        lines.append("|---|---|---|---|---|")
        for name in names:
            version, sha256 = self.versions[name]
            package = self.packages[name]
            lines.append(
                f"| {name} | {version} | {sha256} | {package.copyright} | "
                f"{package.licence} |"
            )
        write_text(out / CREDITS, "\n".join(lines) + "\n")
        licences = out / LICENCES
        licences.mkdir(exist_ok=True)
        for name in names:
            source = self.roots[name] / self.packages[name].doc
            if source.is_file():
                target = licences / f"{name}.copyright"
                write_text(target, source.read_text(errors="replace"))
        return [CREDITS, LICENCES]


def load_real_voices(
    source: str | os.PathLike | None,
    sample_rate: int,
    seed: int,
    cache: str | os.PathLike | None = None,
    num_spks: int = 2,
) -> RealVoices | None:
    """The real voices, or None (eSpeak NG only).

    Arguments
    ---------
    source : str or path or None
        None or ``"off"``: no real voices. ``"auto"``: the pinned packages,
        fetched into ``cache`` when not there yet; a package that cannot
        be fetched is left out, with one line saying why. A folder: the
        packages unpacked by hand, one sub-folder per package name
        (``DIR/fillets-ng-data-nl/usr/...``); nothing is fetched.
    sample_rate : int
        Sample rate of the corpus.
    seed : int
        The corpus's seed.
    cache : path, optional
        The cache of ``"auto"`` (default:
        :func:`lobes.corpus.debian.default_cache`).
    num_spks : int
        Speakers per mixture: the test voices must be at least this many.

    Returns
    -------
    RealVoices or None
        None when no voices are asked for, or fewer than ``num_spks`` test
        voices are available (said in one line). Otherwise the voices of
        the packages found (a training or validation role may be short
        of voices then).

    Raises
    ------
    ValueError
        ``source`` is a folder that does not exist.
    """
    if source is None or str(source) == "off":
        return None
    problems = []
    if str(source) == "auto":
        cache = default_cache() if cache is None else Path(cache)
        roots, versions = {}, {}
        for name, package in PACKAGES.items():
            try:
                roots[name] = fetch(package, cache)
            except FetchError as err:
                problems.append(str(err))
                if shutil.which("apt-get") is None:
                    break  # the others would say the same
                continue
            sha256 = (roots[name] / MARKER).read_text().strip()
            version = {s: v for v, s in package.pins}[sha256]
            versions[name] = (version, sha256)
    else:
        folder = Path(source)
        if not folder.is_dir():
            raise ValueError(
                f"--real-voices {folder}: no such folder; give 'auto', 'off' "
                "or a folder with the packages unpacked in it, one "
                "sub-folder per package name"
            )
        roots = {
            name: folder / name for name in PACKAGES if (folder / name).is_dir()
        }
        versions = {name: (BY_HAND, BY_HAND) for name in roots}
        problems = [
            f"{folder} has no folder {name}"
            for name in PACKAGES
            if name not in roots
        ]
    voices = RealVoices(roots, versions, sample_rate, seed)
    if len(voices.role("tt")) < num_spks:
        logger.warning(
            "Real voices unavailable (%s): the corpus is eSpeak NG speech "
            "only, with no real-speech test split",
            problems[0] if problems else "too few test voices",
        )
        return None
    if problems:
        logger.warning(
            "Real voices: %d of %d packages left out (%s)",
            len(PACKAGES) - len(roots),
            len(PACKAGES),
            "; ".join(problems),
        )
    return voices
