"""Run one exhibit so that nothing it does can stop the others.

Two lines of defence: in the exhibit itself, an exception becomes the exhibit's reason (``not estimable``
for a sample that cannot be estimated, ``failed`` with a short traceback for a bug) and every warning is
kept for the report; around it, the exhibit runs in a forked child process (copy-on-write: the study is
shared, not copied), so that even an abort in compiled code (a Rust panic, a segfault) ends only the child
and is reported as ``crashed: signal N`` with the child's last lines of standard error.

A forked child inherits memory but not threads: a thread pool a compiled library started in the parent
(pyfixest's Rust demeaning does) would leave the child waiting forever. ``fork_is_safe`` checks that once
per run by demeaning a tiny array in a child under a timeout; when it fails, exhibits run in-process (the
first line of defence only) and the run says so. Every child also has a time limit."""

from __future__ import annotations

import ctypes
import faulthandler
import gc
import os
import pickle
import re
import select
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable

import pyarrow as pa

from analytics.econometrics.result import EstimationError
from analytics.exhibits import Exhibit
from analytics.guard import NotEstimable

FORK_AVAILABLE = hasattr(os, "fork")
EXHIBIT_TIMEOUT = 3600.0  # seconds one exhibit may take in a child before it is stopped
CANARY_TIMEOUT = 30.0


def exhibit_name(fn: Callable) -> str:
    """The exhibit id a producing function stands for (``table_a5`` → ``table_A5``)."""
    if fn.__name__ == "wage_inequality_table":
        return "table_W1"
    return re.sub(r"^(table|figure)_([a-z])(\d+)$", lambda m: f"{m[1]}_{m[2].upper()}{m[3]}", fn.__name__)


def run_guarded(fn: Callable, *args) -> Exhibit:
    """``fn(*args)`` with its warnings collected; an exception becomes the exhibit's error text."""
    name = exhibit_name(fn)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ex = fn(*args)
        except (NotEstimable, EstimationError) as e:
            ex = Exhibit(name, name.replace("_", " "), error=f"not estimable: {e}")
        except Exception as e:  # noqa: BLE001 - a failing exhibit must not stop the others
            ex = Exhibit(name, name.replace("_", " "),
                         error=f"failed: {type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}")
    seen = list(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))
    ex.warnings = [*ex.warnings, *seen]
    return ex


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return "unknown"


