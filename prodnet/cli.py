"""The ``prodnet`` command line: synth, load, query, cypher, run-all."""

from __future__ import annotations

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
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a planted parameter, NAME=VALUE "
                                                   "(repeatable; names as in truth.json 'planted')")] = None,
) -> None:
    """Write a synthetic TSR/BSJBSA world in the raw contract layout, with truth.json."""
    from etl.synth import generate, planted_from

    planted = planted_from(set_ or [])
    with steps(f"synth {scale} seed={seed}") as st:
        truth = generate(out_dir, scale=scale, seed=seed, progress=st, planted=planted)
    out.print(f"wrote {out_dir} ({truth['counts']['2005']['links']:,} links 2005, "
              f"{truth['counts']['2010']['links']:,} links 2010) in {st.timings['total']:.1f} s")
    if report:
        from etl.synth.report import measure

        df = measure(out_dir)
        _print_df(df, "synthetic root vs targets", limit=200)
        if not df.ok.all():
            raise typer.Exit(1)


Store = Annotated[str, typer.Option("--store", help="embedded (default, no server) or neo4j (NEO4J_URI etc.)")]
Work = Annotated[Path | None, typer.Option("--work", help="work folder (cache, graph); default DATA_ROOT/.prodnet")]


def _store(store: str, root: Path | None, db: Path | None, work: Path | None = None):
    from etl.pipeline import default_work_dir
    from graph import open_store

    if store == "neo4j":
        return open_store("neo4j")
    if db is None:
        if root is None:
            raise typer.BadParameter("give DATA_ROOT (or --db PATH) for the embedded store")
        db = (work or default_work_dir(root)) / "graph.lbdb"
    return open_store("embedded", path=db)


@app.command()
def etl(
    root: Annotated[Path, typer.Argument(help="data root in the contract layout")],
    vintage: Annotated[list[int] | None, typer.Option(help="vintage year(s); default: all")] = None,
    encoding: Annotated[str | None, typer.Option(help="CSV encoding (default: detect UTF-8 / CP932)")] = None,
    force: Annotated[bool, typer.Option(help="rebuild even if the inputs did not change")] = False,
    warn_rejected: Annotated[float, typer.Option(help="warn about files with a larger share of rejected rows")]
    = 0.01,
    work: Work = None,
) -> None:
    """Validate and clean raw files into the Parquet cache; print the per-file load report."""
    from etl.pipeline import EtlError, run_etl

    try:
        with steps("etl") as st:
            rep = run_etl(root, work, vintage, encoding, force, progress=st, warn_share=warn_rejected)
    except EtlError as e:
        _print_load_report(e.report, root)
        for p in e.problems:
            typer.echo(f"error: {p}", err=True)
        raise SystemExit(2) from None
    _print_load_report(rep, root)


def _print_load_report(rep: dict, root: Path | None = None) -> None:
    """Per file: read, loaded, rejected, blanked and their reasons; then the run's warnings."""
    from etl.report import file_reports

    t = Table(title="load report (rows read = loaded + rejected; blanked = optional values set to missing)")
    for c in ("file", "encoding", "read", "loaded", "rejected", "blanked", "reasons"):
        t.add_column(c, justify="right" if c in ("read", "loaded", "rejected", "blanked") else "left")
    for r in file_reports(rep):
        f = Path(r["file"])
        name = f.relative_to(root).as_posix() if root and f.is_relative_to(root) else f.as_posix()
        reasons = [f"rejected {k}: {v:,}" for k, v in r.get("rejected", {}).items() if v]
        reasons += [f"blanked {k}: {v:,}" for k, v in r.get("values_blanked", {}).items() if v]
        t.add_row(name, r["encoding"], f"{r['rows_read']:,}", f"{r['rows_loaded']:,}", f"{r['rows_rejected']:,}",
                  f"{sum(r.get('values_blanked', {}).values()):,}", "\n".join(reasons))
    out.print(t)
    for part, r in rep.items():
        if part.startswith("tsr/") and "linkage" in r and not r.get("error"):
            notes = r["linkage"].get("notes", {}) | r["company"].get("notes", {})
            out.print(f"[bold]{part}[/]: " + ", ".join(f"{k} {v:,}" for k, v in notes.items()))
            unresolved = r.get("geocoding", {}).get("unresolved_prefixes", [])
            if unresolved:
                out.print("  most frequent addresses not resolved to a district: "
                          + ", ".join(f"{p} ({n:,})" for p, n in unresolved))
        elif part == "bsjbsa" and "match" in r:
            out.print("[bold]BSJBSA match[/]: " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v:,}"
                                                            for k, v in r["match"].items()))
    for w in rep.get("warnings", []):
        out.print(f"warning: {w}", style="yellow", markup=False, highlight=False, soft_wrap=True)


@app.command()
def load(
    root: Annotated[Path, typer.Argument(help="data root in the contract layout")],
    vintage: Annotated[list[int] | None, typer.Option(help="vintage year(s) to load; default: all")] = None,
    store: Store = "embedded",
    db: Annotated[Path | None, typer.Option(help="embedded store file (default WORK/graph.lbdb)")] = None,
    rebuild: Annotated[bool, typer.Option(help="embedded: rebuild from scratch (e.g. after an engine upgrade)")] = False,
    encoding: Annotated[str | None, typer.Option(help="CSV encoding (default: detect)")] = None,
    work: Work = None,
) -> None:
    """ETL (reused when inputs are unchanged) and load vintages into the graph store."""
    from etl.pipeline import Cache, default_work_dir, run_etl

    work = work or default_work_dir(root)
    with steps("load") as st:
        rep = run_etl(root, work, vintage, encoding, progress=st)
        years = vintage or sorted(int(k.split("/")[1]) for k in rep if k.startswith("tsr/"))
        if rebuild and store == "embedded":  # forget the old store's engine stamp; it is rebuilt below
            db_path = db or work / "graph.lbdb"
            db_path.with_name(db_path.name + ".json").unlink(missing_ok=True)
        s = _store(store, root, db, work)
        st(f"graph ({store})")
        meta = s.load(Cache(work), years, progress=st, **({"rebuild": True} if rebuild and store == "embedded" else {}))
    _print_load_report(rep)
    out.print(f"graph: {meta}")


