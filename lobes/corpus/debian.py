"""Fetching pinned Debian packages into a cache, checked and unpacked.

``apt-get download NAME=VERSION`` fetches a ``.deb`` without installing it
(and without root); its SHA-256 is checked against the pin before
``dpkg-deb -x`` unpacks it. When the system's package lists do not know
the version (never updated, or another release), apt-get is run again on
lists of its own, updated into the cache. Each package is unpacked to
``CACHE/debian/NAME_VERSION/``, which appears only when complete (a
temporary folder renamed), with a ``.sha256`` file naming the checked
``.deb``; a package found there is not fetched again. The ``.deb`` itself
is removed once unpacked.

The cache is ``$SEPFORMER_LOBES_CACHE``, or ``~/.cache/sepformer-lobes``
(:func:`default_cache`), outside the checkout.

Authors
 * sepformer-lobes contributors 2026
"""

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from speechbrain.utils.logger import get_logger

from lobes.corpus.voice_catalogue import Package
from lobes.files import write_folder

logger = get_logger(__name__)

CACHE_VARIABLE = "SEPFORMER_LOBES_CACHE"
MARKER = ".sha256"
TIMEOUT_SECONDS = 300  # per apt-get or dpkg-deb call
_UPDATED = set()  # caches whose own package lists this process updated


class FetchError(OSError):
    """A package could not be fetched; the message says why, in one line."""


def default_cache() -> Path:
    """The cache folder: ``$SEPFORMER_LOBES_CACHE`` or
    ``~/.cache/sepformer-lobes``.

    Returns
    -------
    pathlib.Path

    Example
    -------
    >>> getfixture("monkeypatch").setenv(CACHE_VARIABLE, "/tmp/lobes-cache")
    >>> default_cache().as_posix()
    '/tmp/lobes-cache'
    """
    folder = os.environ.get(CACHE_VARIABLE)
    if folder:
        return Path(folder)
    return Path.home() / ".cache" / "sepformer-lobes"


def unpacked(package: Package, cache: Path) -> Path | None:
    """The unpacked folder of a pinned version already in the cache.

    Arguments
    ---------
    package : Package
        The pinned package.
    cache : pathlib.Path
        The cache folder.

    Returns
    -------
    pathlib.Path or None
        ``CACHE/debian/NAME_VERSION`` of the first pin whose folder is
        complete and checked, else None.
    """
    for version, sha256 in package.pins:
        folder = _folder(package, version, cache)
        marker = folder / MARKER
        if marker.is_file() and marker.read_text().strip() == sha256:
            return folder
    return None


def fetch(package: Package, cache: Path) -> Path:
    """Returns the unpacked package, fetching and unpacking it if needed.

    Arguments
    ---------
    package : Package
        The pinned package.
    cache : pathlib.Path
        The cache folder (created if missing).

    Returns
    -------
    pathlib.Path
        The unpacked package's root (``usr/...`` is under it).

    Raises
    ------
    FetchError
        apt-get or dpkg-deb is missing, no pinned version can be
        downloaded, or the download does not match its checksum.
    """
    found = unpacked(package, cache)
    if found is not None:
        return found
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise FetchError(
                f"{tool} not found: real voices come from Debian packages "
                "(or unpack them by hand and pass their folder)"
            )
    store = cache / "debian"
    try:
        store.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FetchError(f"cannot create the cache {store}: {err}") from err
    problems = []
    for version, sha256 in package.pins:
        with tempfile.TemporaryDirectory(dir=store, prefix=".fetch-") as tmp:
            try:
                deb = _download(package.name, version, Path(tmp), cache)
            except FetchError as err:
                problems.append(str(err))
                continue
            digest = _sha256(deb)
            if digest != sha256:
                raise FetchError(
                    f"{package.name} {version}: the download's SHA-256 is "
                    f"{digest}, not the pinned {sha256}; not used"
                )
            return _unpack(deb, sha256, _folder(package, version, cache))
    raise FetchError(f"cannot download {package.name}: {'; '.join(problems)}")


def _folder(package, version, cache):
    return cache / "debian" / f"{package.name}_{version.replace(':', '%3a')}"


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(name, version, folder, cache):
    """``apt-get download name=version`` into ``folder``; on the system's
    lists, then on lists of the cache's own, updated first."""
    spec = f"{name}={version}"
    error = _apt(["download", spec], folder)
    if error:
        own, update_error = _own_lists(cache), None
        if cache not in _UPDATED:  # once a process
            logger.info("apt-get does not find %s; updating its lists", spec)
            update_error = _apt([*own, "update"], folder)
            _UPDATED.add(cache)
        error = update_error or _apt([*own, "download", spec], folder)
    if error:
        raise FetchError(f"apt-get download {spec}: {error}")
    debs = list(folder.glob("*.deb"))
    if len(debs) != 1:
        raise FetchError(f"apt-get download {spec} wrote no .deb file")
    return debs[0]


def _own_lists(cache):
    """apt-get options for package lists kept in the cache."""
    apt = cache / "apt"
    for sub in ("lists/partial", "archives/partial"):
        (apt / sub).mkdir(parents=True, exist_ok=True)
    return [
        "-o",
        f"Dir::State::Lists={apt / 'lists'}",
        "-o",
        f"Dir::Cache={apt}",
        "-o",
        "Debug::NoLocking=1",
    ]


def _apt(args, folder):
    """Runs apt-get; returns None, or its last error line."""
    try:
        run = subprocess.run(
            ["apt-get", "-q", *args],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        return str(err)
    if run.returncode == 0:
        return None
    lines = (
        [line for line in run.stderr.splitlines() if line.startswith("E:")]
        or run.stderr.splitlines()
        or [f"exit status {run.returncode}"]
    )
    return lines[-1].strip()


def _unpack(deb, sha256, folder):
    """Unpacks ``deb`` to ``folder``, which appears only when complete
    (replacing an older, unchecked attempt)."""

    def fill(tmp):
        run = subprocess.run(
            ["dpkg-deb", "-x", str(deb), str(tmp)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
        )
        if run.returncode != 0:
            last = (run.stderr.strip().splitlines() or ["failed"])[-1]
            raise FetchError(f"dpkg-deb -x {deb.name}: {last}")
        (tmp / MARKER).write_text(sha256 + "\n")

    write_folder(folder, fill)
    logger.info("Unpacked %s to %s", deb.name, folder)
    return folder
