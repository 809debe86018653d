"""The ``Separation`` Brain: trains and evaluates an encoder / masknet /
decoder separator with the hyperparameters of SpeechBrain's separation
recipes, for every recipe of this package.

It follows SpeechBrain's ``recipes/WSJ0Mix/separation`` with these fixes:
the forward pass goes through ``self.modules`` (so DDP synchronises
gradients), all ranks agree on skipping a bad batch, dynamic mixing gets
an epoch-keyed sampler (sharded under DDP, resumable mid-epoch), and SDR
comes from ``fast_bss_eval``.

Authors
 * sepformer-lobes contributors 2026
"""

import io
import math
from pathlib import Path

import soundfile as sf
import speechbrain as sb
import torch
from speechbrain.dataio.batch import PaddedBatch
from speechbrain.nnet.schedulers import update_learning_rate
from speechbrain.utils.distributed import (
    if_main_process,
    is_distributed_initialized,
)
from speechbrain.utils.logger import get_logger

from lobes.errors import brief
from lobes.files import replacing_all
from lobes.model import EncoderMaskerDecoder
from lobes.training.dynamic_mixing import DynamicMixing, EpochSampler
from lobes.training.metrics import separation_scores
from lobes.training.random_state import RandomState
from lobes.training.results import (
    FILE,
    REAL_FILE,
    SCORES,
    left_out,
    write_test_results,
)

logger = get_logger(__name__)
LOSS = "si-snr loss"  # the loss as the logs name it: -SI-SNR in dB
CKPT_KEY = "si-snr"  # the loss as checkpoints record it (SpeechBrain's)
SHOWN_IDS = 10  # utterance ids a message lists at most
REAL = "real-voice"  # how the logs name the real-voice test split


