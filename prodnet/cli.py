"""The ``prodnet`` command line: synth, load, query, cypher, run-all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from prodnet.progress import steps

app = typer.Typer(help="Firm-to-firm production networks: synthetic data, ETL, graph store, the paper's analytics.",
                  no_args_is_help=True, add_completion=False)
out = Console()


def _print_df(df, title: str | None = None, limit: int = 50) -> None:
    t = Table(title=title, show_lines=False)
    for c in df.columns:
        t.add_column(str(c), justify="right" if df[c].dtype.kind in "iuf" else "left")
    for row in df.head(limit).itertuples(index=False):
        t.add_row(*[f"{v:.6g}" if isinstance(v, float) else str(v) for v in row])
    out.print(t)
    if len(df) > limit:
        out.print(f"… {len(df) - limit} more rows (use --csv to save all)")


@app.command()
def synth(
    out_dir: Annotated[Path, typer.Argument(help="data root to write (contract layout)")],
    scale: Annotated[str, typer.Option(help="small (a few thousand firms) or full (~850k firms)")] = "small",
    seed: Annotated[int, typer.Option(help="random seed; output is deterministic per seed")] = 0,
    report: Annotated[bool, typer.Option("--report", help="measure the written root against the targets")] = False,
) -> None:
    """Write a synthetic TSR/BSJBSA world in the raw contract layout, with truth.json."""
    from etl.synth import generate

    with steps(f"synth {scale} seed={seed}") as st:
        truth = generate(out_dir, scale=scale, seed=seed, progress=st)
    out.print(f"wrote {out_dir} ({truth['counts']['2005']['links']:,} links 2005, "
              f"{truth['counts']['2010']['links']:,} links 2010) in {st.timings['total']:.1f} s")
    if report:
        from etl.synth.report import measure

        df = measure(out_dir)
        _print_df(df, "synthetic root vs targets", limit=200)
        if not df.ok.all():
            raise typer.Exit(1)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()


__all__ = ["app", "json"]
