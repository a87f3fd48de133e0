"""The machine's cores shared between notebooks that run side by side (`kws demo`).

Each notebook's kernel runs its trainings with the number of torch threads written in a file of
its own, re-read at every optimizer step; the demo rewrites the files as notebooks start and
end, so the cores a finished notebook leaves go to the ones still running.

Why from inside the kernel: ``torch.set_num_threads`` sets the thread count of the thread that
calls it (OpenMP keeps the setting per thread), so only the kernel's own main thread, the one
that trains, can raise it; the parent cannot, and a cell sent to a busy kernel waits until the
running cell ends. `follow_threads_file` is run by the kernel before the notebook's first cell
(`kernel_startup`, passed to `kws.notebooks.execute_notebook`) and registers a global optimizer
pre-step hook: every ``optimizer.step()`` of every training reads the file.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path


def follow_threads_file(path: str) -> None:
    """In a kernel: from now on, before each optimizer step, set torch's thread count to the
    integer in the file `path` (a missing file, or one without a positive integer, changes
    nothing)."""
    import torch
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    def follow(optimizer, args, kwargs):
        try:  # read at every step: tens of microseconds against a step's tens of milliseconds
            text = Path(path).read_text().strip()
        except FileNotFoundError:
            return
        if text.isdigit() and int(text) >= 1 and int(text) != torch.get_num_threads():
            torch.set_num_threads(int(text))

    register_optimizer_step_pre_hook(follow)


def kernel_startup(path: Path) -> str:
    """The line a kernel runs before the first cell so that its trainings follow `path`
    (`follow_threads_file`); it binds no name in the notebook's namespace."""
    return f"__import__('kws.demo.cores', fromlist=['_']).follow_threads_file({str(path)!r})"


def own_threads() -> int | None:
    """The torch threads this process's ``OMP_NUM_THREADS`` asks for, or None when it is unset
    (or not a positive integer). More threads than that would spin idle on cores the caller
    kept for other work (a test worker beside another, a shared machine)."""
    own = os.environ.get("OMP_NUM_THREADS", "")
    return int(own) if own.isdigit() and int(own) > 0 else None


class CoreShares:
    """The cores of this machine shared among the notebooks running at a time: each running
    notebook gets ``cores // running`` torch threads (at least 1; the remainder to the ones
    started first), written to its file in `folder` whenever a notebook starts or ends.

    With 2 cores and three notebooks side by side each has 1 thread; when two have ended the
    last one gets 2, so no core idles while it trains. `most` caps each notebook's threads (the
    demo's own ``OMP_NUM_THREADS`` when that is set, `own_threads`: a caller who gives the demo
    one thread gives each notebook one, as the grader does its children).
    """

    def __init__(self, folder: Path, cores: int | None = None, most: int | None = None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.cores = cores or len(os.sched_getaffinity(0))
        self.most = most or self.cores
        self.running: list[str] = []
        self._lock = threading.Lock()

    def path(self, name: str) -> Path:
        """The threads file of notebook `name`."""
        return self.folder / f"{Path(name).stem}.threads"

    def start(self, name: str) -> Path:
        """`name` starts: the shares are written again; returns its threads file."""
        with self._lock:
            self.running.append(name)
            self._write()
        return self.path(name)

    def end(self, name: str) -> None:
        """`name` has ended: its cores go to the notebooks still running."""
        with self._lock:
            self.running.remove(name)
            self._write()

    def threads(self) -> dict[str, int]:
        """Each running notebook's torch threads, as the files say."""
        share, extra = divmod(self.cores, max(1, len(self.running)))
        return {
            name: max(1, min(self.most, share + (1 if i < extra else 0)))
            for i, name in enumerate(self.running)
        }

    def _write(self) -> None:
        for name, threads in self.threads().items():
            partial = self.path(name).with_suffix(".partial")
            partial.write_text(f"{threads}\n")
            partial.replace(self.path(name))  # a kernel never reads half a number
