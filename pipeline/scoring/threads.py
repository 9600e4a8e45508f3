"""How many CPU threads the forward and backward passes use.

One owner for the thread policy of PyTorch (scoring and training) and ONNX Runtime sessions.
"""

from __future__ import annotations

import os


def available_cores() -> int:
    """Cores this process may run on (``os.sched_getaffinity``; CPU quotas of containers that
    pin cores are honoured, ``os.cpu_count`` is only the fallback where affinity is unknown)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def configure_cpu_threads() -> int:
    """Give torch one intra-op thread per available core; return the thread count.

    Also sets ``TOKENIZERS_PARALLELISM=false`` unless the user chose otherwise: a chunk is
    tokenized before its forward passes, which already use every core, and the Rust thread pool
    of a tokenizer that was used before a ``fork`` (Airflow's task runner, multiprocessing)
    deadlocks or warns in the child.
    """
    import torch

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    torch.set_num_threads(available_cores())
    return torch.get_num_threads()