@app.command("queries")
def list_queries() -> None:
    """List the named queries with their parameters."""
    import queries as q

    t = Table(title="query library (queries/*.cypher)")
    for c in ("name", "parameters", "answers"):
        t.add_column(c)
    for n in q.names():
        x = q.get(n)
        t.add_row(n, ", ".join(f"{k}: {v}" for k, v in x.params.items()), x.description)
    out.print(t)


Params = Annotated[list[str] | None, typer.Option("--param", "-p", help="k=v (repeatable)")]
Root = Annotated[Path | None, typer.Option(help="data root (embedded store at ROOT/.prodnet)")]
Db = Annotated[Path | None, typer.Option(help="embedded store file")]
Csv = Annotated[Path | None, typer.Option(help="write all rows to this CSV")]


@app.command()
def query(
    name: Annotated[str, typer.Argument(help="query name (see `prodnet queries`)")],
    param: Params = None, root: Root = None, db: Db = None, store: Store = "embedded", csv: Csv = None,
) -> None:
    """Run a named query and print a table."""
    import queries as q

    qq = q.get(name)
    params = qq.coerce(dict(_kv(p) for p in (param or [])))
    df = _store(store, root, db).query(name, **params)
    _emit(df, csv, name)


@app.command()
def cypher(
    text: Annotated[str, typer.Argument(help="Cypher text; values only as $parameters")],
    param: Params = None, root: Root = None, db: Db = None, store: Store = "embedded", csv: Csv = None,
) -> None:
    """Run ad hoc Cypher with parameters (never string-built values; ints and floats are parsed)."""
    params = {k: _auto(v) for k, v in (_kv(p) for p in (param or []))}
    _emit(_store(store, root, db).run(text, params), csv, "cypher")


def _kv(p: str) -> tuple[str, str]:
    k, sep, v = p.partition("=")
    if not sep or not k:
        raise typer.BadParameter(f"--param expects k=v, got {p!r}")
    return k, v


def _auto(v: str):
    for t in (int, float):
        try:
            return t(v)
        except ValueError:
            pass
    return v


def _emit(df, csv: Path | None, title: str) -> None:
    if csv:
        df.to_csv(csv, index=False)
        out.print(f"wrote {len(df):,} rows to {csv}")
    else:
        _print_df(df, title)


@app.command("run-all")
def run_all_cmd(
    root: Annotated[Path, typer.Argument(help="data root in the contract layout")],
    out_dir: Annotated[Path, typer.Argument(help="output folder (report.html, tables/, figures/, summary.json)")],
    store: Store = "embedded",
    work: Work = None,
    only: Annotated[list[str] | None, typer.Option(help="only these exhibits, e.g. --only table_7")] = None,
) -> None:
    """Reproduce every table and figure of the paper from a data root."""
    from analytics.run import run_all

    s = run_all(root, out_dir, store=store, work=work, only=only)
    out.print(f"report: {out_dir / 'report.html'} ({s['seconds_total']:.0f} s, peak RSS {s['peak_rss_gib']:.2f} GiB)")
    if s["errors"]:
        out.print(f"[yellow]exhibits not produced:[/] {', '.join(s['errors'])} (reasons in the report)")


export_app = typer.Typer(help="Export the graph for other tools.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("neo4j-admin")
def export_neo4j_admin_cmd(
    root: Annotated[Path, typer.Argument(help="data root in the contract layout")],
    out_dir: Annotated[Path, typer.Argument(help="folder for the node/relationship CSV and header files")],
    vintage: Annotated[list[int] | None, typer.Option(help="vintage year(s); default: all")] = None,
    work: Work = None,
) -> None:
    """Write the files of `neo4j-admin database import full` (bulk load of a Neo4j server) and print the command."""
    from etl.pipeline import Cache, default_work_dir, run_etl
    from graph.export import export_neo4j_admin

    work = work or default_work_dir(root)
    with steps("export neo4j-admin") as st:
        rep = run_etl(root, work, vintage, progress=st)
        years = vintage or sorted(int(k.split("/")[1]) for k in rep if k.startswith("tsr/"))
        st("write CSV files")
        ex = export_neo4j_admin(Cache(work), years, out_dir)
    for k, n in (ex.nodes | ex.relationships).items():
        out.print(f"{k}: {n:,} rows")
    out.print("Stop the Neo4j server, then run:")
    out.print(ex.command(), soft_wrap=True, highlight=False, markup=False)


def main() -> None:  # pragma: no cover - exercised through the console script
    """Console entry point: user errors (bad input, missing store, bad parameter) print one clear line."""
    from etl.contract import ContractError
    from graph.store import StoreError

    try:
        app(standalone_mode=False)
    except (ContractError, StoreError, ValueError, KeyError, FileNotFoundError) as e:
        Console(stderr=True).print(f"[red]error:[/] {e}")
        raise SystemExit(2) from None
    except (typer.Abort, KeyboardInterrupt):
        raise SystemExit(130) from None
    except Exception as e:  # click usage errors
        import click

        if isinstance(e, click.ClickException):
            e.show()
            raise SystemExit(e.exit_code) from None
        raise


if __name__ == "__main__":  # pragma: no cover
    main()