def _child(fn: Callable, args: tuple, wfd: int, errfd: int) -> None:
    """In the forked child: run the exhibit, send the pickled result, exit without running parent cleanup."""
    code = 0
    try:
        os.dup2(errfd, 2)
        faulthandler.disable()  # its dump would go to the parent's terminal and hide the cause in our capture
        ex = run_guarded(fn, *args)
        try:
            payload = pickle.dumps(ex, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as e:  # noqa: BLE001 - an unpicklable result is reported, not lost
            payload = pickle.dumps(Exhibit(ex.id, ex.title, error=f"failed: result not transferable: {e}"))
        with os.fdopen(wfd, "wb") as w:
            w.write(payload)
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
        code = 70
    finally:
        os._exit(code)


class _Child:
    """One exhibit running in a forked child: its pid, the pipe its pickled result comes through, the file
    that captures its standard error, and its deadline."""

    def __init__(self, fn: Callable, args: tuple, timeout: float, started: Callable[[_Child], None]):
        sys.stdout.flush()
        sys.stderr.flush()
        self.name, self.t0 = exhibit_name(fn), time.perf_counter()
        self.deadline = time.monotonic() + timeout
        self.timeout, self.chunks = timeout, []
        self.err = tempfile.TemporaryFile()
        r, w = os.pipe()
        # Ctrl-C is held back across the fork: delivered inside it, it would be swallowed by an at-fork hook
        # (logging's) and the run would go on; the child ignores it (the parent stops its children)
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child exits inside _child
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
                os.close(r)
                _child(fn, args, w, self.err.fileno())
            os.close(w)
            self.pid, self.fd = pid, r
            started(self)  # known to the caller before an interrupt can arrive
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    def kill(self) -> None:
        """Stop and reap the child (the run was interrupted)."""
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(self.fd)
        self.err.close()

    def read(self) -> bool:
        """Read what is available; True once the child closed its end."""
        b = os.read(self.fd, 1 << 20)
        if b:
            self.chunks.append(b)
        return not b

    def finish(self, finished: bool) -> Exhibit:
        """Reap the child (killed first if not ``finished``) and turn what it sent, or how it died, into the
        exhibit."""
        os.close(self.fd)
        if not finished:
            os.kill(self.pid, signal.SIGKILL)
        _, status = os.waitpid(self.pid, 0)
        self.err.seek(0)
        tail = self.err.read().decode(errors="replace").strip().splitlines()[-6:]
        self.err.close()
        payload = b"".join(self.chunks)
        if finished and payload and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            ex = pickle.loads(payload)
        else:
            if not finished:
                how = f"stopped: not finished within {self.timeout:,.0f} s"
            elif os.WIFSIGNALED(status):
                how = f"crashed: signal {os.WTERMSIG(status)} ({_signal_name(os.WTERMSIG(status))})"
            else:
                how = f"crashed: exit status {os.WEXITSTATUS(status)}"
            ex = Exhibit(self.name, self.name.replace("_", " "),
                         error=how + ("; last output: " + " | ".join(tail) if tail else ""))
        ex.seconds = time.perf_counter() - self.t0
        return ex


def run_in_child(fn: Callable, *args, timeout: float = EXHIBIT_TIMEOUT) -> Exhibit:
    """``run_guarded(fn, *args)`` in a forked child; a child that dies, or is stopped after ``timeout``
    seconds, gives an exhibit whose error says how."""
    return run_many([(fn, args)], jobs=1, timeout=timeout)[0]


def run_many(tasks: list[tuple[Callable, tuple]], jobs: int = 1, timeout: float = EXHIBIT_TIMEOUT,
             on_done: Callable[[Exhibit], None] | None = None) -> list[Exhibit]:
    """Each ``(fn, args)`` in its own forked child, at most ``jobs`` at a time, in the order given (put the
    long ones first); the exhibits in that order. ``on_done`` is called as each one finishes."""
    out: dict[int, Exhibit] = {}
    running: dict[int, tuple[int, _Child]] = {}
    todo = list(enumerate(tasks))
    try:
        _run_all_children(todo, running, out, jobs, timeout, on_done)
    except BaseException:  # an interrupt (Ctrl-C) or an error here: no child may outlive the run
        for _, c in running.values():
            c.kill()
        raise
    return [out[i] for i in range(len(tasks))]


def _run_all_children(todo: list, running: dict, out: dict, jobs: int, timeout: float, on_done) -> None:
    while todo or running:
        while todo and len(running) < max(jobs, 1):
            i, (fn, args) = todo.pop(0)
            _Child(fn, args, timeout, lambda c, i=i: running.__setitem__(c.fd, (i, c)))
        wait = max(0.0, min(c.deadline for _, c in running.values()) - time.monotonic())
        ready = select.select(list(running), [], [], wait)[0]
        for fd in ready:
            i, c = running[fd]
            if c.read():
                del running[fd]
                out[i] = c.finish(True)
                if on_done:
                    on_done(out[i])
        for fd, (i, c) in list(running.items()):
            if time.monotonic() >= c.deadline:
                del running[fd]
                out[i] = c.finish(False)
                if on_done:
                    on_done(out[i])


def _canary() -> Exhibit:
    """A small fixed-effect demeaning through the compiled, multi-threaded code the estimators use."""
    import numpy as np
    import pandas as pd

    from analytics.econometrics.fixed_effects import absorb, demean

    x = np.arange(4_000.0).reshape(-1, 4) % 7
    out = demean(x, absorb(pd.DataFrame({"g": np.arange(1_000) % 10}), ["g"], None))
    return Exhibit("canary", "fork check", notes=f"{float(np.abs(out).sum()):.1f}")


def fork_is_safe(timeout: float = CANARY_TIMEOUT) -> bool:
    """Whether a forked child of this process can run the compiled estimators (see the module docstring).
    Imports them first, so that children share the loaded modules instead of each importing them again."""
    import pyfixest.estimation  # noqa: F401

    return FORK_AVAILABLE and run_in_child(_canary, timeout=timeout).error is None


def run_exhibit(fn: Callable, *args, isolate: bool = True, timeout: float = EXHIBIT_TIMEOUT) -> Exhibit:
    """Run one exhibit guarded (in a child process when ``isolate`` and fork is available), timed."""
    t = time.perf_counter()
    ex = run_in_child(fn, *args, timeout=timeout) if isolate and FORK_AVAILABLE else run_guarded(fn, *args)
    ex.seconds = time.perf_counter() - t
    return ex


def release_free_memory() -> None:
    """Give memory freed in this process back to the system before forking: every forked child starts
    with the parent's resident pages, so freed-but-kept heap and Arrow pool pages would count in each
    child's RSS. ``malloc_trim`` is glibc's; elsewhere only the collections and the Arrow pool."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def run_exhibits(tasks: list[tuple[Callable, tuple]], isolate: bool = True, jobs: int = 1,
                 timeout: float = EXHIBIT_TIMEOUT, on_start: Callable[[str], None] | None = None,
                 on_done: Callable[[Exhibit], None] | None = None) -> list[Exhibit]:
    """Several exhibits guarded: in forked children, ``jobs`` at a time, when ``isolate`` (and fork is
    available); else one after the other in this process."""
    if isolate and FORK_AVAILABLE:
        release_free_memory()
        return run_many(tasks, jobs, timeout, on_done)
    out = []
    for fn, args in tasks:
        if on_start:
            on_start(exhibit_name(fn))
        out.append(run_exhibit(fn, *args, isolate=False))
        if on_done:
            on_done(out[-1])
    return out
