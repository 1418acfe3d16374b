"""One self-contained HTML page: every table and figure in paper order (first stages A6–A8 under the
tables they belong to), each headed once and listed in the contents, with the reason for any exhibit not
estimable, the warnings raised while computing it, data and sample notes, run times, and planted
parameters next to their estimates when the data root has a truth file."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from analytics.exhibits import Exhibit

CSS = """
body{font-family:Georgia,serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em} h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:2em} h3{font-size:1em}
table{border-collapse:collapse;font-size:0.8em;margin:0.5em 0 1em} td,th{padding:2px 8px;text-align:center}
td:first-child,th:first-child{text-align:left} thead th{border-bottom:1px solid #333}
caption,.caption{font-weight:bold;text-align:left;margin:0.3em 0} .notes{font-size:0.8em;color:#555}
.err{color:#a00} .warn{color:#8a5a00;font-size:0.8em} .flag{color:#8a5a00} .fig img{max-width:720px;border:1px solid #eee} .desc tbody tr:nth-child(odd){background:#fafafa}
.toc{columns:3;font-size:0.85em}
"""


def _figure_html(ex: Exhibit) -> str:
    data = base64.b64encode(Path(ex.figure).read_bytes()).decode()
    return (f"<div class='fig'><img alt='{html.escape(ex.label)}' src='data:image/png;base64,{data}'/>"
            + (f"<p class='notes'>{html.escape(ex.notes)}</p>" if ex.notes else "") + "</div>")


def _truth_html(exhibits: list[Exhibit]) -> str:
    rows = [r | {"exhibit": e.label} for e in exhibits for r in e.truth]
    if not rows:
        return ""

    def f(v):
        return "" if v is None else f"{v:.4g}" if isinstance(v, float) else html.escape(str(v))

    body = "".join(f"<tr><td>{html.escape(r['parameter'])}</td><td>{r['exhibit']}</td><td>{f(r['planted'])}</td>"
                   f"<td>{f(r.get('oracle'))}</td><td>{f(r['estimate'])}</td><td>{f(r['std_error'])}</td>"
                   f"<td>{f(r.get('z'))}</td><td>{f(r.get('note'))}</td></tr>" for r in rows)
    return ("<h2 id='truth'>Planted parameters and their estimates</h2><p class='notes'>oracle: the estimand, the "
            "same estimator applied by the generator to its own world (eq. 16: with the unobserved buyer shock known; "
            "eq. 15: on the full, unreported network, whose expected counts carry the planted β and γ; degree tail: "
            "the reported degrees); z = (estimate − oracle, or planted when there is no oracle) / s.e.; eq. (16) "
            "s.e. clustered by buyer.</p><table><thead><tr>"
            "<th>parameter</th><th>exhibit</th><th>planted</th><th>oracle</th><th>estimate</th><th>s.e.</th><th>z</th>"
            "<th>why no z</th>"
            f"</tr></thead><tbody>{body}</tbody></table>")


def _status(e: Exhibit) -> str:
    """What the table of contents says after an exhibit's name when it is not simply there."""
    if not e.error:
        return " (flagged)" if e.column_notes else ""
    return " (not estimable)" if e.error.startswith("not estimable") else " (not produced)"


def _toc(exhibits: list[Exhibit], has_truth: bool) -> str:
    items = []
    for e in exhibits:
        items.append(f"<li><a href='#{e.id}'>{html.escape(e.label)}</a>{_status(e)}</li>")
        if e.first_stage_id and not e.error:
            items.append(f"<li><a href='#{e.first_stage_id}'>Table {html.escape(e.first_stage.number)}</a> "
                         f"(first stage of {html.escape(e.label)})</li>")
    if has_truth:
        items.append("<li><a href='#truth'>Planted parameters</a></li>")
    items.append("<li><a href='#run'>Run</a></li>")
    return "<div class='toc'><ul>" + "".join(items) + "</ul></div>"


def _warn_list(title: str, items: list[str]) -> str:
    if not items:
        return ""
    lis = "".join(f"<li>{html.escape(w)}</li>" for w in items)
    return f"<div class='warn'><p>{html.escape(title)}</p><ul>{lis}</ul></div>"


def _warnings_html(e: Exhibit) -> str:
    return _warn_list(f"Warnings raised while computing {e.label}:", e.warnings)


def _data_warnings_html(warnings: list[str]) -> str:
    """The ETL's warnings on the inputs (e.g. a file with many rejected rows), above the exhibits."""
    return _warn_list("Warnings on the input files (details in the ETL report):", warnings)


def write(out: Path, exhibits: list[Exhibit], meta: dict) -> Path:
    """report.html; the planted-parameter section only when ``meta['truth']`` (the root has a truth file)."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>prodnet report</title><style>{CSS}</style>"
             "</head><body><h1>Global sourcing and domestic production networks: replication report</h1>",
             f"<p class='notes'>{html.escape(meta.get('intro', ''))}</p>", _data_warnings_html(meta.get("data_warnings", [])),
             _toc(exhibits, bool(meta.get("truth")))]
    for e in exhibits:
        parts.append(f"<h2 id='{e.id}'>{html.escape(e.label)}: {html.escape(e.title)}</h2>")
        if e.error:
            parts.append(f"<p class='err'>{html.escape(e.error)}</p>")
        elif e.figure is not None:
            parts.append(_figure_html(e))
        else:
            parts.append(e.html())
        parts.append(_warnings_html(e))
        parts.append(f"<p class='notes'>computed in {e.seconds:.1f} s</p>")
    if meta.get("truth"):
        parts.append(_truth_html(exhibits))
    timings = "".join(f"<tr><td>{html.escape(k)}</td><td>{v:.1f}</td></tr>" for k, v in meta.get("timings", {}).items())
    parts.append(f"<h2 id='run'>Run</h2><table><tbody>{timings}</tbody></table>"
                 f"<p class='notes'>{html.escape(meta.get('footer', ''))}</p></body></html>")
    p = out / "report.html"
    p.write_text("\n".join(parts), encoding="utf-8")
    return p
