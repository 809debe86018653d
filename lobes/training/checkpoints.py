"""Checkpoints that survive faults: SpeechBrain's ``Checkpointer`` whose
checkpoints appear only when complete, and whose recovery skips (and
names) a checkpoint that is not.

SpeechBrain writes ``CKPT.yaml`` first and then the weights into the
checkpoint's folder, so a kill or a full disk in between leaves a folder
that every later run tries to load. Here a checkpoint is written into a
hidden folder (``.CKPT+....partial``), flushed to disk, then renamed to its
``CKPT+...`` name; a checkpoint is deleted by renaming it away first
(`lobes.files.remove_folder`); a failed save removes what it wrote and says
which checkpoint is kept. On recovery, a checkpoint whose ``CKPT.yaml`` is
unreadable, which lacks a file of a recoverable (or of a ``required``
name), or whose weights are truncated (what an interrupted run of plain
SpeechBrain leaves) is skipped with one line naming it, and the previous
complete one is loaded; ``python -m lobes.export`` picks a run's
checkpoint the same way. The format of a checkpoint is SpeechBrain's: runs
saved by either load with either.

Authors
 * sepformer-lobes contributors 2026
"""

import logging
import os
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path

import yaml
from speechbrain.utils import checkpoints as sb_checkpoints
from speechbrain.utils.checkpoints import (
    CKPT_PREFIX,
    METAFNAME,
    PARAMFILE_EXT,
    Checkpoint,
    ckpt_recency,
)
from speechbrain.utils.distributed import (
    ddp_barrier,
    ddp_broadcast,
    if_main_process,
)
from speechbrain.utils.logger import get_logger

from lobes.errors import brief
from lobes.files import OLD, PARTIAL, remove_folder, replace_folder, sync
from lobes.training.errors import CheckpointError, UsageError

logger = get_logger(__name__)

META_KEYS = ("unixtime", "end-of-epoch")  # what SpeechBrain's meta holds


