"""The ``prodnet`` command line: synth, load, query, cypher, run-all."""

from __future__ import annotations

import os
import re
import sys

# numpy asks the kernel for transparent huge pages on large arrays; when memory is fragmented the kernel
# compacts it synchronously on each page fault. Measured on the full-scale ETL (2 cores, fragmented page
# cache): 41 and 35 s of system time with it, 26 and 28 s without, wall 57/51 s against 49/47 s. Set
# before numpy is first imported (this module imports it lazily); NUMPY_MADVISE_HUGEPAGE=1 restores it.
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from prodnet.progress import steps

app = typer.Typer(help="Firm-to-firm production networks: synthetic data, ETL, graph store, the paper's analytics.",
                  no_args_is_help=True, add_completion=False)
# Piped or redirected output keeps whole values (ids, file paths) instead of rich's 80-column default.
out = Console() if sys.stdout.isatty() else Console(width=100_000)
err = Console(stderr=True, soft_wrap=True)


@app.callback()
def _options(
    debug: Annotated[bool, typer.Option("--debug", help="on an error, show the Python traceback (anywhere on the "
                                        "command line)")] = False,
) -> None:
    """Firm-to-firm production networks: synthetic data, ETL, graph store, the paper's analytics."""


def _print_df(df, title: str | None = None, limit: int = 50) -> None:
    if df.empty:  # an empty table printed as a header alone reads like an error
        out.print(f"{title + ': ' if title else ''}no rows")
        return
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


def _work(root: Path | None, db: Path | None, work: Path | None = None) -> Path | None:
    """The work folder (cache and embedded graph) of a data root or of an embedded store file."""
    from etl.pipeline import default_work_dir

    if work or root:
        return work or default_work_dir(root)
    return db.parent if db else None


def _store(store: str, root: Path | None, db: Path | None, work: Path | None = None, wait: float = 0.0):
    """Open the store; the embedded one at --db or WORK/graph.lbdb (Neo4j takes NEO4J_URI etc.); ``wait``
    seconds for another writer of the embedded file."""
    from graph import StoreError, open_store

    if store not in ("embedded", "neo4j"):
        raise typer.BadParameter(f"--store must be embedded or neo4j, not {store!r}")
    w = _work(root, db, work)
    path = db or (w / "graph.lbdb" if w else None)
    if path is None and store == "embedded":
        raise StoreError("give the data root (--root DATA_ROOT) or the store file (--db PATH)")
    return open_store(store, path=path, **({"lock_timeout": wait} if wait else {}))


def _warn_if_stale(s, root: Path | None, db: Path | None) -> None:
    """A one-line warning when the store is not what a load from its cache would build."""
    from etl.pipeline import Cache

    w = _work(root, db)
    if w is None or not (w / "cache" / "manifest.json").exists():
        return
    fresh = s.is_current(Cache(w), s.vintages())
    if not fresh:
        err.print(f"[yellow]warning:[/] the graph is not current ({fresh.reason}); "
                  f"`prodnet load DATA_ROOT` rebuilds it", highlight=False)


