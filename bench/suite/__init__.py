"""The benchmark suite: efficiency of every lobe against upstream SpeechBrain.

In one run on one machine, for our three masknets and four upstream
SpeechBrain models (the set of the RE-SepFormer paper's Table 3 and
Fig. 3), it measures

- parameters and GMACs per second of 8 kHz audio
  (``torch.utils.flop_counter.FlopCounterMode`` through
  `lobes.attention.count_macs`, counted on the meta device on 1 s and
  16 s of audio), once per model;
- inference time at 1, 4, 16, 64 and 256 s of audio: the median of
  ``--repeats`` calls after one warm-up call, batch 1, no grad,
  ``--threads`` threads (CPU: wall clock; CUDA: CUDA events), in
  ``--precision`` fp32, bf16 or fp16 (autocast, as ``lobes.separate
  --precision``), and with ``--runtime onnx`` our lobes under ONNX
  Runtime (`bench.suite.onnx`);
- peak memory at the same lengths, each point in a fresh process
  (CPU: the peak RSS, VmHWM; CUDA: ``torch.cuda.max_memory_allocated``);

- the machine's fp32 and bf16 matrix-product peaks (`bench.peak`), and
  each point's share of the peak of its precision;

and gives every time and memory as a ratio against upstream SepFormer,
SepFormer-Light, RE-SepFormer and SkiM at the same length in the same
run, plus the growth t(64 s) / t(16 s) (4 for a model linear in the
length).

What runs is the whole separator, `lobes.model.EncoderMaskerDecoder
.separate`: SpeechBrain's dual-path ``Encoder`` (kernel 16, stride 8), the
masknet, the masks applied (in place) and the ``Decoder`` once per
speaker, on white noise (time does not depend on the signal). MACs count
the same computation.

Models (``--models``; default: all; the first four are the model
registry's, `hparams.MODELS`)::

    resepformer     ours, hparams/resepformer.yaml (paper config)
    latent_xattn    ours, hparams/latent_xattn.yaml
    fsmn_flash      ours, hparams/fsmn_flash.yaml
    sepformer       SpeechBrain Dual_Path_Model, hparams/sepformer.yaml
    sepformer-light the same with N=128, d_ffn 512 (paper's 6.4 M)
    sb-resepformer  SpeechBrain ResourceEfficientSeparator as its
                    recipes/WSJ0Mix/separation/hparams/resepformer.yaml
    sb-skim         SpeechBrain SkiM (SegLSTM/MemLSTM) as its
                    recipes/WSJ0Mix/separation/hparams/skim.yaml

Usage, from the checkout root::

    make bench                         # the full suite
    make bench ARGS="--quick"          # 1 and 4 s only
    python -m bench.suite --device cuda          # GPU, bf16 autocast
    python -m bench.suite --precision bf16       # CPU, bf16 autocast
    python -m bench.suite --runtime onnx         # ours in ONNX Runtime
    python -m bench.suite --combine A.csv B.csv C.csv  # one table of runs
    python -m bench.suite --models resepformer sb-resepformer --lengths 16 64
    python -m bench.suite --models resepformer --lengths 3600 \\
        --repeats 1 --warmup-seconds 4           # one hour in one call
    python -m bench.suite --quick --profile      # + a torch.profiler table
                                                 # per point (results/raw/)

Outputs, in ``--out`` (default bench/results/), named ``suite`` for the
full default run, ``suite_quick`` for ``--quick``, ``suite_custom`` when
``--models`` or ``--lengths`` select a subset, with ``_cuda`` added on
the GPU, ``_PRECISION`` for a precision other than the device's default
(fp32 on the CPU, bf16 on CUDA) and ``_onnx`` for ``--runtime onnx``
(``--name`` sets the name): ``NAME.csv`` (one row per model and
length), ``NAME.md`` (the tables, with the machine and the command),
``fig3_time[_SUFFIX].png`` and ``fig3_memory[_SUFFIX].png`` (time and
memory against input length, log axes, one line per model, as the
paper's Fig. 3; without matplotlib, none: ``python -m bench.suite
--figures NAME.csv`` draws them later from the CSV). ``--combine``
writes ``suite_precisions.{md,csv}`` (`bench.suite.combine`).

A point that would not fit is skipped and recorded as such, and so is a
point that fails (`bench.suite.plan`).

On a machine shared with other busy processes, OpenMP's spin-waiting
makes every multi-threaded op wait for descheduled threads: measure on a
quiet machine, or with OMP_WAIT_POLICY=PASSIVE (recorded in the report).

The modules:

- `bench.suite.models`: the benchmarked models (`MODELS`).
- `bench.suite.measure`: the child side, one point per process.
- `bench.suite.plan`: the parent side: what to run, the rows, ratios.
- `bench.suite.skips`: the points that would not fit.
- `bench.suite.onnx`: the ONNX Runtime points (``--runtime onnx``).
- `bench.suite.report`: the CSV and the Markdown report.
- `bench.suite.figures`: the figures.
- `bench.suite.combine`: one table of several runs (``--combine``).
- `bench.suite.cli`: the command line (``python -m bench.suite``).
"""
