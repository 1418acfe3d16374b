"""No exhibit can take the run down, and no number is printed without its warning: sample checks before
the compiled estimators, per-column 'not estimable' reasons, flags on suspicious estimates, crashes of
compiled code contained in a child process, warnings collected. Data built by hand here; the estimates the
flags rest on are recomputed with numpy and linearmodels."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics import guard
from analytics.econometrics.tables import Table
from analytics.exhibits import Exhibit
from analytics.isolation import run_guarded, run_in_child

REPO = Path(__file__).resolve().parent.parent


def singletons(n: int) -> pd.DataFrame:
    """Every row its own fixed-effect group: nothing survives singleton dropping."""
    return pd.DataFrame({"y": np.arange(n, dtype=float), "x": np.arange(n, dtype=float) ** 2, "g": np.arange(n),
                         "h": np.arange(n) % 2})


def panel(seed: int = 0, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    d = pd.DataFrame({"g": rng.integers(0, 20, n), "c": rng.integers(0, 40, n), "z": rng.normal(size=n),
                      "x": rng.normal(size=n)})
    d["d"] = 0.8 * d.z + rng.normal(size=n)
    d["y"] = 1.0 + 0.5 * d.x + 0.3 * d.d + 0.1 * d.g + rng.normal(size=n)
    return d


# ---------------------------------------------------------------- first line: checks before compiled code

def test_empty_sample_is_not_estimable_with_counts():
    s = guard.inspect_sample("y ~ x | g", singletons(3))
    assert (s.rows, s.complete, s.estimation, s.parameters) == (3, 3, 0, 1)
    c = guard.fit_column("y ~ x | g", singletons(3), "robust", context="2005 sample has 3 buyers")
    assert c.fit is None
    assert c.note == ("not estimable: 0 rows after dropping singletons (of 3 with complete data); "
                      "2005 sample has 3 buyers")
    empty = singletons(0)
    assert guard.fit_column("y ~ x | g", empty, "robust").reason == "0 rows with complete data (of 0 rows)"
    nan = singletons(5).assign(y=np.nan)
    assert guard.fit_column("y ~ x", nan, "robust").reason == "0 rows with complete data (of 5 rows)"


def test_too_few_rows_and_clusters():
    d = pd.DataFrame({"y": [1.0, 2.0], "x": [0.0, 1.0], "c": [1, 1]})
    assert guard.fit_column("y ~ x", d, "robust").reason == "2 rows left for 2 parameters"
    # two rows per group survive singleton dropping, but the group means use up every degree of freedom
    pairs = pd.DataFrame({"y": [1.0, 2.0, 4.0, 3.0], "x": [0.0, 1.0, 0.5, 2.0], "g": [1, 1, 2, 2]})
    assert guard.fit_column("y ~ x | g", pairs.iloc[:2], "robust").reason == (
        "no residual degrees of freedom: 2 rows after dropping singletons, 1 parameter and 1 absorbed by the "
        "fixed effects")
    assert guard.fit_column("y ~ x | g", pairs, "robust").fit.df_resid == 1
    d3 = pd.concat([d, d.assign(y=[3.0, 5.0])])
    assert guard.fit_column("y ~ x", d3, {"cluster": "c"}).reason.startswith("1 cluster in the estimation sample")


def test_one_column_failing_leaves_the_others():
    d = panel()
    fits, notes = guard.fit_columns({"ok": ("y ~ x | g", d, "robust"), "empty": ("y ~ x | g", singletons(4), "robust")},
                                    "Table 9", context="ctx")
    assert fits["empty"] is None and fits["ok"] is not None
    assert notes == {"empty": "not estimable: 0 rows after dropping singletons (of 4 with complete data); ctx"}
    # the estimate itself is untouched: OLS with group dummies by numpy
    X = np.column_stack([d.x, pd.get_dummies(d.g).to_numpy(float)])
    assert fits["ok"].coef["x"] == pytest.approx(np.linalg.lstsq(X, d.y, rcond=None)[0][0], rel=1e-8)
    with pytest.raises(guard.NotEstimable, match=r"^Table 4, all 2 columns: 0 rows after dropping singletons"):
        guard.fit_columns({"a": ("y ~ x | g", singletons(3), "robust"), "b": ("y ~ x | g", singletons(3), "robust")},
                          "Table 4")


def test_table_prints_not_estimable_and_footnotes():
    d = panel()
    fits, notes = guard.fit_columns({"ok": ("y ~ x | g", d, "robust"), "empty": ("y ~ x | g", singletons(4), "robust")},
                                    "Table 3")
    t = Table("3", "T", fits, {"x": "x"}, {"G FE": ["g"]}, {"N": "nobs"}, notes="base.", column_notes=notes)
    assert t.header() == ["", "(1) ok", "(2) empty [a]"]
    assert t.body()[0][2] == "not estimable"
    assert "[a] not estimable: 0 rows after dropping singletons" in t.markdown()
    assert "[a] not estimable" in t.html(caption=False) and "<caption>" not in t.html(caption=False)
    tidy = t.tidy()
    row = tidy[tidy.column == "empty"].iloc[0]
    assert row.term == "not estimable" and row.note.startswith("not estimable")


# ---------------------------------------------------------------- flags

def test_constant_dependent_variable_flagged():
    d = panel().assign(y=2.0)
    c = guard.fit_column("y ~ x", d, "robust")
    assert c.fit is not None and any("dependent variable y is constant" in f for f in c.flags)
    t = Table("3", "T", {"c": c.fit}, {"x": "x"})
    assert t.header() == ["", "(1) c [a]"] and t.footnotes() == [f"[a] {'; '.join(c.flags)}"]


def test_huge_standard_error_flagged():
    """y orthogonal to x within groups: a coefficient of rounding-error size, its SE over 1,000 times it
    (numpy OLS on group dummies agrees)."""
    rng = np.random.default_rng(1)
    n = 300
    d = pd.DataFrame({"x": rng.normal(size=n), "g": rng.integers(0, 10, n), "e": rng.normal(size=n)})
    xt = d.x - d.groupby("g").x.transform("mean")
    d["y"] = d.e - xt * (xt @ d.e) / (xt @ xt)
    c = guard.fit_column("y ~ x | g", d, "iid")
    X = np.column_stack([d.x, pd.get_dummies(d.g).to_numpy(float)])
    b, rss = np.linalg.lstsq(X, d.y, rcond=None)[:2]
    se = np.sqrt(rss[0] / (n - X.shape[1]) * np.linalg.inv(X.T @ X)[0, 0])
    assert se > 1000 * abs(b[0]) and c.fit.se["x"] == pytest.approx(se, rel=1e-6)
    assert any(f.startswith("standard error of x is") and f.endswith("over 1,000 times its coefficient")
               for f in c.flags)
    assert not guard.fit_column("y ~ x | g", panel(), "iid").flags  # a well-posed model carries none


def test_weak_first_stage_flagged():
    """An instrument unrelated to the endogenous regressor: first-stage F below 1 (linearmodels agrees)."""
    from linearmodels.iv import IV2SLS

    for seed in range(20):
        rng = np.random.default_rng(seed)
        d = panel(seed).assign(z=rng.normal(size=400))
        ref = IV2SLS.from_formula("y ~ 1 + x + [d ~ z]", d).fit(cov_type="unadjusted")
        f_ref = ref.first_stage.diagnostics["f.stat"]["d"]
        if f_ref < 1:
            break
    c = guard.fit_column("y ~ x | | d ~ z", d, "iid")
    f = c.fit.first_stages["d"].f_excluded
    # linearmodels divides by n, ivreg2 (and feiv) by n − k: 400 rows, 3 first-stage regressors
    assert f == pytest.approx(f_ref * 397 / 400, rel=1e-6) and f < 1
    assert any(x.startswith("first stage of d: F of the excluded instruments") for x in c.flags)
    assert guard.first_stage_flags(c.fit, "d").startswith("first-stage F of d is 0.24")  # tables A6–A8


# ---------------------------------------------------------------- second line: child processes

def table_crash(_):
    os.abort()


def table_warns(_):
    warnings.warn("something to know", stacklevel=1)
    warnings.warn("something to know", stacklevel=1)
    return Exhibit("table_warns", "t")


def table_refuses(_):
    raise guard.NotEstimable("Table X column 1: no rows")


def test_abort_in_child_is_reported():
    ex = run_in_child(table_crash, None)
    assert ex.id == "table_crash" and ex.error.startswith("crashed: signal 6 (SIGABRT)")


def test_hung_child_is_stopped():
    ex = run_in_child(lambda _: __import__("time").sleep(30), None, timeout=1)
    assert ex.error.startswith("stopped: not finished within 1 s")


def table_big(_):  # a result larger than a pipe's buffer, so the parent must read while children run
    return Exhibit("table_big", "t", notes="x" * 3_000_000)


def test_exhibits_two_at_a_time_keep_their_order_and_their_fates():
    from analytics.isolation import run_many

    seen = []
    out = run_many([(table_crash, (None,)), (table_big, (None,)), (table_refuses, (None,)),
                    (lambda _: __import__("time").sleep(30), (None,)), (table_warns, (None,))],
                   jobs=2, timeout=5, on_done=lambda e: seen.append(e.id))
    assert [e.id for e in out] == ["table_crash", "table_big", "table_refuses", "<lambda>", "table_warns"]
    assert out[0].error.startswith("crashed: signal 6") and out[1].error is None and len(out[1].notes) == 3_000_000
    assert out[2].error == "not estimable: Table X column 1: no rows"
    assert out[3].error.startswith("stopped: not finished within 5 s") and out[4].warnings
    assert sorted(seen) == sorted(e.id for e in out) and all(e.seconds > 0 for e in out)


def test_warnings_collected_once_and_reasons_kept():
    ex = run_guarded(table_warns, None)
    assert ex.warnings == ["UserWarning: something to know"]
    assert run_in_child(table_warns, None).warnings == ["UserWarning: something to know"]
    assert run_guarded(table_refuses, None).error == "not estimable: Table X column 1: no rows"


def test_native_panic_on_empty_frame_contained():
    """pyfixest's compiled demeaning aborts the process on an empty frame (exit 134 without protection); in a
    child it is one exhibit's 'crashed: signal 6'. A fresh interpreter, so no thread pool of this one interferes."""
    code = textwrap.dedent("""
        import numpy as np
        from pyfixest.estimation import demean
        from analytics.isolation import fork_is_safe, run_in_child
        def table_empty(_):  # the compiled call itself, past every Python-side check
            demean(np.empty((0, 1)), np.empty((0, 1), np.uint64), np.empty(0))
        assert fork_is_safe()
        print(run_in_child(table_empty, None).error.splitlines()[0])
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                       env=os.environ | {"PYTHONPATH": str(REPO)}, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.startswith("crashed: signal 6 (SIGABRT); last output:")
    assert "panicked" in p.stdout


INTERRUPTED = """
import sys, time, psutil
from analytics.isolation import run_many
def table_slow(_):
    time.sleep(60)
print("running", flush=True)
try:
    run_many([(table_slow, (None,))] * 4, jobs=2)
except KeyboardInterrupt:
    time.sleep(0.5)
    print("interrupted; children left:", len(psutil.Process().children(recursive=True)), flush=True)
    sys.exit(130)
print("finished", flush=True)
"""


def test_ctrl_c_stops_the_exhibits_and_reaches_the_caller():
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) while exhibits run two at a time:
    the caller gets KeyboardInterrupt (the run stops with 130), and no exhibit child is left."""
    import signal
    import subprocess
    import sys
    import time

    p = subprocess.Popen([sys.executable, "-c", INTERRUPTED], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    assert p.stdout.readline().strip() == "running"
    time.sleep(2.0)  # both children forked and sleeping
    os.killpg(p.pid, signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, (out, err)
    assert "interrupted; children left: 0" in out


def test_table_a4_links_left_out_are_counted_by_reason_without_numpy_warnings():
    """Table A4 column 7 takes logs of seller sales per employee and of distance: links where a log is not
    defined are left out, each counted once by its first reason, and no RuntimeWarning reaches the report."""
    from analytics.regressions import _a4_links

    sales = np.array([100.0, 0.0, np.nan, 50.0, 80.0, 60.0, 90.0])
    employees = np.array([10.0, 5.0, 4.0, 0.0, 8.0, 6.0, 3.0])
    dist = np.array([12.0, 0.0, 3.0, 7.0, 0.0, np.nan, 40.0])
    rest = pd.DataFrame({"parent_child": 0.0, "buyer": ["b1", "b1", "b2", "b2", "b3", "b3", None],
                         "s_ind4": "0911", "s_pref": 13.0})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        e, note = _a4_links(sales, employees, dist, rest)
    assert e.index.tolist() == [0]
    assert e.y.tolist() == pytest.approx([np.log(10.0)]) and e.ln_dist.tolist() == pytest.approx([np.log(12.0)])
    # row 1: sales 0 (also distance 0: the first reason counts); 2: sales missing; 3: employees 0;
    # 4 and 5: distance 0 and missing; 6: buyer missing
    assert note == ("; 6 of 7 links left out (2 seller sales missing or not positive; 1 seller employees missing "
                    "or zero; 2 distance missing or zero (no coordinates, or seller and buyer at the same point); "
                    "1 buyer, seller industry or seller prefecture missing)")
    assert _a4_links(sales[:1], employees[:1], dist[:1], rest[:1])[1] == ""


def test_table_5_warnings_name_their_column():
    """Table 5's fast path (one absorbed design per FE set) names the column of each warning, as the guarded
    per-column path does: with 10 buyers, every column warns about its 10 clusters."""
    from analytics.regressions import table_5_fits, table_5_specs

    rng = np.random.default_rng(3)
    n_b, n_s = 10, 40
    d = pd.DataFrame({"buyer": np.repeat(np.arange(n_b), n_s), "sector_r": np.tile(np.arange(n_s), n_b)})
    d["y"] = (rng.random(len(d)) < 0.3).astype(float)
    for th in ("theta_cp", "theta_firm"):
        for suffix in ("", "_rho", "_air"):
            d[f"lnd_{th}{suffix}"] = rng.normal(size=len(d))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fits = table_5_fits(d)
    messages = [str(w.message) for w in caught if "clusters" in str(w.message)]
    assert len(fits) == len(table_5_specs()) == 12
    assert sorted({m.split(":")[0] for m in messages}, key=lambda m: int(m.rsplit(" ", 1)[1])) == [
        f"Table 5 column {i}" for i in range(1, 13)]
    assert all("only 10 clusters" in m for m in messages)
