#!/usr/bin/env python3
"""Recipe: train and evaluate a speech separation model on WSJ0-2Mix.

    python train.py hparams/resepformer.yaml --data_folder=/data/wsj0-2mix
    python train.py hparams/sepformer.yaml --data_folder=/data/wsj0-2mix

Multi-GPU: torchrun --nproc_per_node=4 train.py hparams/resepformer.yaml ...
CPU DDP: add --device=cpu --distributed_backend=gloo. Starting again with the
same output folder resumes from the last checkpoint. A corpus with a
real-voice test split (the embedded corpus's tt_real, see prepare_data.py)
is scored on it too, after the test set: test_results_real.csv beside
test_results.csv (--test_real_data= turns it off). The Brain, data
pipeline and metrics live in lobes.training.

Authors
 * sepformer-lobes contributors 2025
"""

import speechbrain as sb
from prepare_data import prepare_wsjmix
from speechbrain.utils.distributed import run_on_main

from lobes.training.brain import Separation
from lobes.training.recipe import load_recipe, run_recipe, train_and_evaluate


def main(argv: list[str]) -> Separation:
    """Runs the recipe on a command line (without the program name)."""
    hparams, run_opts, experiment = load_recipe(argv)
    sb.create_experiment_directory(**experiment)  # copies this file there
    run_on_main(
        prepare_wsjmix,
        kwargs={
            "datapath": hparams["data_folder"],
            "savepath": hparams["save_folder"],
            "n_spks": hparams["num_spks"],
            "skip_prep": hparams["skip_prep"],
            "fs": hparams["sample_rate"],
        },
    )
    return train_and_evaluate(hparams, run_opts)


if __name__ == "__main__":
    run_recipe(main)
