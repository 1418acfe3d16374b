"""Run one exhibit so that nothing it does can stop the others.

Two lines of defence: in the exhibit itself, an exception becomes the exhibit's reason (``not estimable``
for a sample that cannot be estimated, ``failed`` with a short traceback for a bug) and every warning is
kept for the report; around it, the exhibit runs in a forked child process (copy-on-write: the study is
shared, not copied), so that even an abort in compiled code (a Rust panic, a segfault) ends only the child
and is reported as ``crashed: signal N`` with the child's last lines of standard error."""

from __future__ import annotations

import os
import pickle
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable

from analytics.exhibits import Exhibit
from analytics.guard import NotEstimable

FORK_AVAILABLE = hasattr(os, "fork")


def exhibit_name(fn: Callable) -> str:
    """The exhibit id a producing function stands for (``table_a5`` → ``table_A5``)."""
    name = fn.__name__.replace("figure_a", "figure_A").replace("table_a", "table_A")
    return "table_W1" if name == "wage_inequality_table" else name


def run_guarded(fn: Callable, *args) -> Exhibit:
    """``fn(*args)`` with its warnings collected; an exception becomes the exhibit's error text."""
    name = exhibit_name(fn)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ex = fn(*args)
        except NotEstimable as e:
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


def run_in_child(fn: Callable, *args) -> Exhibit:
    """``run_guarded(fn, *args)`` in a forked child; a child that dies gives an exhibit whose error says how."""
    sys.stdout.flush()
    sys.stderr.flush()
    r, w = os.pipe()
    with tempfile.TemporaryFile() as err:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child exits inside _child
            os.close(r)
            _child(fn, args, w, err.fileno())
        os.close(w)
        with os.fdopen(r, "rb") as rf:
            payload = rf.read()
        _, status = os.waitpid(pid, 0)
        err.seek(0)
        tail = err.read().decode(errors="replace").strip().splitlines()[-6:]
    if payload and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return pickle.loads(payload)
    name = exhibit_name(fn)
    how = (f"crashed: signal {os.WTERMSIG(status)} ({_signal_name(os.WTERMSIG(status))})" if os.WIFSIGNALED(status)
           else f"crashed: exit status {os.WEXITSTATUS(status)}")
    return Exhibit(name, name.replace("_", " "), error=how + ("; last output: " + " | ".join(tail) if tail else ""))


def run_exhibit(fn: Callable, *args, isolate: bool = True) -> Exhibit:
    """Run one exhibit guarded (in a child process when ``isolate`` and fork is available), timed."""
    t = time.perf_counter()
    ex = run_in_child(fn, *args) if isolate and FORK_AVAILABLE else run_guarded(fn, *args)
    ex.seconds = time.perf_counter() - t
    return ex
