"""Exhibit: one table or figure of the report, with everything needed to write it."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.econometrics.tables import Table


@dataclass
class Exhibit:
    id: str  # "table_1", "figure_A1", …
    title: str
    frame: pd.DataFrame | None = None  # descriptive table (index = row labels)
    reg: Table | None = None  # regression table
    first_stage: Table | None = None
    figure: Path | None = None
    notes: str = ""
    truth: list[dict] = field(default_factory=list)  # planted parameter next to its estimate
    seconds: float = 0.0
    error: str | None = None  # "not estimable: <reason>", "failed: …" or "crashed: signal N …"
    warnings: list[str] = field(default_factory=list)  # raised while the exhibit was computed

    @property
    def column_notes(self) -> dict[str, str]:
        """Footnotes of the regression table(s) by column: flags and columns not estimable."""
        return {f"{t.number}: {k}": t.column_note(k) for t in (self.reg, self.first_stage) if t is not None
                for k in t.columns if t.column_note(k)}

    @property
    def label(self) -> str:
        kind, _, num = self.id.partition("_")
        return f"{kind.capitalize()} {num}"

    def tidy(self) -> pd.DataFrame:
        if self.error:
            return pd.DataFrame([{"table": self.id.partition("_")[2], "column": "", "term": "not produced",
                                  "estimate": np.nan, "std_error": np.nan, "p_value": np.nan, "nobs": np.nan,
                                  "note": self.error}])
        if self.reg is not None:
            parts = [self.reg.tidy()]
            if self.first_stage is not None:
                parts.append(self.first_stage.tidy())
            return pd.concat(parts, ignore_index=True)
        if self.frame is not None:
            f = self.frame.reset_index().melt(id_vars=self.frame.index.name or "index", var_name="column",
                                              value_name="estimate")
            f = f.rename(columns={self.frame.index.name or "index": "term"})
            f.insert(0, "table", self.id.partition("_")[2])
            return f.assign(std_error=np.nan, p_value=np.nan, nobs=np.nan)
        return pd.DataFrame()

    @property
    def first_stage_id(self) -> str | None:
        return None if self.first_stage is None else f"table_{self.first_stage.number}"

    def markdown(self) -> str:
        if self.error:
            return f"**{self.label}: {self.title}**\n\n{self.error}\n"
        if self.reg is not None:
            return self.reg.markdown() + ("\n" + self.first_stage.markdown() if self.first_stage else "")
        if self.frame is not None:
            return (f"**{self.label}: {self.title}**\n\n" + _frame_md(_clean(self.frame))
                    + (f"\n*Notes:* {self.notes}\n" if self.notes else ""))
        return ""

    def latex(self) -> str:
        if self.error:
            return f"% {self.label}: {self.error}\n".replace("\n", "\n% ").rstrip("% ")
        if self.reg is not None:
            return self.reg.latex() + (self.first_stage.latex() if self.first_stage else "")
        if self.frame is not None:
            return _clean(self.frame).to_latex(float_format=num, na_rep="", caption=f"{self.title}", label=self.id)
        return ""

    def html(self) -> str:
        """The exhibit's body for the report, which titles it (first stages get their own sub-heading)."""
        if self.reg is not None:
            out = self.reg.html(caption=False)
            if self.first_stage is not None:
                fs = self.first_stage
                out += (f"<h3 id='{self.first_stage_id}'>Table {html.escape(fs.number)}: {html.escape(fs.title)}</h3>"
                        + fs.html(caption=False))
            return out
        if self.frame is not None:
            t = _clean(self.frame).to_html(float_format=num, na_rep="", classes="desc", border=0)
            return t + (f"<p class='notes'>Notes: {html.escape(self.notes)}</p>" if self.notes else "")
        return ""


def _clean(df: pd.DataFrame) -> pd.DataFrame:
    """Nullable columns as plain float/object so that missing cells print blank, never ``<NA>``."""
    out = df.copy()
    for c in out.columns:
        col = out[c]
        if pd.api.types.is_extension_array_dtype(col.dtype):
            out[c] = (col.astype("float64") if pd.api.types.is_numeric_dtype(col.dtype)
                      else col.astype(object).where(col.notna(), ""))
        elif col.dtype == object:
            out[c] = col.where(col.notna(), "")
    return out


def num(x: float) -> str:
    """Counts with thousands separators, other numbers with 4 significant digits."""
    if x is None or not np.isfinite(x):
        return ""
    if float(x).is_integer() and abs(x) >= 1:
        return f"{int(x):,}"
    return f"{x:,.4g}" if abs(x) >= 1e-3 else f"{x:.3g}"


def _frame_md(df: pd.DataFrame) -> str:
    cols = [str(df.index.name or "")] + [str(c) for c in df.columns]
    out = ["| " + " | ".join(cols) + " |", "|" + "|".join(["---"] * len(cols)) + "|"]
    for idx, row in df.iterrows():
        vals = [num(v) if isinstance(v, float | np.floating) else "" if v is None else str(v) for v in row.to_numpy()]
        out.append("| " + " | ".join([str(idx), *vals]) + " |")
    return "\n".join(out) + "\n"
