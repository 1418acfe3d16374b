"""Export the graph model as the CSV files that ``neo4j-admin database import full`` reads.

For millions of relationships the offline bulk importer of Neo4j is one to two orders of magnitude faster
than batched ``UNWIND`` writes. The files follow the model of :mod:`graph.model` exactly (same labels,
relationship types, property names and types), one header file per data file so that the data files stay
plain CSV:

    firms_header.csv / firms.csv                 (:Firm)          id space Firm (tsr_id, kept as text)
    prefectures_header.csv / prefectures.csv     (:Prefecture)    id space Prefecture (code)
    industries_header.csv / industries.csv       (:Industry)      id space Industry (jsic4)
    supplies_<YEAR>_header.csv / supplies_<YEAR>.csv   [:SUPPLIES {year, …}] seller → buyer
    located_in_header.csv / located_in.csv       [:LOCATED_IN]    Firm → Prefecture
    in_industry_header.csv / in_industry.csv     [:IN_INDUSTRY]   Firm → Industry
    vintages_header.csv / vintages.csv           (:Vintage {year, status: 'complete', links}), the record
                                                 by which the Neo4j backend knows which vintages it holds
    storemeta_header.csv / storemeta.csv         (:StoreMeta {key: 'store', …}), the build stamp of the
                                                 clean tables exported, so the imported store counts as
                                                 current for this cache (``GraphStore.is_current``)

Header types use the importer's names (``int``, ``long``, ``double``, ``boolean``, ``string``, arrays as
``int[]`` with ``;`` between elements). Empty fields are missing properties. pyarrow writes the data files
(quoted where needed, ``"`` doubled inside quotes, which is the importer's default convention).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from etl.pipeline import Cache
from graph.model import firm_table, industry_table, link_table, prefecture_table
from graph.store import stamp_params

ARRAY_DELIMITER = ";"

# column of the frame -> header field (``name:type``; ``:ID(space)`` alone is an id that is not a property)
FIRM_HEADER = {"tsr_id": "tsr_id:ID(Firm)", "name": "name", "address": "address", "pref": "pref:int",
               "muni": "muni", "lat": "lat:double", "lon": "lon:double", "geo_precision": "geo_precision",
               "jsic4": "jsic4", "jsic3": "jsic3", "manufacturing": "manufacturing:boolean",
               "employees": "employees:long", "sales": "sales:double", "founded": "founded:int",
               "years": "years:int[]"}
PREFECTURE_HEADER = {"id": ":ID(Prefecture)", "code": "code:int", "name": "name", "name_en": "name_en",
                     "capital_lat": "capital_lat:double", "capital_lon": "capital_lon:double",
                     "area_km2": "area_km2:double"}
INDUSTRY_HEADER = {"jsic4": "jsic4:ID(Industry)", "jsic3": "jsic3", "name": "name",
                   "manufacturing": "manufacturing:boolean"}
SUPPLIES_HEADER = {"seller_id": ":START_ID(Firm)", "buyer_id": ":END_ID(Firm)", "year": "year:int",
                   "dist_km": "dist_km:double", "reported_by": "reported_by", "parent_child": "parent_child:boolean",
                   "rank_by_buyer": "rank_by_buyer:int", "rank_by_seller": "rank_by_seller:int"}


@dataclass
class Export:
    """What :func:`export_neo4j_admin` wrote: row counts per file and the import command."""

    directory: Path
    nodes: dict[str, int] = field(default_factory=dict)
    relationships: dict[str, int] = field(default_factory=dict)
    multiline: bool = False

    def command(self, database: str = "neo4j") -> str:
        """The ``neo4j-admin database import full`` call for these files (run it with the server stopped)."""
        d = self.directory
        args = ["neo4j-admin", "database", "import", "full", database, "--overwrite-destination",
                f"--array-delimiter={ARRAY_DELIMITER}", "--id-type=string"]
        if self.multiline:
            args.append("--multiline-fields=true")
        for label, stem in (("Firm", "firms"), ("Prefecture", "prefectures"), ("Industry", "industries"),
                            ("Vintage", "vintages"), ("StoreMeta", "storemeta")):
            args.append(f"--nodes={label}={d / f'{stem}_header.csv'},{d / f'{stem}.csv'}")
        for stem in self.relationships:
            rtype = "SUPPLIES" if stem.startswith("supplies") else stem.upper()
            args.append(f"--relationships={rtype}={d / f'{stem}_header.csv'},{d / f'{stem}.csv'}")
        return " ".join(shlex.quote(a) for a in args)


def _write(df: pd.DataFrame, header: dict[str, str], directory: Path, stem: str) -> tuple[int, bool]:
    """Write ``stem_header.csv`` and ``stem.csv``; return (rows, whether a text field holds a newline)."""
    df = df[list(header)].copy()
    multiline = False
    for c, h in header.items():
        if h.endswith("[]"):
            df[c] = df[c].map(lambda v: ARRAY_DELIMITER.join(str(int(x)) for x in v), na_action="ignore")
        elif ":" not in h or "ID(" in h:
            s = df[c].astype("string")
            multiline |= bool(s.str.contains("\n", regex=False).any())
            df[c] = s
    (directory / f"{stem}_header.csv").write_text(",".join(header.values()) + "\n", encoding="utf-8")
    table = pa.Table.from_pandas(df, preserve_index=False)
    pacsv.write_csv(table, directory / f"{stem}.csv", pacsv.WriteOptions(include_header=False))
    return len(df), multiline


def export_neo4j_admin(cache: Cache, years: list[int], directory: str | Path) -> Export:
    """Write the node and relationship files of ``years`` (graph model of :mod:`graph.model`) to ``directory``."""
    d = Path(directory).resolve()  # absolute, so the printed command works from any folder or container
    d.mkdir(parents=True, exist_ok=True)
    ex = Export(d)
    stamp = stamp_params(cache, years, "complete")  # before reading: a cache changed meanwhile looks stale
    firms = firm_table(cache, years)
    prefs = prefecture_table().assign(id=lambda p: p.code.astype(str))
    for stem, df, header in (("firms", firms, FIRM_HEADER), ("prefectures", prefs, PREFECTURE_HEADER),
                             ("industries", industry_table(cache), INDUSTRY_HEADER)):
        ex.nodes[stem], ml = _write(df, header, d, stem)
        ex.multiline |= ml
    for y in sorted(years):
        ex.relationships[f"supplies_{y}"], _ = _write(link_table(cache, y), SUPPLIES_HEADER, d, f"supplies_{y}")
    vint = pd.DataFrame({"id": [f"vintage-{y}" for y in sorted(years)], "year": sorted(years), "status": "complete",
                         "links": [ex.relationships[f"supplies_{y}"] for y in sorted(years)]})
    ex.nodes["vintages"], _ = _write(vint, {"id": ":ID(Vintage)", "year": "year:int", "status": "status",
                                            "links": "links:long"}, d, "vintages")
    meta = pd.DataFrame([{"id": "store", "key": "store", "modified": False} | stamp])
    ex.nodes["storemeta"], _ = _write(meta, {"id": ":ID(StoreMeta)", "key": "key", "status": "status",
                                             "vintages": "vintages", "industry": "industry",
                                             "modified": "modified:boolean", "note": "note"}, d, "storemeta")
    loc = firms.loc[firms.pref.notna(), ["tsr_id"]].assign(pref=firms.pref.dropna().astype(int).astype(str))
    ex.relationships["located_in"], _ = _write(loc, {"tsr_id": ":START_ID(Firm)", "pref": ":END_ID(Prefecture)"},
                                               d, "located_in")
    ind = firms.loc[firms.jsic4.isin(industry_table(cache).jsic4), ["tsr_id", "jsic4"]]
    ex.relationships["in_industry"], _ = _write(ind, {"tsr_id": ":START_ID(Firm)", "jsic4": ":END_ID(Industry)"},
                                                d, "in_industry")
    return ex
