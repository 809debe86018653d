"""The recipe driver that ``recipes/*/train.py`` call: parse and check the
command line, build the data, train (resuming from the last checkpoint in
the output folder) and evaluate the best checkpoint on the test set, then
on the real-voice test split (``test_real_data``) when there is one.

A recipe's ``main`` is::

    recipe = load_recipe(argv)
    sb.create_experiment_directory(**recipe.experiment)  # copies train.py
    run_on_main(prepare_..., kwargs=...)  # its corpus's CSVs
    return train_and_evaluate(recipe.hparams, recipe.run_opts)

and its ``__main__`` is ``run_recipe(main)``: a command line that cannot
work (a missing hparams file, an unknown override key or a value of the
wrong type or range, a model its options cannot build, a device that is
not there, an output folder that cannot be written, ``--test_only``
without a checkpoint) ends the program with one line and exit status 2,
before anything is trained; bad data (checked before training: every
file of every split), a checkpoint that cannot be saved or loaded (a full
disk, weights of another model size) or another ``OSError`` with one
line and exit status 1; Ctrl-C with one line naming the checkpoint a
rerun resumes from, and exit status 130. A rerun that fails before
training leaves the run's files as they were: `load_recipe` loads the
checkpoint to resume from before SpeechBrain writes ``hyperparams.yaml``,
``env.log`` and the copy of ``train.py``. ``LOBES_DEBUG=1`` shows the
traceback.

Authors
 * sepformer-lobes contributors 2026
"""

import logging
import os
import sys
from collections.abc import Callable
from typing import NamedTuple

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.dataset import DynamicItemDataset
from speechbrain.utils.distributed import (
    run_on_main,
)
from speechbrain.utils.logger import get_logger

from lobes.errors import (
    FAILURE,
    INTERRUPTED,
    USAGE,
    CommandError,
    debug_wanted,
    report_errors,
)
from lobes.model import EncoderMaskerDecoder
from lobes.training.brain import CKPT_KEY, Separation
from lobes.training.checkpoints import Checkpointer
from lobes.training.command_checks import (
    check_checkpoint_interval,
    check_device,
    check_folder,
    check_hparams_file,
    check_resume,
)
from lobes.training.csv_checks import check_csv
from lobes.training.csvs import csv_dataset, signal_names
from lobes.training.dynamic_mixing import DynamicMixing
from lobes.training.errors import CheckpointError, DataError, UsageError
from lobes.training.metrics import SDR_FILTER_LENGTH
from lobes.training.overrides import (
    MODEL_ERRORS,
    check_overrides,
    model_error,
)

logger = get_logger(__name__)
SPLITS = ("train_data", "valid_data", "test_data")
REAL_SPLIT = "test_real_data"  # the real-voice test split's CSV, optional
FOLDERS = ("output_folder", "save_folder")  # checked before anything runs
# SpeechBrain's train logger warns on import that it cannot save figures
# without torchvision; the recipes save none.
NO_TORCHVISION = "torchvision is not available - cannot save figures"
logging.getLogger("speechbrain.utils.train_logger").addFilter(
    lambda record: record.getMessage() != NO_TORCHVISION
)


class Recipe(NamedTuple):
    """A parsed recipe command line.

    Arguments
    ---------
    hparams : dict
        The loaded hyperparameters.
    run_opts : dict
        SpeechBrain's run options.
    experiment : dict
        Keyword arguments of ``speechbrain.create_experiment_directory``
        (the output folder, the YAML and the overrides to save).
    """

    hparams: dict
    run_opts: dict
    experiment: dict


