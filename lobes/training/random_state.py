"""The random number generators' state as a checkpoint recoverable, so
that a run resumed from a checkpoint draws the same augmentations (speed
perturbation, shifts, wavedrop, dropout) as the run that was never
interrupted, and ends with the same weights.

Authors
 * sepformer-lobes contributors 2026
"""

import random

import numpy as np
import torch
from speechbrain.utils.checkpoints import (
    mark_as_loader,
    mark_as_saver,
    register_checkpoint_hooks,
)
from speechbrain.utils.distributed import (
    if_main_process,
    is_distributed_initialized,
)


def capture() -> dict:
    """The state of torch's (CPU and CUDA), NumPy's and Python's global
    generators, as tensors and numbers (``torch.load`` with
    ``weights_only`` reads it).

    Returns
    -------
    dict

    Example
    -------
    >>> state = capture()
    >>> a = torch.rand(2), np.random.rand(), random.random()
    >>> restore(state)
    >>> b = torch.rand(2), np.random.rand(), random.random()
    >>> torch.equal(a[0], b[0]) and a[1:] == b[1:]
    True
    """
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": torch.from_numpy(keys.astype(np.int64)),
        "numpy_pos": [pos, has_gauss, gauss],
        "python": torch.tensor(internal, dtype=torch.int64),
        "python_gauss": gauss_next,
        "python_version": version,
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore(state: dict) -> None:
    """Sets the generators to a state `capture` returned.

    Arguments
    ---------
    state : dict
        What `capture` returned.
    """
    torch.set_rng_state(state["torch"])
    pos, has_gauss, gauss = state["numpy_pos"]
    keys = state["numpy"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, pos, has_gauss, gauss))
    internal = tuple(int(v) for v in state["python"])
    random.setstate((state["python_version"], internal, state["python_gauss"]))
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available():
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


class RandomState:
    """The generators' state in a checkpoint (one state per DDP rank).

    The state saved with a checkpoint is the one the next training step
    starts from. Restoring an end-of-epoch checkpoint sets it at once (the
    next epoch then starts as it did); an intra-epoch one sets it when
    `restore_pending` is called, right before the next training step, since
    the data loader draws from torch's generator when it is restarted,
    which the interrupted run did not do at that point.

    Example
    -------
    >>> folder = getfixture("tmp_path")
    >>> saved = RandomState()
    >>> saved.save(folder / "rng.ckpt")
    >>> a = torch.rand(3)
    >>> loaded = RandomState()
    >>> loaded.load(folder / "rng.ckpt", end_of_epoch=False)
    >>> _ = torch.rand(5)  # the data loader restarting
    >>> loaded.restore_pending()
    >>> torch.equal(torch.rand(3), a)
    True
    """

    def __init__(self):
        self.pending: dict | None = None

    @mark_as_saver
    def save(self, path) -> None:
        """Saves every rank's state (a collective call under DDP)."""
        states = [capture()]
        if is_distributed_initialized():
            states = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(states, capture())
        if if_main_process():
            torch.save(states, path)

    @mark_as_loader
    def load(self, path, end_of_epoch: bool) -> None:
        """Reads this rank's state; sets it now at the end of an epoch,
        else at `restore_pending`."""
        states = torch.load(path, map_location="cpu")
        rank = 0
        if is_distributed_initialized():
            rank = torch.distributed.get_rank()
        self.pending = states[rank] if rank < len(states) else states[0]
        if end_of_epoch:
            self.restore_pending()

    def restore_pending(self) -> None:
        """Sets the state loaded from an intra-epoch checkpoint, if any."""
        if self.pending is not None:
            restore(self.pending)
            self.pending = None


# every rank calls the saver (it gathers the ranks' states; main writes)
register_checkpoint_hooks(RandomState, save_on_main_only=False)
