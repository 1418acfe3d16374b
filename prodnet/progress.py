"""Progress display for long work: a rich status line per step with elapsed time and peak memory."""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

console = Console(stderr=True)


def peak_rss_gib() -> float:
    """Peak resident memory of this process or of the largest child it waited for (exhibits run in
    forked children), GiB."""
    kib = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return kib / 1024**2 if sys.platform != "darwin" else kib / 1024**3


class Steps:
    """Callable progress reporter: ``steps("loading")`` closes the previous step and opens a new one.

    Records each step's wall time in ``timings`` (seconds)."""

    def __init__(self, title: str, quiet: bool = False) -> None:
        self.title, self.quiet = title, quiet
        self.timings: dict[str, float] = {}
        self._current: str | None = None
        self._t0 = self._start = time.perf_counter()
        self._status = None if quiet else console.status(f"[bold]{title}[/]")
        if self._status:
            self._status.start()

    def __call__(self, name: str) -> None:
        self._close()
        self._current, self._t0 = name, time.perf_counter()
        if self._status:
            self._status.update(f"[bold]{self.title}[/]: {name} …")

    def record(self, name: str, seconds: float) -> None:
        """A piece of work that ran beside the current step (e.g. an exhibit in a parallel child)."""
        self.timings[name] = seconds
        if not self.quiet:
            console.print(f"  {name}: {seconds:.1f} s (peak RSS {peak_rss_gib():.2f} GiB)")

    def _close(self) -> None:
        if self._current is None:
            return
        dt = time.perf_counter() - self._t0
        self.timings[self._current] = dt
        if not self.quiet:
            console.print(f"  {self._current}: {dt:.1f} s (peak RSS {peak_rss_gib():.2f} GiB)")
        self._current = None

    def done(self) -> dict[str, float]:
        self._close()
        if self._status:
            self._status.stop()
        self.timings["total"] = time.perf_counter() - self._start
        return self.timings


@contextmanager
def steps(title: str, quiet: bool = False) -> Iterator[Steps]:
    s = Steps(title, quiet)
    try:
        yield s
    finally:
        s.done()
