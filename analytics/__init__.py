"""Analytics: network features, the paper's estimators, tables, figures and ``run_all()``."""

from __future__ import annotations


def run_all(data_root, out_dir, store: str = "embedded", **kw):
    """Reproduce every table and figure of the paper; see ``analytics.run.run_all``."""
    from analytics.run import run_all as _run_all

    return _run_all(data_root, out_dir, store=store, **kw)


__all__ = ["run_all"]
