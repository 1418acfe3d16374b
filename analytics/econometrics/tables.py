"""Publication tables in the paper's layout (e.g. Table 7): coefficients with stars and SEs in
parentheses, fixed-effect check rows, N, number of buyers, R², Kleibergen–Paap F, the rows each column
dropped (missing values, singletons), and a footnote marker on each column with a note (not estimable, the
flags of its fit); as markdown, LaTeX, HTML, and a tidy frame
(table, column, term, estimate, std_error, p_value, nobs, statistic rows)."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics.econometrics.result import Fit

CHECK = "√"


def stars(p: float) -> str:
    return "***" if p < 0.01 else "**" if p < 0.05 else "*" if p < 0.1 else ""


def _fmt(x: float, digits: int = 4) -> str:
    if x is None or not np.isfinite(x):
        return ""
    if abs(x) >= 10 ** digits:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.3g}"


@dataclass
class Table:
    """A regression table: ``columns`` maps a column label to a fit (or None for an empty column)."""

    number: str
    title: str
    columns: dict[str, Fit]
    terms: dict[str, str]  # term → label, in display order
    fe_rows: dict[str, list[str]] = field(default_factory=dict)  # label → FE variable names (any of)
    stat_rows: dict[str, str] = field(default_factory=dict)  # label → key in Fit.summary_stats()
    notes: str = ""
    header_rows: dict[str, list[str]] = field(default_factory=dict)  # e.g. "Dependent variable" → per column
    column_notes: dict[str, str] = field(default_factory=dict)  # column label → note (not estimable, a flag)

    def column_note(self, label: str) -> str:
        """Everything a reader must know about a column: its note and the flags of its fit."""
        f = self.columns[label]
        parts = [self.column_notes.get(label), *([] if f is None else f.flags)]
        return "; ".join(dict.fromkeys(p for p in parts if p))

    def markers(self) -> dict[str, str]:
        """Footnote marker per annotated column: a, b, c, … in column order."""
        labels = [k for k in self.columns if self.column_note(k)]
        return {k: chr(ord("a") + i) if i < 26 else str(i + 1) for i, k in enumerate(labels)}

    def footnotes(self) -> list[str]:
        return [f"[{m}] {self.column_note(k)}" for k, m in self.markers().items()]

    def _all_notes(self) -> str:
        return " ".join([self.notes, *self.footnotes()]).strip()

    def body(self) -> list[list[str]]:
        rows = []
        for label, values in self.header_rows.items():
            rows.append([label, *values])
        for i, (term, label) in enumerate(self.terms.items()):
            est, se = [label], [""]
            for col, f in self.columns.items():
                if f is None and i == 0 and self.column_notes.get(col, "").startswith("not estimable"):
                    est.append("not estimable")
                    se.append("")
                elif f is not None and term in f.coef.index:
                    est.append(_fmt(f.coef[term]) + stars(f.pvalue[term]))
                    se.append(f"({_fmt(f.se[term], 3)})")
                else:
                    est.append("")
                    se.append("")
            rows += [est, se]
        for label, fes in self.fe_rows.items():
            rows.append([label, *[(CHECK if f is not None and any(x in f.fe for x in fes) else "-")
                                  for f in self.columns.values()]])
        for label, key in self.stat_rows.items():
            vals = []
            for f in self.columns.values():
                v = None if f is None else f.summary_stats().get(key)
                vals.append(f"{v:,}" if isinstance(v, int | np.integer) else _fmt(v, 4) if v is not None else "")
            rows.append([label, *vals])
        return rows + self._dropped_rows()

    def _dropped_rows(self) -> list[list[str]]:
        """'Rows dropped: missing values' / '…: singletons' rows, for the reasons any column has."""
        fits = list(self.columns.values())
        reasons = [r for r in dict.fromkeys(r for f in fits if f is not None for r in f.dropped)
                   if any(f is not None and f.dropped.get(r) for f in fits)]
        return [[f"Rows dropped: {r}", *[f"{f.dropped.get(r, 0):,}" if f is not None else "" for f in fits]]
                for r in reasons]

    def header(self) -> list[str]:
        mk = self.markers()
        return ["", *[(f"({i}) {k}" if not k.startswith("(") else k) + (f" [{mk[k]}]" if k in mk else "")
                      for i, k in enumerate(self.columns, 1)]]

    def markdown(self) -> str:
        h = self.header()
        lines = [f"**Table {self.number}: {self.title}**", "", "| " + " | ".join(h) + " |",
                 "|" + "|".join(["---"] + [":-:"] * (len(h) - 1)) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in self.body()]
        if self._all_notes():
            lines += ["", f"*Notes:* {self._all_notes()} ***, **, * : significance at 1%, 5%, 10%."]
        return "\n".join(lines) + "\n"

    def latex(self) -> str:
        def esc(s: str) -> str:
            return (s.replace("\\", "\\textbackslash{}").replace("&", "\\&").replace("%", "\\%").replace("_", "\\_")
                    .replace("#", "\\#").replace(CHECK, "$\\checkmark$").replace("×", "$\\times$"))

        h = self.header()
        out = ["\\begin{table}[htbp]\\centering", f"\\caption{{{esc(self.title)}}}\\label{{tab:{self.number}}}",
               "\\begin{tabular}{l" + "c" * (len(h) - 1) + "}", "\\hline",
               " & ".join(esc(x) for x in h) + " \\\\", "\\hline"]
        out += [" & ".join(esc(x) for x in r) + " \\\\" for r in self.body()]
        out += ["\\hline", "\\end{tabular}"]
        if self._all_notes():
            out.append(f"\\par\\footnotesize Notes: {esc(self._all_notes())} ***, **, *: significance at 1\\%, 5\\%, 10\\%.")
        out.append("\\end{table}")
        return "\n".join(out) + "\n"

    def html(self, caption: bool = True) -> str:
        """The table as HTML; ``caption=False`` when the page already titles it."""
        h = self.header()
        cap = f"<caption>Table {html.escape(self.number)}: {html.escape(self.title)}</caption>" if caption else ""
        out = [f"<table class='reg'>{cap}",
               "<thead><tr>" + "".join(f"<th>{html.escape(x)}</th>" for x in h) + "</tr></thead><tbody>"]
        out += ["<tr>" + "".join(f"<td>{html.escape(x)}</td>" for x in r) + "</tr>" for r in self.body()]
        out.append("</tbody></table>")
        if self.notes:
            out.append(f"<p class='notes'>Notes: {html.escape(self.notes)} ***, **, *: 1%, 5%, 10%.</p>")
        out += [f"<p class='notes flag'>{html.escape(x)}</p>" for x in self.footnotes()]
        return "\n".join(out)

    def tidy(self) -> pd.DataFrame:
        rows = []
        for col, f in self.columns.items():
            if f is None:
                if self.column_notes.get(col):
                    rows.append({"table": self.number, "column": col, "term": "not estimable", "estimate": np.nan,
                                 "std_error": np.nan, "p_value": np.nan, "nobs": np.nan, "note": self.column_note(col)})
                continue
            t = f.tidy()
            for r in t.itertuples():
                rows.append({"table": self.number, "column": col, "term": r.term, "estimate": r.estimate,
                             "std_error": r.std_error, "p_value": r.p_value, "nobs": f.nobs,
                             "note": self.column_note(col) or None})
            for key, v in f.summary_stats().items():
                if isinstance(v, int | float | np.integer | np.floating):
                    rows.append({"table": self.number, "column": col, "term": key, "estimate": float(v),
                                 "std_error": np.nan, "p_value": np.nan, "nobs": f.nobs})
        return pd.DataFrame(rows, columns=["table", "column", "term", "estimate", "std_error", "p_value", "nobs", "note"])