class Separation(sb.Brain):
    """Trains and evaluates an Encoder / MaskNet / Decoder separator.

    Expects ``modules`` ``encoder``, ``masknet``, ``decoder`` (SpeechBrain's
    masknet contract: masks [num_spks, B, N, L]) and the hyperparameters of
    SpeechBrain's separation recipes. Training: permutation-invariant SI-SNR
    loss, speed perturbation and random shifts per source, wavedrop, random
    crops, loss thresholding, skipping of non-finite losses (on all DDP
    ranks at once, naming the batch), gradient clipping and
    ReduceLROnPlateau; the checkpoint with the best validation SI-SNR is
    kept, and holds the random generators' state so that a resumed run
    continues exactly. Testing writes ``test_results.csv`` (per-utterance
    and average SI-SNR(i), SDR(i)), or ``test_results_real.csv`` for the
    real-voice test split (``evaluate(..., real=True)``), and, with
    ``save_audio``, separated audio to ``<save_folder>/audio_results``. A
    validation or test utterance with a non-finite loss or score is left
    out of the averages and named in the log.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.random_state = RandomState()
        self.real_test = False  # whether the test set is the real voices
        if self.checkpointer is not None:  # runs saved before lack it
            self.checkpointer.add_recoverable(
                "rng", self.random_state, optional_load=True
            )

    @property
    def model(self) -> EncoderMaskerDecoder:
        """The separator on this Brain's modules, which are DDP-wrapped
        under DDP (so gradients synchronise); it only holds references, so
        it is built on each use."""
        modules = self.modules
        return EncoderMaskerDecoder(
            modules.encoder, modules.masknet, modules.decoder
        )

    def compute_forward(self, batch, stage):
        """Returns estimated and (possibly augmented) targets, [B, T, S]."""
        batch = batch.to(self.device)
        mix, lens = batch.mix_sig
        targets = torch.stack(
            [
                getattr(batch, f"s{i + 1}_sig").data
                for i in range(self.hparams.num_spks)
            ],
            dim=-1,
        )
        if stage == sb.Stage.TRAIN:
            noise = getattr(batch, "noise_sig", None)
            if noise is not None:
                noise = noise.data
            with torch.no_grad():
                mix, targets = self.augment(mix, lens, targets, noise)
        return self.model(mix), targets

    def augment(self, mix, lens, targets, noise=None):
        """Speed perturbation, random shifts, wavedrop and random crop.

        Perturbed or shifted sources are remixed (plus ``noise`` [B, T] for
        WHAM!); mixtures [B, T], targets [B, T, S].
        """
        hp = self.hparams
        if hp.use_speedperturb or hp.use_rand_shift:
            sources = list(targets.unbind(-1))
            if hp.use_speedperturb:  # an independent speed for each source
                sources = [hp.speed_perturb(s) for s in sources]
            if hp.use_rand_shift:
                sources = [
                    s.roll(
                        int(torch.randint(hp.min_shift, hp.max_shift, ())), 1
                    )
                    for s in sources
                ]
            length = min(s.shape[1] for s in sources)
            if noise is not None:
                length = min(length, noise.shape[1])
            targets = torch.stack([s[:, :length] for s in sources], dim=-1)
            mix = targets.sum(-1)
            if noise is not None:
                mix = mix + noise[:, :length]
        if hp.use_wavedrop:
            mix = hp.drop_freq(hp.drop_chunk(mix, lens))
        if hp.limit_training_signal_len:
            start = int(
                torch.randint(
                    1 + max(0, mix.shape[1] - hp.training_signal_len), ()
                )
            )
            crop = slice(start, start + hp.training_signal_len)
            mix, targets = mix[:, crop], targets[:, crop]
        return mix, targets

    def compute_objectives(self, predictions, batch, stage):
        """Negative SI-SNR of each example under the best permutation, [B]."""
        est, targets = predictions
        return self.hparams.loss(targets, est)

    def fit_batch(self, batch):
        """Trains on one batch; skips it on every rank if any rank's loss
        is non-finite, above ``loss_upper_lim`` or empty after
        ``threshold_byloss``."""
        self.random_state.restore_pending()  # as the step began, if resumed
        with self.training_ctx:
            predictions = self.compute_forward(batch, sb.Stage.TRAIN)
            loss = self.compute_objectives(predictions, batch, sb.Stage.TRAIN)
            if self.hparams.threshold_byloss:  # drop examples already good
                loss = loss[loss > self.hparams.threshold]
            loss = loss.mean()  # NaN if nothing is left
        usable = torch.isfinite(loss) & (loss < self.hparams.loss_upper_lim)
        if self._on_all_ranks(usable):
            self.scaler.scale(loss).backward()
            if self.hparams.clip_grad_norm >= 0:
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(
                    self.modules.parameters(), self.hparams.clip_grad_norm
                )
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.optimizer_step += 1
        else:
            self.nonfinite_count += 1
            logger.info(
                "Non-finite, too large or empty loss: skipping the batch "
                f"{_ids(batch.id)} ({self.nonfinite_count} this epoch)."
            )
        self.optimizer.zero_grad(set_to_none=True)
        return loss.detach().cpu()

    def _on_all_ranks(self, flag: torch.Tensor) -> bool:
        """True only if ``flag`` holds on every DDP rank (skipping a
        backward on one rank alone would hang the gradient all-reduce)."""
        if is_distributed_initialized():
            flag = flag.float()
            torch.distributed.all_reduce(flag, torch.distributed.ReduceOp.MIN)
        return bool(flag)

    def evaluate(self, test_set, *args, real: bool = False, **kwargs):
        """SpeechBrain's ``evaluate`` (the best checkpoint on ``test_set``);
        ``real``: the set is the real-voice test split, whose scores go to
        ``test_results_real.csv`` instead of ``test_results.csv``."""
        self.real_test = real
        try:
            return super().evaluate(test_set, *args, **kwargs)
        finally:
            self.real_test = False

    def evaluate_batch(self, batch, stage):
        """Validation loss; at test time also per-utterance scores. The
        loss is the mean over the batch's utterances whose loss is finite;
        the others are recorded, to be named at the end of the stage."""
        with self.evaluation_ctx:
            est, targets = self.compute_forward(batch, stage)
            loss = self.compute_objectives((est, targets), batch, stage)
        if stage == sb.Stage.TEST:
            self.score(batch, est.float(), targets)
        loss = loss.detach().float().reshape(-1)
        finite = torch.isfinite(loss)
        pairs = zip(batch.id, finite.tolist(), strict=True)
        self.nonfinite_ids += [uid for uid, ok in pairs if not ok]
        return loss[finite].mean() if finite.any() else loss.mean()

    def update_average(self, loss, avg_loss):
        """SpeechBrain's running average while training; in validation and
        test, the mean of the finite losses (SpeechBrain divides by every
        batch, finite or not)."""
        if self.stage == sb.Stage.TRAIN:
            return super().update_average(loss, avg_loss)
        if not torch.isfinite(loss):
            return avg_loss
        self.finite_batches += 1
        return avg_loss + (float(loss) - avg_loss) / self.finite_batches

    def score(self, batch, est, targets):
        """Scores each test utterance (without its padding); saves audio."""
        mix, lens = batch.mix_sig
        for b, uid in enumerate(batch.id):
            n = int(torch.round(lens[b] * mix.shape[1]))
            signals = targets[b, :n].cpu(), est[b, :n].cpu(), mix[b, :n].cpu()
            if not all(torch.isfinite(x).all() for x in signals):
                nan = dict.fromkeys(SCORES, math.nan)  # named at the end
                self.test_scores.append({"snt_id": uid, **nan})
                continue
            scores, perm = separation_scores(*signals)
            self.test_scores.append({"snt_id": uid, **scores})
            if self.hparams.save_audio and (
                len(self.test_scores) <= self.hparams.n_audio_to_save
            ):
                self.save_audio(
                    uid, mix[b, :n], targets[b, :n], est[b, :n, perm]
                )

    def save_audio(self, snt_id, mixture, targets, estimates):
        """Saves peak-normalised mixture [T], targets [T, S] and estimates
        [T, S] (aligned with the targets) as SpeechBrain's recipes name
        them: item<id>_mix.wav, item<id>_source<k>.wav, ..._source<k>hat.wav,
        all complete or none (`lobes.files.replacing_all`); a write that
        fails (a full disk) raises an ``OSError`` of one line.
        """
        if not if_main_process():
            return
        folder = Path(self.hparams.save_folder) / "audio_results"
        signals = {"mix": mixture}
        for k in range(targets.shape[-1]):
            signals[f"source{k + 1}"] = targets[:, k]
            signals[f"source{k + 1}hat"] = estimates[:, k]
        paths = [folder / f"item{snt_id}_{name}.wav" for name in signals]
        rate = self.hparams.sample_rate
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with replacing_all(paths) as temps:  # all complete, or none
                for temp, signal in zip(temps, signals.values(), strict=True):
                    temp.write_bytes(_peak_normalised_wav(signal, rate))
        except OSError as error:
            raise OSError(
                f"Cannot write the test audio of {snt_id} in {folder} "
                f"({brief(error)}): free some space, or pass "
                "--save_audio=False (the scores do not need it)."
            ) from error

    def on_stage_start(self, stage, epoch=None):
        """Resets the stage's counts and the per-utterance test scores."""
        self.stage = stage
        self.nonfinite_ids = []
        self.finite_batches = 0
        if stage == sb.Stage.TEST:
            self.test_scores = []

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Anneals the learning rate, logs, checkpoints, writes results."""
        stats = {LOSS: stage_loss}
        if self.nonfinite_ids:
            logger.warning(
                f"{stage.name.lower()}: {len(self.nonfinite_ids)} "
                "utterance(s) with a non-finite loss, left out of the "
                f"average: {_ids(self.nonfinite_ids)}. Check their audio "
                "files."
            )
        if stage == sb.Stage.TRAIN:
            self.random_state.restore_pending()  # resumed after the last step
            self.train_stats = stats
        elif stage == sb.Stage.VALID:
            current_lr, next_lr = self.hparams.lr_scheduler(
                [self.optimizer], epoch, stage_loss
            )
            update_learning_rate(self.optimizer, next_lr)
            if not math.isfinite(stage_loss):  # never the best checkpoint
                stage_loss = math.inf
            self.checkpointer.save_and_keep_only(
                meta={CKPT_KEY: stage_loss}, min_keys=[CKPT_KEY]
            )
            # logged once saved: a run killed before that resumes from the
            # checkpoint before and logs this epoch once, when it is saved
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch": epoch, "lr": current_lr},
                train_stats=self.train_stats,
                valid_stats=stats,
            )
        else:
            if self.real_test:  # "test real-voice si-snr loss" in the log
                stats = {f"{REAL} {LOSS}": stage_loss}
            self.hparams.train_logger.log_stats(
                stats_meta={"Epoch loaded": self.hparams.epoch_counter.current},
                test_stats=stats,
            )
            self.write_results()

    def write_results(self):
        """Writes ``test_results.csv`` (``test_results_real.csv`` for the
        real voices): one row per utterance, then ``avg``."""
        if not if_main_process():
            return
        path, average = write_test_results(
            self.hparams.output_folder,
            self.test_scores,
            REAL_FILE if self.real_test else FILE,
        )
        logger.info(f"Wrote {path}")
        excluded = left_out(self.test_scores)
        if excluded:
            logger.warning(
                f"{len(excluded)} of {len(self.test_scores)} test utterances "
                "have non-finite estimates or references, left out of the "
                f"averages of {path.name}: {_ids(excluded)}. Check their "
                "audio files."
            )
        if self.real_test:
            logger.info(
                f"Real voices ({len(self.test_scores)} test mixtures): mean "
                f"SI-SNRi {average['si-snr_i']:.2f} dB, SDRi "
                f"{average['sdr_i']:.2f} dB"
            )
            return
        for name, value in average.items():
            logger.info(f"Mean {name} is {value:.2f} dB")

    def make_dataloader(
        self, dataset, stage, ckpt_prefix="dataloader-", **loader_kwargs
    ):
        """Adds the epoch-keyed sampler that ``DynamicMixing`` needs."""
        if not isinstance(dataset, DynamicMixing):
            return super().make_dataloader(
                dataset, stage, ckpt_prefix, **loader_kwargs
            )
        sampler = EpochSampler(len(dataset))
        loader_kwargs.update(sampler=sampler, collate_fn=PaddedBatch)
        loader_kwargs.pop("shuffle", None)  # the stream is random already
        loader = super().make_dataloader(
            dataset, stage, ckpt_prefix, **loader_kwargs
        )
        if self.train_sampler is None:  # not DDP: no wrapper to call it
            self.train_sampler = sampler
        return loader


def _peak_normalised_wav(signal: torch.Tensor, sample_rate: int) -> bytes:
    """A signal [T] scaled to a peak of 1, as a 16-bit PCM WAV file (what
    SpeechBrain's ``write_audio`` writes), in memory: writing it to disk
    can then fail only with an ``OSError``."""
    signal = signal.detach().float().cpu()
    signal = signal / signal.abs().max().clamp(min=1e-8)
    wav = io.BytesIO()
    sf.write(wav, signal.numpy(), sample_rate, format="WAV")
    return wav.getvalue()


def _ids(ids: list) -> str:
    """Utterance ids for a message (the first `SHOWN_IDS`)."""
    shown = ", ".join(map(str, ids[:SHOWN_IDS]))
    more = len(ids) - SHOWN_IDS
    return shown + (f" and {more} more" if more > 0 else "")
