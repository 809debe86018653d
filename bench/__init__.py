"""Benchmarks of the lobes against upstream SpeechBrain.

Run from the checkout root, as ``python -m bench.<module>``:

- `bench.suite`: the benchmark suite, parameters, MACs, time and peak
  memory of every lobe and of upstream SpeechBrain's models, against the
  input length (``python -m bench.suite``, ``make bench``).
- `bench.quality`: separation quality at equal training budget.
- `bench.separate_long`: time and memory of separating one long recording
  as ``python -m lobes.separate`` does.
- `bench.flashformer_cpu`: FlashFormer against RE-SepFormer on the CPU,
  length by length: time per MAC, growth, wall and CPU seconds.
- `bench.gpu`: the GPU report in one command (``make gpu-report`` on the
  borrowed GPU machine): correctness, attention kernels, training and
  inference on CUDA, within a time budget.

Their shared pieces:

- `bench.machine`: the machine description, memory readings, threads.
- `bench.timing`: timing calls (wall clock, CUDA events).
- `bench.peak`: the machine's matrix-product peak per precision.
- `bench.points`: the fresh-process protocol, one measurement per process.
- `bench.tables`: Markdown tables, CSV files, the results folder.
"""