def load_recipe(argv: list[str]) -> Recipe:
    """Parses a recipe command line, checks it (`check_hparams_file`,
    `check_device`, `lobes.training.overrides.check_overrides`,
    `check_folder`), loads its hyperparameters (building the model: an
    error of its classes names ``--model``), starts DDP (under torchrun)
    and loads the checkpoint to resume from (`check_resume`), all before
    anything is written in the run's folder.

    Arguments
    ---------
    argv : list[str]
        ``hparams.yaml`` followed by SpeechBrain options and overrides.

    Returns
    -------
    Recipe
    """
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    check_hparams_file(hparams_file)
    check_device(run_opts["device"])
    given = check_overrides(hparams_file, overrides)
    for option in FOLDERS:
        if option in given:
            check_folder(option, given[option])
    try:
        with open(hparams_file, encoding="utf-8") as fin:
            hparams = load_hyperpyyaml(fin, overrides)
    except MODEL_ERRORS as error:
        line = model_error(error, hparams_file, given)
        if line is None:
            raise
        raise line from error
    check_checkpoint_interval(hparams, run_opts)
    sb.utils.distributed.ddp_init_group(run_opts)
    check_resume(hparams["checkpointer"], run_opts["test_only"])
    experiment = dict(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    return Recipe(hparams, run_opts, experiment)


def exit_status(error: BaseException) -> int | None:
    """The exit status of a recipe that ends with ``error`` in one line:
    2 for a command line that cannot work, 1 for bad data, a checkpoint
    that cannot be saved or loaded, or another ``OSError``; None for an
    error that needs its traceback (a bug).

    Arguments
    ---------
    error : BaseException
        What ended the recipe.

    Returns
    -------
    int or None

    Example
    -------
    >>> exit_status(UsageError("--N_epoch: unknown key")), exit_status(
    ...     OSError(28, "No space left on device")), exit_status(KeyError())
    (2, 1, None)
    """
    if isinstance(error, UsageError):
        return USAGE
    if isinstance(error, (DataError, CheckpointError, OSError)):
        return FAILURE
    return None


def own_message(error: BaseException) -> str:
    """The message of ``error``, or, for one that a DataLoader worker
    raised (torch raises it again with the worker's traceback as its
    message), the message the worker's error had.

    Arguments
    ---------
    error : BaseException
        What ended the recipe.

    Returns
    -------
    str

    Example
    -------
    >>> own_message(DataError(
    ...     "Caught DataError in DataLoader worker process 0.\\n"
    ...     "Original Traceback (most recent call last):\\n  ...\\n"
    ...     "lobes.training.errors.DataError: a.wav: all silent.\\n"))
    'a.wav: all silent.'
    """
    text = str(error)
    if "Original Traceback" not in text:
        return text
    last = text.strip().splitlines()[-1]
    return last.split(": ", 1)[-1]


def run_recipe(main: Callable[[list[str]], object]) -> None:
    """Runs a recipe's ``main`` on ``sys.argv[1:]``; an error of
    `exit_status` ends the program with its one-line message, or with the
    traceback when ``LOBES_DEBUG=1`` (`lobes.errors.report_errors`); any
    other error with its traceback.

    Arguments
    ---------
    main : callable
        The recipe's ``main(argv)``.
    """

    def command() -> int:
        main(sys.argv[1:])
        return 0

    def classify(error: Exception) -> tuple[int, str] | None:
        status = exit_status(error)
        return None if status is None else (status, own_message(error))

    status = report_errors(
        sys.argv[0], command, classify, debug_wanted(), unexpected=""
    )
    if status:
        sys.exit(status)


def min_lengths(hparams: dict) -> dict[str, tuple[int, str]]:
    """The shortest mixture each split can use, and what needs it: the
    encoder's kernel (also after speed perturbation, for training) and,
    for the test set, BSS-eval's SDR filter.

    Arguments
    ---------
    hparams : dict
        Recipe hyperparameters (``Encoder``, ``MaskNet``, ``Decoder``,
        ``use_speedperturb``, ``speed_changes``).

    Returns
    -------
    dict
        ``train_data``, ``valid_data``, ``test_data`` to (samples, what).
    """
    model = EncoderMaskerDecoder(
        hparams["Encoder"], hparams["MaskNet"], hparams["Decoder"]
    )
    kernel = model.min_samples
    encoder = (kernel, "the encoder's kernel spans")
    train = encoder
    fastest = max(hparams.get("speed_changes", [100]))
    perturbed = (kernel - 1) * fastest // 100 + 1  # shortened to >= kernel
    if hparams.get("use_speedperturb") and perturbed > kernel:
        train = (
            perturbed,
            f"the encoder's kernel ({kernel}) needs after speed "
            f"perturbation at {fastest}%",
        )
    test = encoder
    if SDR_FILTER_LENGTH > kernel:
        test = (
            SDR_FILTER_LENGTH,
            f"the SDR's {SDR_FILTER_LENGTH}-tap distortion filter (BSS-eval) "
            "needs",
        )
    return dict(zip(SPLITS, (train, encoder, test), strict=True))


def real_test_csv(hparams: dict) -> str | None:
    """The CSV of the real-voice test split (``test_real_data``), or None
    when it is not set (empty or null) or not there: ``prepare_data.py``
    writes it only for a corpus with that split (the embedded corpus's
    ``tt_real`` or ``test_real``), so other corpora run as before.

    Arguments
    ---------
    hparams : dict
        Recipe hyperparameters.

    Returns
    -------
    str or None

    Example
    -------
    >>> csv = getfixture("tmp_path") / "wsj_tt_real.csv"
    >>> real_test_csv({"test_real_data": str(csv)}) is None
    True
    >>> _ = csv.write_text("ID,duration\\n")
    >>> real_test_csv({"test_real_data": str(csv)}) == str(csv)
    True
    """
    path = hparams.get(REAL_SPLIT)
    if not path:
        return None
    if not os.path.isfile(path):
        logger.info(
            f"No real-voice test: {path} not found (prepare_data.py writes "
            "it when data_folder has the real-voice test split)."
        )
        return None
    return str(path)


def dataio_prep(
    hparams: dict, noise_folder: str | None = None, speakers: str = "wsj0"
) -> tuple[
    torch.utils.data.Dataset,
    DynamicItemDataset,
    DynamicItemDataset,
    DynamicItemDataset | None,
]:
    """Checks the data and builds the train, valid, test and real-voice
    test datasets.

    Arguments
    ---------
    hparams : dict
        Recipe hyperparameters (``train_data``, ``valid_data``,
        ``test_data``, ``test_real_data``, ``data_folder``, ``num_spks``,
        ``sample_rate``, ``dynamic_mixing``, ``base_folder_dm``,
        ``training_signal_len``, ``seed``).
    noise_folder : str, optional
        WHAM! training noise: examples then carry ``noise_sig`` (from the
        CSVs' ``noise_wav``) and dynamic mixing adds noise from this folder.
    speakers : str
        How ``base_folder_dm``'s paths name speakers (``wsj0`` or
        ``librispeech``, see `DynamicMixing`).

    Returns
    -------
    train, valid, test, real : datasets
        ``train`` is a ``DynamicMixing`` when ``dynamic_mixing`` is True;
        ``real`` is None without a real-voice test split (`real_test_csv`).
    """
    signals = signal_names(hparams["num_spks"], noise=noise_folder is not None)
    csvs = {s: hparams[s] for s in SPLITS}
    real = real_test_csv(hparams)
    if real is not None:
        csvs[REAL_SPLIT] = real
    shortest = min_lengths(hparams)
    shortest[REAL_SPLIT] = shortest["test_data"]
    for split, path in csvs.items():
        if split == "train_data" and hparams["dynamic_mixing"]:
            continue  # never read: dynamic mixing reads base_folder_dm
        min_samples, needed_by = shortest[split]
        run_on_main(
            check_csv,
            args=[path, hparams["data_folder"], hparams["sample_rate"]],
            kwargs={
                "signals": signals,
                "min_samples": min_samples,
                "needed_by": needed_by,
            },
        )
    data = {
        split: csv_dataset(path, hparams["data_folder"], signals)
        for split, path in csvs.items()
    }
    train, valid, test = (data[s] for s in SPLITS)
    if hparams["dynamic_mixing"]:
        train = DynamicMixing(
            hparams["base_folder_dm"],
            num_items=len(train),
            num_spks=hparams["num_spks"],
            sample_rate=hparams["sample_rate"],
            signal_len=hparams["training_signal_len"],
            seed=hparams["seed"],
            noise_folder=noise_folder,
            speakers=speakers,
        )
    return train, valid, test, data.get(REAL_SPLIT)


def train_and_evaluate(
    hparams: dict,
    run_opts: dict,
    noise_folder: str | None = None,
    speakers: str = "wsj0",
) -> Separation:
    """Builds the data, trains (resuming from the last checkpoint in the
    output folder) and evaluates the best checkpoint on the test set
    (``test_results.csv``), then on the real-voice test split when there
    is one (``test_real_data``; ``test_results_real.csv``).

    Arguments
    ---------
    hparams : dict
        Recipe hyperparameters.
    run_opts : dict
        SpeechBrain run options.
    noise_folder : str, optional
        WHAM! training noise folder (see ``dataio_prep``).
    speakers : str
        How dynamic mixing reads speaker ids (see ``dataio_prep``).

    Returns
    -------
    separator : Separation
        The trained Brain.
    """
    train, valid, test, real = dataio_prep(hparams, noise_folder, speakers)
    separator = Separation(
        modules=hparams["modules"],
        opt_class=hparams["optimizer"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    try:
        separator.fit(
            hparams["epoch_counter"],
            train,
            valid,
            train_loader_kwargs=hparams["dataloader_opts"],
            valid_loader_kwargs=dict(hparams["eval_dataloader_opts"]),
        )
        for data, is_real in ((test, False), (real, True)):
            if data is not None:
                separator.evaluate(
                    data,
                    min_key=CKPT_KEY,
                    test_loader_kwargs=dict(hparams["eval_dataloader_opts"]),
                    real=is_real,
                )
    except KeyboardInterrupt as interrupt:
        raise interrupted(hparams["checkpointer"]) from interrupt
    return separator


def interrupted(checkpointer: Checkpointer) -> CommandError:
    """The error that ends a run stopped by Ctrl-C: the checkpoint that
    the same command, run again, resumes from; exit status 130.

    Arguments
    ---------
    checkpointer : Checkpointer
        The run's.

    Returns
    -------
    CommandError

    Example
    -------
    >>> print(interrupted(Checkpointer(getfixture("tmp_path") / "save")))
    ... # doctest: +ELLIPSIS
    interrupted before the first checkpoint in .../save; rerun the same ...
    """
    last = checkpointer.find_checkpoint()
    if last is None:
        message = (
            "interrupted before the first checkpoint in "
            f"{checkpointer.checkpoints_dir}; rerun the same command to "
            "start again."
        )
    else:
        message = (
            "interrupted; rerun the same command to resume from the last "
            f"checkpoint, {last.path}."
        )
    return CommandError(message, INTERRUPTED)