@app.command()
def etl(
    root: Annotated[Path, typer.Argument(help="data root in the contract layout")],
    vintage: Annotated[list[int] | None, typer.Option(help="vintage year(s); default: all")] = None,
    encoding: Annotated[str | None, typer.Option(help="CSV encoding (default: detect UTF-8 / CP932)")] = None,
    force: Annotated[bool, typer.Option(help="rebuild even if the inputs did not change")] = False,
    warn_rejected: Annotated[float, typer.Option(min=0.0, max=1.0, help="warn about files with a larger share "
                                                 "of rejected rows (a fraction: 0.01 = 1%)")] = 0.01,
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
    _print_warnings(rep.get("warnings", []))


def _print_warnings(warnings: list[str]) -> None:
    """One line on stderr per warning of the ETL report."""
    for w in warnings:
        err.print(f"warning: {w}", style="yellow", markup=False, highlight=False, soft_wrap=True)


@app.command()
def load(
    root: Annotated[Path, typer.Argument(help="data root in the contract layout")],
    vintage: Annotated[list[int] | None, typer.Option(help="vintage year(s) to load; default: all")] = None,
    store: Store = "embedded",
    db: Annotated[Path | None, typer.Option(help="embedded store file (default WORK/graph.lbdb)")] = None,
    rebuild: Annotated[bool, typer.Option(help="rebuild from scratch with only these vintages (e.g. after an "
                                          "engine upgrade); otherwise a current store is kept as it is")] = False,
    encoding: Annotated[str | None, typer.Option(help="CSV encoding (default: detect)")] = None,
    work: Work = None,
) -> None:
    """ETL (reused when inputs are unchanged) and load vintages into the graph store."""
    from etl.pipeline import Cache, default_work_dir, run_etl

    work = work or default_work_dir(root)
    with steps("load") as st:
        rep = run_etl(root, work, vintage, encoding, progress=st)
        years = vintage or sorted(int(k.split("/")[1]) for k in rep if k.startswith("tsr/"))
        cache = Cache(work)
        with _store(store, root, db, work) as s:
            fresh = s.is_current(cache, years)
            if not fresh or rebuild:
                why = "rebuild asked" if rebuild else fresh.reason.split(": run `prodnet load")[0]
                st(f"graph ({store}): load ({why})")
                meta = s.load(cache, years, progress=st, rebuild=rebuild)
    _print_load_report(rep)
    out.print(f"graph ({store}): {meta}" if not fresh or rebuild
              else f"graph ({store}): current (built from the same clean tables), nothing to load")


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


Params = Annotated[list[str] | None, typer.Option(
    "--param", "-p", help="NAME=VALUE or NAME:TYPE=VALUE with TYPE str, int, float or bool (repeatable)")]
Root = Annotated[Path | None, typer.Option(help="data root (embedded store at ROOT/.prodnet)")]
Db = Annotated[Path | None, typer.Option(help="embedded store file")]
Csv = Annotated[Path | None, typer.Option(help="write all rows to this CSV (an existing file only with --force)")]
Force = Annotated[bool, typer.Option("--force", help="let --csv overwrite an existing file")]


@app.command()
def query(
    name: Annotated[str, typer.Argument(help="query name (see `prodnet queries`)")],
    param: Params = None, root: Root = None, db: Db = None, store: Store = "embedded", csv: Csv = None,
    force: Force = False,
) -> None:
    """Run a named query (read-only) and print a table; parameter types are the query's own."""
    import queries as q

    qq = q.get(name)
    _check_csv(csv, force)
    params = qq.coerce({k: v for k, _, v in (_kv(p) for p in (param or []))})
    with _store(store, root, db) as s:
        df = s.query(name, **params)
        _warn_if_stale(s, root, db)
    _emit(df, csv, name)


@app.command()
def cypher(
    text: Annotated[str, typer.Argument(help="Cypher text; values only as $parameters")],
    param: Params = None, root: Root = None, db: Db = None, store: Store = "embedded", csv: Csv = None,
    force: Force = False,
    write: Annotated[bool, typer.Option("--write", help="allow CREATE/MERGE/SET/DELETE…; marks the store as "
                                        "modified, so the next run-all rebuilds it")] = False,
    wait: Annotated[float, typer.Option(help="with --write: seconds to wait for another writer to finish")] = 0.0,
) -> None:
    """Run ad hoc Cypher with parameters (read-only unless --write). Untyped values that look like numbers
    without a leading zero become numbers; everything else stays text (use NAME:TYPE=VALUE to choose)."""
    _check_csv(csv, force)
    params = {k: _typed(k, t, v) for k, t, v in (_kv(p) for p in (param or []))}
    with _store(store, root, db, wait=wait) as s:
        df = s.run(text, params, write=write)
        if write:
            err.print("the store is marked as modified: the next run-all or `prodnet load` rebuilds it from the cache")
        else:
            _warn_if_stale(s, root, db)
    _emit(df, csv, "cypher")


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(0|[1-9][0-9]*)?\.[0-9]+([eE][-+]?[0-9]+)?|[-+]?(0|[1-9][0-9]*)[eE][-+]?[0-9]+")
_BOOL = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _kv(p: str) -> tuple[str, str | None, str]:
    """``NAME[:TYPE]=VALUE`` → (name, type or None, value text)."""
    k, sep, v = p.partition("=")
    name, _, typ = k.partition(":")
    if not sep or not _NAME.fullmatch(name):
        raise typer.BadParameter(f"-p expects NAME=VALUE or NAME:TYPE=VALUE, got {p!r}")
    if typ and typ not in ("str", "int", "float", "bool"):
        raise typer.BadParameter(f"-p {name}: unknown type {typ!r}; use str, int, float or bool")
    return name, typ or None, v


def _typed(name: str, typ: str | None, v: str):
    """A parameter value: the explicit type, else int/float only for plain numbers (``075988591`` and
    ``1e5x`` stay text, so digits-only firm ids keep their leading zeros)."""
    if typ is None:
        return int(v) if _INT.fullmatch(v) else float(v) if _FLOAT.fullmatch(v) else v
    try:
        if typ == "bool":
            return _BOOL[v.strip().lower()]
        return {"str": str, "int": int, "float": float}[typ](v)
    except (KeyError, ValueError):
        raise typer.BadParameter(f"-p {name}: {v!r} is not of type {typ}") from None


def _check_csv(csv: Path | None, force: bool) -> None:
    """Refuse, before running anything, a --csv target that exists (without --force) or has no folder."""
    if csv is None:
        return
    if csv.is_dir():
        raise typer.BadParameter(f"--csv {csv} is a folder; give a file name")
    if not csv.parent.exists():
        raise typer.BadParameter(f"--csv {csv}: folder {csv.parent} does not exist")
    if csv.exists() and not force:
        raise typer.BadParameter(f"--csv {csv} exists; add --force to overwrite it")


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
    recompute: Annotated[bool, typer.Option("--recompute", help="compute every exhibit again instead of reusing "
                                            "those computed from the same clean tables by the same code")] = False,
    jobs: Annotated[int | None, typer.Option(help="exhibits computed at the same time (default: the cores "
                                             "available, at most 4)", min=1)] = None,
) -> None:
    """Reproduce every table and figure of the paper from a data root."""
    from analytics.run import run_all

    s = run_all(root, out_dir, store=store, work=work, only=only, reuse=not recompute, jobs=jobs)
    _print_warnings(s["etl"].get("warnings", []))  # as `prodnet etl` prints them
    out.print(f"report: {out_dir / 'report.html'} ({s['seconds_total']:.0f} s, peak RSS {s['peak_rss_gib']:.2f} GiB)")
    if s["errors"]:
        out.print(f"[yellow]exhibits not produced:[/] {', '.join(s['errors'])} (reasons in the report)")
    if s["graph_store"]["error"]:
        err.print(f"[yellow]warning:[/] the graph store was not loaded ({s['graph_store']['error']}); the tables "
                  "do not depend on it, `prodnet cypher` and `prodnet query` do: run `prodnet load` to retry")


