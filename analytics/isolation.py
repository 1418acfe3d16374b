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

import faulthandler
import os
import pickle
import select
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable

from analytics.econometrics.result import EstimationError
from analytics.exhibits import Exhibit
from analytics.guard import NotEstimable

FORK_AVAILABLE = hasattr(os, "fork")
EXHIBIT_TIMEOUT = 3600.0  # seconds one exhibit may take in a child before it is stopped
CANARY_TIMEOUT = 30.0


def exhibit_name(fn: Callable) -> str:
    """The exhibit id a producing function stands for (``table_a5`` → ``table_A5``)."""
    name = fn.__name__.replace("figure_a", "figure_A").replace("table_a", "table_A").replace("table_r", "table_R")
    return "table_W1" if name == "wage_inequality_table" else name


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


def _read_until(fd: int, deadline: float) -> tuple[bytes, bool]:
    """Everything written to pipe ``fd`` until its writer closes it; False as second value on timeout."""
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return b"".join(chunks), False
        b = os.read(fd, 1 << 20)
        if not b:
            return b"".join(chunks), True
        chunks.append(b)


def run_in_child(fn: Callable, *args, timeout: float = EXHIBIT_TIMEOUT) -> Exhibit:
    """``run_guarded(fn, *args)`` in a forked child; a child that dies, or is stopped after ``timeout``
    seconds, gives an exhibit whose error says how."""
    sys.stdout.flush()
    sys.stderr.flush()
    r, w = os.pipe()
    with tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child exits inside _child
            os.close(r)
            _child(fn, args, w, err.fileno())
        os.close(w)
        try:
            payload, finished = _read_until(r, time.monotonic() + timeout)
        finally:
            os.close(r)
        if not finished:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        err.seek(0)
        tail = err.read().decode(errors="replace").strip().splitlines()[-6:]
    if finished and payload and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return pickle.loads(payload)
    name = exhibit_name(fn)
    if not finished:
        how = f"stopped: not finished within {timeout:,.0f} s"
    elif os.WIFSIGNALED(status):
        how = f"crashed: signal {os.WTERMSIG(status)} ({_signal_name(os.WTERMSIG(status))})"
    else:
        how = f"crashed: exit status {os.WEXITSTATUS(status)}"
    return Exhibit(name, name.replace("_", " "), error=how + ("; last output: " + " | ".join(tail) if tail else ""))


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
