"""The GPU report in one command: correctness, attention kernels, inference
and training of every lobe on a CUDA GPU, within a time budget.

The GPU machine this project borrows is bare and offline: Python 3.12 with
torch, torchaudio, triton and numpy (and torch's own dependencies), no
SpeechBrain, a few minutes at a time through a tool that runs one shell
command in a copy of the working tree. So, here (with PyPI)::

    make gpu-wheels        # .whl/: the wheels the report needs (37 MiB)
    make gpu-check         # optional: the same wheels, this Python, in an
                           # interpreter that sees only torch: smoke run

then on the GPU machine, with ``.whl`` carried along (``carry=[".whl"]``)::

    make gpu-report        # or the command line it runs, where make is
                           # missing (README.md, "GPU report")

It unpacks the wheels into ``.gpu-site`` (`bench.gpu.install`, no pip
needed) and runs ``python3 -m bench.gpu`` with ``PYTHONPATH=.:.gpu-site``.
The run (`bench.gpu.cli`) has four sections, in this order:

1. correctness (`bench.gpu.correctness`): each lobe's CUDA fp32 output
   against CPU fp32, bf16 autocast against fp32 (SI-SNR), causal streaming
   against the offline causal forward;
2. kernels (`bench.gpu.kernels`): which SDPA kernels run the lobes'
   attention shapes, in fp32 and bf16, and which one ``auto`` picks;
3. training (`bench.gpu.training`): steps per second and peak memory of a
   training step (SI-SNR PIT loss, Adam), batch 1 and 8, fp32 and bf16;
4. inference (`bench.gpu.inference`): the benchmark suite's points
   (`bench.suite`) in this process, fp32 and bf16, up to an hour of audio;

each within its share of ``--budget`` seconds (`bench.gpu.budget`, points
run by `bench.gpu.runner`), then the report (`bench.gpu.report`), with the
issue's goals marked PASS or MISS (`bench.gpu.goals`), and the short table
printed last. Results go to ``bench/results/`` and to ``$OUT`` when set
(the device tool returns ``$OUT``); ``--smoke`` runs tiny models on short
inputs, on the CPU too, into ``--out`` only.

The modules:

- `bench.gpu.wheels`: the wheel list (pinned by constraints.txt), ``.whl/``.
- `bench.gpu.install`: unpacks ``.whl/`` into ``.gpu-site`` (stdlib only).
- `bench.gpu.isolation`: the wheels tried here in an interpreter that sees
  only torch and its dependencies (``make gpu-check``).
- `bench.gpu.budget`: the time budget: section deadlines, estimates.
- `bench.gpu.runner`: one section's points run (or skipped) in turn.
- `bench.gpu.correctness`, `bench.gpu.kernels`, `bench.gpu.training`,
  `bench.gpu.inference`: the four sections.
- `bench.gpu.goals`: the issue's goals, PASS or MISS.
- `bench.gpu.report`: gpu_report.md, the CSVs, the summary table.
- `bench.gpu.cli`: ``python -m bench.gpu``.

This package's own ``__init__`` imports nothing: `bench.gpu.install` runs
before the wheels are in place.
"""
