"""What `kws demo` shows of its progress: the wall and CPU seconds of each phase, a status line
while notebooks run side by side, and when each notebook ended and was graded."""

from __future__ import annotations

import resource
import threading
import time
from contextlib import contextmanager


def _cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (notebook kernels, the grader)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class PhaseClock:
    """Wall and CPU seconds per phase of the demo, for the closing table: on a busy machine the
    wall time grows, the CPU time does not, so both are shown."""

    def __init__(self):
        self.phases: list[tuple[str, float, float]] = []

    @contextmanager
    def phase(self, name: str):
        wall, cpu = time.monotonic(), _cpu_seconds()
        try:
            yield
        finally:
            self.phases.append((name, time.monotonic() - wall, _cpu_seconds() - cpu))

    def as_dict(self) -> dict[str, dict[str, float]]:
        """The phases as ``{name: {"wall": seconds, "cpu": seconds}}``, rounded to 0.1 s."""
        return {
            name: {"wall": round(wall, 1), "cpu": round(cpu, 1)} for name, wall, cpu in self.phases
        }

    def table(self) -> str:
        width = max(len(name) for name, _, _ in self.phases)
        lines = [
            f"  {name:<{width}}  {wall:6.0f} s wall  {cpu:6.0f} CPU-s"
            for name, wall, cpu in self.phases
        ]
        total_wall = sum(wall for _, wall, _ in self.phases)
        total_cpu = sum(cpu for _, _, cpu in self.phases)
        lines.append(f"  {'total':<{width}}  {total_wall:6.0f} s wall  {total_cpu:6.0f} CPU-s")
        return "\n".join(lines)


class StatusLine:
    """The last line each running notebook printed (a progress bar's latest state), shown every
    `every` seconds while notebooks run side by side and their own output would interleave."""

    def __init__(self, names: list[str], every: float = 20.0):
        self.last = dict.fromkeys(names, "starting")
        self.every, self.started = every, time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def update(self, name: str, text: str) -> None:
        lines = [part.strip() for part in text.replace("\r", "\n").split("\n") if part.strip()]
        if lines:
            self.last[name] = lines[-1]

    def line(self) -> str:
        parts = [f"{name.split('_')[0]}: {text[:70]}" for name, text in self.last.items()]
        return f"  [{time.monotonic() - self.started:5.0f} s] " + " | ".join(parts)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            print(self.line(), flush=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class Timeline:
    """When each notebook ended and was graded, in seconds since the demo started (printed as
    each happens, and kept in timings.json)."""

    def __init__(self):
        self.started, self.events = time.monotonic(), {}
        self._lock = threading.Lock()

    def mark(self, name: str, event: str) -> float:
        """Record `event` ("finished", "graded") of notebook `name` now; returns its time."""
        with self._lock:
            at = round(time.monotonic() - self.started, 1)
            self.events.setdefault(name, {})[event] = at
            return at

    def first_graded(self) -> float | None:
        graded = [events["graded"] for events in self.events.values() if "graded" in events]
        return min(graded) if graded else None
