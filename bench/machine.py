"""The machine the benchmarks run on: its description, memory readings of
this process and of the machine, and the thread count of a measurement."""

import datetime
import os
import platform
import re
import resource
import subprocess

GB = 1e9


def set_threads(threads: int) -> None:
    """Pins torch's intra-op pool (call first thing in a point process)."""
    import torch

    torch.set_num_threads(threads)


def thread_env(threads: int) -> dict[str, str]:
    """Environment for a child process limited to ``threads`` threads."""
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    return env


def _status_kib(field: str) -> int | None:
    """A ``kB`` field of /proc/self/status in bytes (None off Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def peak_rss() -> int:
    """Peak resident set size of this process so far, in bytes.

    Reads VmHWM (Linux), the high-water mark of this process's own memory
    map: ``ru_maxrss`` survives exec, so a child spawned by a big parent
    would report the parent's peak. Falls back to ``ru_maxrss`` elsewhere.
    """
    value = _status_kib("VmHWM")
    if value is not None:
        return value
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def current_rss() -> int:
    """Resident set size of this process now, in bytes (VmRSS; 0 if
    unknown)."""
    return _status_kib("VmRSS") or 0


def physical_memory() -> int:
    """Total physical memory in bytes (0 if unknown)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def available_memory() -> int:
    """Memory the kernel can give a new process now, in bytes.

    Reads ``MemAvailable`` of /proc/meminfo (Linux); elsewhere the total
    physical memory, or 0 if even that is unknown.
    """
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return physical_memory()


def machine_info() -> dict[str, str]:
    """What the numbers were measured on (the host; a GPU is described by
    the process that uses it, so that this one holds no CUDA context).

    Returns
    -------
    dict
        CPU model, logical and usable cores, RAM, OS, Python, torch and
        speechbrain versions, date (UTC).
    """
    import speechbrain
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [ln for ln in f if ln.startswith("model name")]
        if names:
            cpu = names[0].split(":", 1)[1].strip()
    except OSError:
        pass
    usable = (
        len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count()
    )
    return {
        "cpu": cpu,
        "cores": f"{os.cpu_count()} logical, {usable} usable",
        "ram": f"{physical_memory() / GB:.1f} GB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "speechbrain": speechbrain.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC"
        ),
    }


def nvidia_driver() -> str:
    """The NVIDIA driver's version (nvidia-smi, else /proc/driver/nvidia;
    ``unknown`` when neither answers)."""
    try:
        out = subprocess.run(
            [
                "nvidia-smi",
                "--query-gpu=driver_version",
                "--format=csv,noheader",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.split()
        if out:
            return out[0]
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        with open("/proc/driver/nvidia/version") as f:
            found = re.search(
                r"Kernel Module\s+(?:for \S+\s+)?([\d.]+)", f.read()
            )
        if found:
            return found.group(1)
    except OSError:
        pass
    return "unknown"


def gpu_info(device: int = 0) -> str:
    """One line on a CUDA GPU: its name, memory, compute capability, the
    driver, and the CUDA and cuDNN versions torch runs with.

    Arguments
    ---------
    device : int
        The CUDA device index.

    Returns
    -------
    str
        E.g. ``NVIDIA H200, 150.0 GB, sm 9.0, driver 570.124.06, CUDA
        12.8, cuDNN 91002``.
    """
    import torch

    props = torch.cuda.get_device_properties(device)
    return (
        f"{props.name}, {props.total_memory / GB:.1f} GB, sm "
        f"{props.major}.{props.minor}, driver {nvidia_driver()}, CUDA "
        f"{torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}"
    )
