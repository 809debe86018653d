"""The recipe driver that ``recipes/*/train.py`` call: parse and check the
command line, build the data, train (resuming from the last checkpoint in
the output folder) and evaluate the best checkpoint on the test set.

A recipe's ``main`` is::

    recipe = load_recipe(argv)
    sb.create_experiment_directory(**recipe.experiment)  # copies train.py
    run_on_main(prepare_..., kwargs=...)  # its corpus's CSVs
    return train_and_evaluate(recipe.hparams, recipe.run_opts)

and its ``__main__`` is ``run_recipe(main)``: a command line that cannot
work (an unknown override key) ends the program with one line naming the
key and the valid ones, before anything is trained; ``LOBES_DEBUG=1``
shows the traceback.

Authors
 * sepformer-lobes contributors 2026
"""

import os
import sys
from collections.abc import Callable
from typing import NamedTuple

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.dataio.dataset import DynamicItemDataset
from speechbrain.utils.distributed import run_on_main

from lobes.training.brain import Separation
from lobes.training.csvs import check_csv, csv_dataset, signal_names
from lobes.training.dynamic_mixing import DynamicMixing
from lobes.training.overrides import OverrideError, check_overrides


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
    """Parses a recipe command line, checks its overrides, loads its
    hyperparameters and starts DDP (under torchrun).

    Arguments
    ---------
    argv : list[str]
        ``hparams.yaml`` followed by SpeechBrain options and overrides.

    Returns
    -------
    Recipe
    """
    hparams_file, run_opts, overrides = sb.parse_arguments(argv)
    check_overrides(hparams_file, overrides)
    with open(hparams_file, encoding="utf-8") as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    sb.utils.distributed.ddp_init_group(run_opts)
    experiment = dict(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    return Recipe(hparams, run_opts, experiment)


def run_recipe(main: Callable[[list[str]], object]) -> None:
    """Runs a recipe's ``main`` on ``sys.argv[1:]``; a command line that
    cannot work ends the program with its one-line message (exit status
    2), or with the traceback when ``LOBES_DEBUG=1``.

    Arguments
    ---------
    main : callable
        The recipe's ``main(argv)``.
    """
    try:
        main(sys.argv[1:])
    except OverrideError as error:
        if os.environ.get("LOBES_DEBUG") == "1":
            raise
        print(f"{sys.argv[0]}: error: {error}", file=sys.stderr)
        sys.exit(2)


def dataio_prep(
    hparams: dict, noise_folder: str | None = None, speakers: str = "wsj0"
) -> tuple[torch.utils.data.Dataset, DynamicItemDataset, DynamicItemDataset]:
    """Checks the data and builds the train, valid and test datasets.

    Arguments
    ---------
    hparams : dict
        Recipe hyperparameters (``train_data``, ``valid_data``,
        ``test_data``, ``data_folder``, ``num_spks``, ``sample_rate``,
        ``dynamic_mixing``, ``base_folder_dm``, ``training_signal_len``,
        ``seed``).
    noise_folder : str, optional
        WHAM! training noise: examples then carry ``noise_sig`` (from the
        CSVs' ``noise_wav``) and dynamic mixing adds noise from this folder.
    speakers : str
        How ``base_folder_dm``'s paths name speakers (``wsj0`` or
        ``librispeech``, see `DynamicMixing`).

    Returns
    -------
    train, valid, test : datasets
        ``train`` is a ``DynamicMixing`` when ``dynamic_mixing`` is True.
    """
    signals = signal_names(hparams["num_spks"], noise=noise_folder is not None)
    splits = ["train_data", "valid_data", "test_data"]
    checked = splits[1:] if hparams["dynamic_mixing"] else splits
    for split in checked:
        run_on_main(
            check_csv,
            args=[
                hparams[split],
                hparams["data_folder"],
                hparams["sample_rate"],
            ],
            kwargs={"signals": signals},
        )
    train, valid, test = (
        csv_dataset(hparams[s], hparams["data_folder"], signals) for s in splits
    )
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
    return train, valid, test


def train_and_evaluate(
    hparams: dict,
    run_opts: dict,
    noise_folder: str | None = None,
    speakers: str = "wsj0",
) -> Separation:
    """Builds the data, trains (resuming from the last checkpoint in the
    output folder) and evaluates the best checkpoint on the test set.

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
    train, valid, test = dataio_prep(hparams, noise_folder, speakers)
    separator = Separation(
        modules=hparams["modules"],
        opt_class=hparams["optimizer"],
        hparams=hparams,
        run_opts=run_opts,
        checkpointer=hparams["checkpointer"],
    )
    separator.fit(
        hparams["epoch_counter"],
        train,
        valid,
        train_loader_kwargs=hparams["dataloader_opts"],
        valid_loader_kwargs=dict(hparams["eval_dataloader_opts"]),
    )
    separator.evaluate(
        test,
        min_key="si-snr",
        test_loader_kwargs=dict(hparams["eval_dataloader_opts"]),
    )
    return separator