export_app = typer.Typer(help="Export the graph for other tools.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("neo4j-admin")
def export_neo4j_admin_cmd(
    root: Annotated[Path, typer.Argument(help="data root in the contract layout")],
    out_dir: Annotated[Path, typer.Argument(help="folder for the node/relationship CSV and header files")],
    vintage: Annotated[list[int] | None, typer.Option(help="vintage year(s); default: all")] = None,
    force: Annotated[bool, typer.Option("--force", help="replace the files of an earlier export in OUT_DIR")] = False,
    work: Work = None,
) -> None:
    """Write the files of `neo4j-admin database import full` (bulk load of a Neo4j server) and print the command."""
    from etl.pipeline import Cache, default_work_dir, run_etl
    from graph.export import export_neo4j_admin

    if out_dir.exists() and any(out_dir.glob("*.csv")) and not force:
        raise typer.BadParameter(f"{out_dir} already holds CSV files; use --force to replace them",
                                 param_hint="OUT_DIR")
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


def _click_errors() -> tuple[type, ...]:
    """Usage-error classes: typer bundles its own copy of click, which is not ``click.ClickException``."""
    import importlib

    found = []
    for mod in ("typer._click.exceptions", "click.exceptions"):
        try:
            found.append(importlib.import_module(mod).ClickException)
        except (ImportError, AttributeError):
            pass
    return tuple(found)


def _fail(message: str, code: int, debug: bool) -> None:
    if debug:
        import traceback

        traceback.print_exc()
    err.print(f"[red]error:[/] {' '.join(message.split(chr(10)))}", highlight=False, markup=True)
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> None:
    """Console entry point. Every error is one line on stderr and a non-zero exit: 2 for usage errors and
    bad input (arguments, parameters, Cypher, data files, store), 1 for anything unexpected (a defect),
    130 when interrupted. ``--debug`` anywhere on the line also prints the traceback."""
    from rich.markup import escape

    from etl.contract import ContractError
    from graph.store import StoreError

    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    usage = _click_errors()
    try:
        rc = app(args=args, prog_name="prodnet", standalone_mode=False)
    except usage as e:
        if type(e).__name__ == "NoArgsIsHelpError" and e.ctx is not None:
            out.print(e.ctx.get_help())
            raise SystemExit(0) from None
        cmd = e.ctx.command_path if getattr(e, "ctx", None) is not None else "prodnet"
        _fail(escape(f"{e.format_message()} (see `{cmd} --help`)"), e.exit_code, debug)
    except (ContractError, StoreError, ValueError, FileNotFoundError, NotADirectoryError, PermissionError) as e:
        *first, last = getattr(e, "problems", None) or [str(e)]  # the ETL names every unusable file
        for p in first:
            err.print(f"[red]error:[/] {escape(p)}", highlight=False)
        _fail(escape(last), 2, debug)
    except KeyError as e:
        _fail(escape(str(e.args[0]) if e.args else repr(e)), 2, debug)
    except (typer.Abort, KeyboardInterrupt):
        raise SystemExit(130) from None
    except Exception as e:  # noqa: BLE001 - a defect: still one line unless --debug
        _fail(escape(f"unexpected {type(e).__name__}: {e} (run again with --debug for the traceback)"), 1, debug)
    raise SystemExit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()