class Checkpointer(sb_checkpoints.Checkpointer):
    """SpeechBrain's ``Checkpointer`` with checkpoints that appear only
    when complete and recovery that skips incomplete ones (see the module
    docstring). Same arguments and checkpoint format, and:

    Arguments
    ---------
    required : sequence of str
        Names whose ``<name>.ckpt`` a checkpoint must hold to be used,
        beside the recoverables' (for a reader that loads the files
        itself, e.g. ``lobes.export``).

    Example
    -------
    >>> import torch
    >>> folder = getfixture("tmp_path")
    >>> model = torch.nn.Linear(2, 2)
    >>> checkpointer = Checkpointer(folder, {"model": model})
    >>> first = checkpointer.save_checkpoint()
    >>> second = checkpointer.save_checkpoint()
    >>> _ = (second.path / "model.ckpt").write_bytes(b"PK")  # truncated
    >>> checkpointer.recover_if_possible().path == first.path
    True
    """

    def __init__(
        self, checkpoints_dir, *args, required: Sequence[str] = (), **kwargs
    ):
        try:
            super().__init__(checkpoints_dir, *args, **kwargs)
        except OSError as error:
            raise UsageError(
                f"Cannot create the checkpoint folder {checkpoints_dir} "
                f"({brief(error)}): pass --output_folder=<a folder you can "
                "write to>."
            ) from error
        self.required = tuple(required)
        self.skipped: dict[Path, str] = {}  # folders skipped (named): why
        self._read_files: dict[Path, tuple] = {}  # files read, by folder

    def save_checkpoint(
        self, meta=None, end_of_epoch=True, name=None, verbosity=logging.INFO
    ):
        """Saves a checkpoint as SpeechBrain does, into a hidden folder
        renamed to its ``CKPT+...`` name once complete; a failure removes
        what was written and raises `CheckpointError` (naming the
        checkpoint kept) for an ``OSError`` such as a full disk.

        Arguments and return value as
        ``speechbrain.utils.checkpoints.Checkpointer.save_checkpoint``.
        """
        final = None
        if if_main_process():
            self._remove_leftovers()
            final = (
                self._new_checkpoint_dirpath()
                if name is None
                else super()._custom_checkpoint_dirpath(name)
            )
        final = ddp_broadcast(final, src=0)
        self._writing = final.with_name(f".{final.name}{PARTIAL}")
        try:
            # SpeechBrain writes where _custom_checkpoint_dirpath says
            saved = super().save_checkpoint(
                meta or {},
                end_of_epoch,
                name=final.name,
                verbosity=logging.NOTSET,
            )
            ddp_barrier()  # every rank has written its part
            if if_main_process():
                self._publish(self._writing, final)
        except BaseException as error:
            if if_main_process():
                shutil.rmtree(self._writing, ignore_errors=True)
            if isinstance(error, OSError):
                raise CheckpointError(
                    f"Cannot save a checkpoint in {self.checkpoints_dir} "
                    f"({brief(error)}). {self._kept()}"
                ) from error
            raise
        finally:
            self._writing = None
        if saved is None:  # not the main process
            return None
        kind = "end-of-epoch" if end_of_epoch else "intra-epoch"
        logger.log(verbosity, f"Saved an {kind} checkpoint in {final}")
        paramfiles = {k: final / p.name for k, p in saved.paramfiles.items()}
        return Checkpoint(final, saved.meta, paramfiles)

    def _custom_checkpoint_dirpath(self, name):
        """The folder SpeechBrain's ``save_checkpoint`` writes into: the
        hidden one of the checkpoint being saved."""
        if getattr(self, "_writing", None) is not None:
            return self._writing
        return super()._custom_checkpoint_dirpath(name)

    def _publish(self, written: Path, final: Path) -> None:
        """Flushes a written checkpoint to disk and renames it to
        ``final`` (replacing a checkpoint of that name)."""
        for file in written.iterdir():
            sync(file)
        sync(written)
        self._read_files.pop(final, None)  # a custom name saved again
        replace_folder(written, final)
        sync(final.parent)

    def _kept(self) -> str:
        """What a failed save leaves: the checkpoint a rerun resumes from."""
        kept = self.find_checkpoint()
        if kept is None:
            where = "there is no complete one yet: a rerun starts afresh"
        else:
            where = f"the last complete one, {kept.path.name}, is kept"
        return (
            f"The partial checkpoint was removed and {where}: free some "
            f"space (or make {self.checkpoints_dir} writable) and run the "
            "same command again to resume."
        )

    def delete_checkpoints(
        self,
        *,
        num_to_keep=1,
        min_keys=None,
        max_keys=None,
        importance_keys=(ckpt_recency,),
        ckpt_predicate=None,
        verbosity=logging.INFO,
    ):
        """Deletes the least important checkpoints, as SpeechBrain's
        ``delete_checkpoints`` (same arguments), each renamed away before
        its files go, so that an interrupted deletion never leaves an
        incomplete checkpoint."""
        if num_to_keep < 0:
            raise ValueError("Number of checkpoints to keep must be positive.")
        keys = [{"min_key": key} for key in min_keys or []]
        keys += [{"max_key": key} for key in max_keys or []]
        keys += [{"importance_key": key} for key in importance_keys]
        candidates, protected = set(), set()
        for key in keys:
            key["ckpt_predicate"] = ckpt_predicate
            candidates.update(self.find_checkpoints(**key))
            protected.update(
                self.find_checkpoints(max_num_checkpoints=num_to_keep, **key)
            )
        ddp_barrier()  # no rank saves while another deletes
        if if_main_process():
            for checkpoint in candidates - protected:
                self._delete(checkpoint.path)
                logger.log(verbosity, f"Deleted checkpoint {checkpoint.path}")
        ddp_barrier()

    def _delete(self, folder: Path) -> None:
        """Renames a checkpoint folder away (atomic), then removes it."""
        self._read_files.pop(folder, None)
        remove_folder(folder)

    def _remove_leftovers(self) -> None:
        """Removes what a killed save or deletion left (hidden folders)."""
        for path in self.checkpoints_dir.glob(f".{CKPT_PREFIX}*"):
            if path.is_dir() and path.name.endswith((PARTIAL, OLD)):
                shutil.rmtree(path, ignore_errors=True)

    def list_checkpoints(self):
        """The complete checkpoints; each incomplete or unreadable one is
        skipped, and named once in the log.

        Returns
        -------
        list of Checkpoint
        """
        checkpoints = []
        for folder in self._list_checkpoint_dirs():
            checkpoint, problem = self._read(folder)
            if problem is None:
                checkpoints.append(checkpoint)
            elif self.skipped.get(folder) != problem:
                self.skipped[folder] = problem
                logger.warning(
                    f"Skipping checkpoint {folder}: {problem} (left by an "
                    "interrupted run?). The previous complete checkpoint, "
                    "if any, is used instead; delete this folder to silence "
                    "this message."
                )
        return checkpoints

    def _read(self, folder: Path) -> tuple[Checkpoint | None, str | None]:
        """A checkpoint folder as a ``Checkpoint``, or why it cannot be
        used: its ``CKPT.yaml`` unreadable, a recoverable's file missing,
        or a file empty or truncated."""
        try:
            with os.scandir(folder) as entries:
                files = {e.name: e.stat() for e in entries if e.is_file()}
        except OSError as error:
            return None, f"it cannot be read ({brief(error)})"
        stamp = sorted((n, s.st_size, s.st_mtime_ns) for n, s in files.items())
        if self._read_files.get(folder, (None,))[0] != stamp:
            self._read_files[folder] = (stamp, *_read_files(folder, files))
        _, meta, problem = self._read_files[folder]
        paramfiles = {
            Path(n).stem: folder / n
            for n in files
            if Path(n).suffix == PARAMFILE_EXT
        }
        missing = [
            name + PARAMFILE_EXT
            for name in [*self.recoverables, *self.required]
            if name not in paramfiles and not self._optional(name)
        ]
        if problem is None and missing:
            problem = f"incomplete, it lacks {', '.join(missing)}"
        if problem is not None:
            return None, problem
        return Checkpoint(folder, meta, paramfiles), None

    def _optional(self, name: str) -> bool:
        """Whether SpeechBrain loads a checkpoint lacking ``name``'s file."""
        return (
            self.allow_partial_load
            or self.optional_recoverables.get(name, False)
            or "dataloader" in name  # SpeechBrain only warns
        )

    def load_checkpoint(self, checkpoint):
        """Loads a checkpoint; a failure (e.g. weights of another model
        size) raises `CheckpointError` naming it.

        Arguments
        ---------
        checkpoint : Checkpoint
            The checkpoint to load.
        """
        try:
            super().load_checkpoint(checkpoint)
        except (OSError, RuntimeError, ValueError, KeyError) as error:
            raise CheckpointError(
                f"Cannot load checkpoint {checkpoint.path}: {brief(error)}. "
                "If the model options changed since it was saved, pass those "
                "options again or a new --output_folder; if it is damaged, "
                "move it out of the folder to resume from the previous one."
            ) from error


def _read_files(folder: Path, files: dict) -> tuple[dict | None, str | None]:
    """A checkpoint folder's meta, and why its files cannot be loaded: its
    ``CKPT.yaml`` unreadable, or a file empty or truncated (None: they
    can)."""
    try:
        with open(folder / METAFNAME, encoding="utf-8") as f:
            meta = yaml.safe_load(f)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        return None, f"its {METAFNAME} cannot be read ({brief(error)})"
    if not isinstance(meta, dict) or not all(k in meta for k in META_KEYS):
        return None, f"its {METAFNAME} is empty or incomplete"
    for name in sorted(files):
        if Path(name).suffix == PARAMFILE_EXT:
            problem = _file_problem(folder / name)
            if problem is not None:
                return meta, f"{name} is {problem}"
    return meta, None


def _file_problem(path: Path) -> str | None:
    """Why a checkpoint file cannot be loaded: empty, or a torch file
    (a zip archive) cut short (None: neither)."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
        if not head:
            return "empty"
        if head == b"PK":  # torch.save's zip format
            with zipfile.ZipFile(path) as archive:
                archive.infolist()
    except (OSError, zipfile.BadZipFile) as error:
        return f"truncated or unreadable ({brief(error)})"
    return None
