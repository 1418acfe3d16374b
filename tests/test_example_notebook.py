"""examples/quickstart.ipynb runs top to bottom in a Jupyter kernel of this interpreter, and the numbers it
shows are the ones the API gives here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"


def test_quickstart_notebook_executes(small_root, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    from jupyter_client.kernelspec import KernelSpecManager

    assert "python3" in KernelSpecManager().find_kernel_specs()  # ipykernel's own spec, in this environment
    monkeypatch.setenv("PRODNET_EXAMPLE_ROOT", str(small_root))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, kernel_name="python3", timeout=600,
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    kinds = {k for o in outputs for k in o.get("data", {})}
    assert {"image/png", "text/markdown", "text/html"} <= kinds  # ego network, Table 7, DataFrames
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    m = re.search(r"clustered D (\S+) (\S+) nobs (\d+)", printed)
    assert m, printed

    from analytics.econometrics.iv import feiv
    from prodnet import open as open_root

    with open_root(small_root, work=small_root / ".prodnet", quiet=True) as net:
        fe = "in_ind + b_ind + src_pref + b_pref"
        ref = feiv(f"y ~ rel_sales + log_sales | {fe} | D + D_sales ~ shock + Z_sales", net.sample("table_7"),
                   vcov={"cluster": "buyer_id"})
    assert float(m.group(1)) == pytest.approx(ref.coef["D"], abs=1e-8)
    assert float(m.group(2)) == pytest.approx(ref.se["D"], abs=1e-8)
    assert int(m.group(3)) == ref.nobs
    md = next(o.data["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {}))
    assert "Imp Starter" in md and "2SLS sales" in md
