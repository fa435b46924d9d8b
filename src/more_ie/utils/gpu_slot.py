"""One GPU per job on one machine: claim a free GPU with a file lock, and run the job on it alone.

Snakemake 9 limits how many GPU jobs run at once (``--resources gpu=N`` against the rules'
``resources: gpu=1``) but does not say *which* GPU a job gets: it sets no CUDA_VISIBLE_DEVICES
(snakemake/snakemake#281), so every job would see, and torch would pick, GPU 0. So a GPU command
(:data:`GPU_COMMANDS`, the commands of the rules that declare ``gpu=1``) claims one itself when
the workflow runs it (common.smk's shell prefix exports ``MORE_IE_GPU_SLOT=1``): before any CUDA
call, :func:`claim_for_command` locks the first GPU whose lock file no one holds
(``fcntl.flock``, non-blocking) and sets CUDA_VISIBLE_DEVICES to that GPU alone. The lock lasts
exactly as long as the job's process (and the workers it forks), and the kernel releases it when
they end, killed or not, so no stale lock survives. Any other command can be run the same way::

    python -m more_ie.utils.gpu_slot -- python bench/xlmr_step_bench.py ...

Nothing is claimed, and the command runs as it is, when:

* CUDA_VISIBLE_DEVICES is already set: SLURM sets it to the job's own GPUs, or the user chose;
* the machine has no GPU (no ``nvidia-smi``, or it lists none): CPU runs are untouched.

``MORE_IE_GPUS`` (comma-separated ids: indexes, or GPU/MIG UUIDs) replaces what ``nvidia-smi``
lists, e.g. to keep some GPUs out; ``MORE_IE_GPU_LOCK_DIR`` moves the lock files (default
``/tmp/more_ie-gpu-locks``: one machine's GPUs, one folder). When every GPU is held (more GPU
jobs than GPUs: Snakemake started without ``--resources gpu=N``, or two runs on one machine), the
job waits for one and logs that it does.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Mapping, Sequence

logger = logging.getLogger(__name__)

DEFAULT_LOCK_DIR = "/tmp/more_ie-gpu-locks"
# The commands of the rules that declare resources gpu=1 (tests/test_gpu_slot.py checks the two agree).
GPU_COMMANDS = frozenset(
    {
        "train-expert",
        "clip-encode-kc",
        "image-index",
        "retrieve-image",
        "gate-features",
        "student-teacher",
        "train-student",
    }
)
DEVICE_KEYS = ("device", "faiss_device")  # the settings that choose where a command runs
_HELD: list[int] = []  # the claimed GPU's lock: open for the life of the process


def machine_gpus(env: Mapping[str, str] = os.environ) -> list[str]:
    """This machine's GPU ids: MORE_IE_GPUS if set, else the indexes nvidia-smi lists (none
    without nvidia-smi or a working driver)."""
    if "MORE_IE_GPUS" in env:
        return [g.strip() for g in env["MORE_IE_GPUS"].split(",") if g.strip()]
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run(
            [smi, "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []  # a driver that does not answer: treated as no GPU, the job runs as it is
    return [line.strip() for line in out.splitlines() if line.strip().isdigit()]


def _lock_path(lock_dir: Path, gpu: str) -> Path:
    return lock_dir / f"gpu-{re.sub(r'[^A-Za-z0-9_.-]', '_', gpu)}.lock"


def try_claim(gpus: Sequence[str], lock_dir: Path) -> tuple[str, int] | None:
    """(gpu, locked file descriptor) of the first free GPU, or None when all are held."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    for gpu in gpus:
        fd = os.open(_lock_path(lock_dir, gpu), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        # who holds it, for a person looking at the lock files (the lock itself is the flock)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {time.strftime('%Y-%m-%dT%H:%M:%S')}\n".encode())
        return gpu, fd
    return None


def claim(
    gpus: Sequence[str], lock_dir: Path, poll_s: float = 2.0, timeout_s: float | None = None
) -> tuple[str, int]:
    """Wait until one of ``gpus`` is free and lock it; TimeoutError after ``timeout_s``."""
    start, said = time.monotonic(), False
    while True:
        got = try_claim(gpus, lock_dir)
        if got is not None:
            return got
        if timeout_s is not None and time.monotonic() - start >= timeout_s:
            raise TimeoutError(f"gpu_slot: all {len(gpus)} GPU(s) stayed busy for {timeout_s:.0f} s")
        if not said:
            print(
                f"gpu_slot: all {len(gpus)} GPU(s) are held (lock files in {lock_dir}); waiting for one",
                file=sys.stderr,
                flush=True,
            )
            said = True
        time.sleep(poll_s)


def job_environment(
    env: Mapping[str, str], lock_dir: Path, timeout_s: float | None = None
) -> tuple[dict[str, str], int | None]:
    """The command's environment (with its CUDA_VISIBLE_DEVICES) and the lock it must inherit
    (None: nothing claimed)."""
    out = dict(env)
    if env.get("CUDA_VISIBLE_DEVICES", "") != "":
        return out, None
    gpus = machine_gpus(env)
    if not gpus:
        return out, None
    gpu, fd = claim(gpus, lock_dir, timeout_s=timeout_s)
    out["CUDA_VISIBLE_DEVICES"] = gpu
    print(f"gpu_slot: GPU {gpu} of {len(gpus)} (CUDA_VISIBLE_DEVICES={gpu})", file=sys.stderr, flush=True)
    return out, fd


def requested_devices(args: argparse.Namespace) -> list[str]:
    """The devices a command's settings name (``device``, ``faiss_device``), its --settings JSON
    over its flags; a JSON that does not parse is left to the command to report."""
    values = {key: getattr(args, key) for key in DEVICE_KEYS if isinstance(getattr(args, key, None), str)}
    try:
        given = json.loads(getattr(args, "settings", None) or "{}")
    except json.JSONDecodeError:
        given = {}
    if isinstance(given, dict):
        values.update({key: given[key] for key in DEVICE_KEYS if isinstance(given.get(key), str)})
    return list(values.values())


def claim_for_command(command: str, devices: Sequence[str] = ()) -> str | None:
    """Under the workflow (MORE_IE_GPU_SLOT=1), a GPU command claims one free GPU for the rest of
    the process: CUDA_VISIBLE_DEVICES is set here, before torch or Faiss initialises CUDA. The GPU
    claimed, or None (not a GPU command, not under the workflow, ``devices`` all cpu, a device
    already chosen, no GPU)."""
    if command not in GPU_COMMANDS or os.environ.get("MORE_IE_GPU_SLOT") != "1":
        return None
    if devices and all(device == "cpu" for device in devices):
        return None  # configured to stay on the CPU: it must not wait for, or hold, a GPU
    lock_dir = Path(os.environ.get("MORE_IE_GPU_LOCK_DIR", DEFAULT_LOCK_DIR))
    env, fd = job_environment(os.environ, lock_dir)
    if fd is None:
        return None
    _HELD.append(fd)
    os.environ["CUDA_VISIBLE_DEVICES"] = env["CUDA_VISIBLE_DEVICES"]
    logger.info(
        "%s: GPU %s of this machine, alone (CUDA_VISIBLE_DEVICES)", command, env["CUDA_VISIBLE_DEVICES"]
    )
    return env["CUDA_VISIBLE_DEVICES"]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m more_ie.utils.gpu_slot",
        description="Run a command on one free GPU of this machine (CUDA_VISIBLE_DEVICES), held by a file lock.",
    )
    parser.add_argument(
        "--lock-dir",
        default=os.environ.get("MORE_IE_GPU_LOCK_DIR", DEFAULT_LOCK_DIR),
        help="lock files' folder",
    )
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds to wait for a free GPU (default: no limit)"
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given (-- COMMAND ...)")
    env, fd = job_environment(os.environ, Path(args.lock_dir), args.timeout)
    if fd is not None:
        os.set_inheritable(fd, True)  # the command holds the lock until it ends
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    main()
