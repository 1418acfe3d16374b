"""Everything the paper's tables need, assembled once: firms and links of both vintages (from the clean
tables, or through the graph store), import status from the BSJBSA match, productivity, the instrument, and the samples of
sections 3 and 5.

Sample rules (paper section 2, notes to Tables 1, 3, 7–9): manufacturing buyers; buyers and sellers in
both vintages; buyers matched to the BSJBSA; parent–child links removed; existing (2005) importers
excluded from the offshoring regressions; sellers under 5 employees dropped for the buyer-level measures
of Table 3. Seller characteristics in eq. (16) are measured in the base vintage (predetermined)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analytics import instrument, tfp
from etl.pipeline import Cache
from graph.store import GraphStore

FIRM_TEXT = ("name", "address", "phone", "postal_code")  # identification only (survey match, geocoding): not read


@dataclass
class Study:
    y0: int
    y1: int
    firms: dict[int, pd.DataFrame]  # indexed by tsr_id; every column of the clean table but ``FIRM_TEXT``
    links: dict[int, pd.DataFrame]  # seller_id, buyer_id, dist_km, parent_child
    jsic: pd.DataFrame
    chars: pd.DataFrame  # per jsic3: rho, ratio, theta_cp, air_share, rauch, theta_firm
    survey: pd.DataFrame
    buyers: pd.DataFrame  # BSJBSA-matched firms: status, log sales, tfp, shock …
    wes: pd.Series
    op: tfp.Productivity
    theta: pd.DataFrame
    wages: pd.DataFrame
    notes: dict = field(default_factory=dict)
    sector_imports: pd.DataFrame = field(default_factory=pd.DataFrame)  # survey_id, sector12, imports, year
    exposure: tuple | None = None  # (φ buyers × shocks, buyer ids, jsic4 of the shocks), eq. (18)

    ids: pd.Index = field(default_factory=pd.Index)  # every firm of either vintage; position = integer code
    _arrays: dict = field(default_factory=dict, repr=False)  # by firm code; firms only (shared by variants)
    # samples computed once per study; not an init field, so a variant (dataclasses.replace with other
    # buyers, as the robustness exhibits make) starts with its own empty memo
    _memo: dict = field(default_factory=dict, init=False, repr=False)

    def memo(self, key, compute):
        """``compute()`` once per study and ``key``; later calls return the same object (callers must not
        modify it). ``run_all`` fills the memo of the shared samples before the exhibits fork."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def code(self, tsr_ids) -> np.ndarray:
        """Integer firm code (position in ``ids``) of each id; −1 for an id of neither vintage.

        Two look-ups, the same codes: a hash table of ``ids`` built once per study (pandas' engine of an
        object index, kept with the firm arrays), probed value by value, for up to ``SMALL_LOOKUP`` ids
        (buyer samples); Arrow's vectorised ``firm_codes`` for more, which hashes all of ``ids`` on each
        call (about 0.3 s for 900k firms) but probes several times faster."""
        require_text_ids(tsr_ids)
        if len(tsr_ids) > SMALL_LOOKUP or not isinstance(tsr_ids, pd.Index | pd.Series | np.ndarray):
            if "ids_arrow" not in self._arrays:  # shared by variants
                self._arrays["ids_arrow"] = pa.array(self.ids)
            return firm_codes(self._arrays["ids_arrow"], tsr_ids)
        if "ids_object" not in self._arrays:
            self._arrays["ids_object"] = pd.Index(np.asarray(self.ids, dtype=object))
        return self._arrays["ids_object"].get_indexer(tsr_ids).astype(np.int64)

    def firm_index_codes(self, year: int) -> np.ndarray:
        """``code(firms[year].index)``, computed once (firms only: shared by variants)."""
        key = ("firm_codes", year)
        if key not in self._arrays:
            self._arrays[key] = self.code(self.firms[year].index)
        return self._arrays[key]

    def vintage_mask(self, year: int) -> np.ndarray:
        """By firm code: listed in the company file of ``year``; computed once (callers must not modify it)."""
        key = ("vintage_mask", year)
        if key not in self._arrays:
            m = np.zeros(len(self.ids), bool)
            m[self.firm_index_codes(year)] = True
            self._arrays[key] = m
        return self._arrays[key]

    @property
    def both(self) -> pd.Index:
        return self.memo("both", lambda: self.firms[self.y0].index.intersection(self.firms[self.y1].index))

    @property
    def both_mask(self) -> np.ndarray:
        """By firm code: present in both vintages."""
        if "both_mask" not in self._arrays:  # firms only: shared by variants
            self._arrays["both_mask"] = self.vintage_mask(self.y0) & self.vintage_mask(self.y1)
        return self._arrays["both_mask"]

    def code_mask(self, tsr_ids) -> np.ndarray:
        """By firm code: True for the firms ``tsr_ids`` (ids of neither vintage are ignored)."""
        m = np.zeros(len(self.ids), bool)
        c = self.code(tsr_ids)
        m[c[c >= 0]] = True
        return m

    def in_vintage(self, year: int, tsr_ids) -> np.ndarray:
        """By element of ``tsr_ids``: a firm of vintage ``year`` (integer codes, no string matching)."""
        c = self.code(tsr_ids)
        return (c >= 0) & self.vintage_mask(year)[np.maximum(c, 0)]

    def _buyer_in_both(self) -> np.ndarray:
        """By row of ``buyers``: the firm is in both vintages (integer codes, no string matching)."""
        def compute():
            c = self.code(self.buyers.index)
            return (c >= 0) & self.both_mask[np.maximum(c, 0)]
        return self.memo("buyer_in_both", compute)

    def arr(self, year: int, col: str) -> np.ndarray:
        """A firm attribute of one vintage as an array by firm code (NaN / None where absent)."""
        key = (year, col)
        if key not in self._arrays:
            f = self.firms[year][col]
            idx = self.firm_index_codes(year)
            if f.dtype.kind in "fiub":
                out = np.full(len(self.ids), np.nan)
                out[idx] = f.to_numpy(dtype=float, na_value=np.nan)
            else:
                out = np.full(len(self.ids), None, dtype=object)
                out[idx] = f.to_numpy(dtype=object)
            self._arrays[key] = out
        return self._arrays[key]

    def buyer_rows(self, codes: np.ndarray) -> pd.DataFrame:
        """Rows of ``buyers`` for firm codes (≥ 0; all-NaN rows for firms not among them): ``buyers.reindex``
        without a string look-up when every firm is a buyer."""
        def compute():
            pos = np.full(len(self.ids), -1)
            c = self.code(self.buyers.index)
            pos[c[c >= 0]] = np.flatnonzero(c >= 0)
            return pos
        pos = self.memo("buyer_pos", compute)[codes]
        if (pos >= 0).all():
            return self.buyers.iloc[pos]
        return self.buyers.reindex(self.ids[codes])

    def mfg4(self) -> set[str]:
        return set(self.jsic.loc[self.jsic.manufacturing == 1, "jsic4"])

    def mfg_mask(self, year: int | None = None) -> np.ndarray:
        """By firm code: main industry in manufacturing (in ``year``, default the base vintage); computed once
        (callers must not modify it)."""
        key = ("mfg_mask", year or self.y0)
        if key not in self._arrays:  # firms only: shared by variants
            self._arrays[key] = pd.Series(self.arr(key[1], "jsic4")).isin(self.mfg4()).to_numpy()
        return self._arrays[key]

    def clean_links(self, year: int) -> pd.DataFrame:
        """Links between firms of both vintages, parent–child pairs (in either vintage) removed."""
        return self.links[year][self.clean_mask(year)]

    def clean_mask(self, year: int) -> np.ndarray:
        """By row of ``links[year]``: the link is clean (see ``clean_links``); a mask, not a copy of the links.
        Kept with the firm arrays, which variants of the study share, as long as the links are the same."""
        key, links = ("clean_mask", year), (self.links[self.y0], self.links[self.y1])
        hit = self._arrays.get(key)
        if hit is None or hit[0][0] is not links[0] or hit[0][1] is not links[1]:
            self._arrays[key] = hit = (links, self._clean_mask(year))
        return hit[1]

    def _clean_mask(self, year: int) -> np.ndarray:
        n = len(self.ids)
        pc = np.concatenate([(l.s.to_numpy(np.int64) * n + l.b.to_numpy())[l.parent_child.to_numpy()]
                             for l in (self.links[self.y0], self.links[self.y1])])
        l = self.links[year]
        both = self.both_mask
        key = l.s.to_numpy(np.int64) * n + l.b.to_numpy()
        # a hash look-up of the few parent–child keys (np.isin sorts all the keys)
        return both[l.s.to_numpy()] & both[l.b.to_numpy()] & ~pd.Series(key).isin(pc).to_numpy()

    def sample_buyers(self, exclude_importers: bool = False) -> pd.Index:
        """Manufacturing buyers in both vintages matched to the BSJBSA (with both survey years)."""
        def compute():
            b = self.buyers
            b = b[b.manufacturing.to_numpy(bool) & self._buyer_in_both() & b.imp05.notna() & b.imp10.notna()]
            if exclude_importers:
                b = b[~b.imp05.astype(bool)]
            return b.index
        return self.memo(("sample_buyers", exclude_importers), compute)

    def regression_buyers(self, exclude_importers: bool = False) -> pd.Index:
        """``sample_buyers`` for the regressions: an empty sample, or (offshoring regressions) one without
        any import starter, is not estimable, with the reason in words."""
        from analytics.guard import NotEstimable

        b = self.sample_buyers(exclude_importers)
        if len(b) == 0:
            matched = int(self._buyer_in_both().sum())
            raise NotEstimable(f"no manufacturing buyer in both vintages is matched to the survey of both {self.y0} "
                               f"and {self.y1} ({matched:,} survey firms matched to TSR firms of both vintages)"
                               + ("; every one of them imported already" if exclude_importers and
                                  len(self.sample_buyers()) else ""))
        if exclude_importers and not (self.buyers.imp_starter.reindex(b) == 1).any():
            raise NotEstimable(f"no import starter (no import in {self.y0}, imports in {self.y1}) among the {len(b):,} "
                               "buyers of the sample: the effect of starting to import is not identified")
        return b

    def links_of(self, year: int, buyers: pd.Index, clean: bool = True) -> pd.DataFrame:
        """Links of the given buyers (clean: see ``clean_links``); kept per buyers object (the memo holds it,
        so an identical id means the same index)."""
        key = ("links_of", year, clean, id(buyers))
        hit = self._memo.get(key)
        if hit is not None and hit[0] is buyers:
            return hit[1]
        l = self.links[year]
        keep = self.code_mask(buyers)[l.b.to_numpy()]
        out = l[keep & self.clean_mask(year) if clean else keep]
        self._memo[key] = (buyers, out)
        return out


def _status(survey: pd.DataFrame, y0: int, y1: int) -> pd.DataFrame:
    s = survey[survey.tsr_id.fillna("") != ""]
    # a survey year without any match to TSR is a column of missing values, not a missing column
    imp = s.pivot_table(index="tsr_id", columns="year", values="imports_total", aggfunc="first").reindex(
        columns=[y0, y1])
    out = pd.DataFrame(index=imp.index)
    out["imp05"] = (imp[y0] > 0).where(imp[y0].notna())
    out["imp10"] = (imp[y1] > 0).where(imp[y1].notna())
    i0, i1 = out.imp05.fillna(False).astype(bool), out.imp10.fillna(False).astype(bool)
    out["status"] = np.select([i0 & i1, ~i0 & i1, i0 & ~i1], ["continuing", "starter", "stopper"], "non")
    out["imp_starter"] = (~i0 & i1).astype(float)
    sales = s.pivot_table(index="tsr_id", columns="year", values="sales", aggfunc="first").reindex(columns=[y0, y1])
    out["log_sales05"] = np.log(sales[y0].where(sales[y0] > 0))
    out["log_sales10"] = np.log(sales[y1].where(sales[y1] > 0))
    return out


LINK_COLUMNS = ["seller_id", "buyer_id", "dist_km", "parent_child"]
# ``Study.code``: up to this many ids are looked up in the study's own hash table, more with Arrow's
SMALL_LOOKUP = 250_000


def require_text_ids(values) -> None:
    """A ``TypeError`` unless every non-missing value is text: firm ids are strings whose leading zeros
    count ("0012" and "12" are two firms), so the number 12 matches neither and is refused, not looked up."""
    if isinstance(values, pa.Array | pa.ChunkedArray):
        ok = pa.types.is_string(values.type) or pa.types.is_large_string(values.type) or pa.types.is_null(values.type)
        kind = str(values.type)
    else:
        kind = pd.api.types.infer_dtype(values, skipna=True)
        ok = kind in ("string", "empty")
    if not ok:
        raise TypeError(f"firm ids are text such as '000123' (leading zeros count); got {kind} values")


def firm_codes(ids: pa.Array, values) -> np.ndarray:
    """Position of each of ``values`` in ``ids`` (−1 where absent or missing), as int64. Arrow's vectorised
    hash lookup: pandas' ``get_indexer`` on Arrow-backed strings builds one Python object per value, about 15
    times slower on the millions of link endpoints."""
    v = pa.array(values, from_pandas=True) if not isinstance(values, pa.Array | pa.ChunkedArray) else values
    if v.type != ids.type:
        v = v.cast(ids.type)
    return pc.index_in(v, value_set=ids).fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def _link_columns(cache: Cache, year: int) -> list[str]:
    """``LINK_COLUMNS`` and, when the clean links carry them, the rows of their firms in ``firms_<year>``."""
    rows = [c for c in ("seller_row", "buyer_row") if c in pq.read_schema(cache.path(f"links_{year}")).names]
    return LINK_COLUMNS + rows if len(rows) == 2 else LINK_COLUMNS


def _endpoint_codes(ids: pa.Array, code_of_row: np.ndarray, links: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Firm codes (positions in ``ids``) of each link's seller and buyer: through the rows of the vintage's
    firms (``seller_row``/``buyer_row``, written by the ETL; ``code_of_row``: the code of each row) when the
    links carry them, one look-up per firm instead of one per link end; else by id (links read from a graph
    store, or an older cache)."""
    if "seller_row" in links and "buyer_row" in links:
        return code_of_row[links.pop("seller_row").to_numpy(np.int64)], code_of_row[links.pop("buyer_row").to_numpy(np.int64)]
    return firm_codes(ids, links.seller_id), firm_codes(ids, links.buyer_id)


def build(cache: Cache, store: GraphStore | None = None, y0: int = 2005, y1: int = 2010, progress=None) -> Study:
    """The study of vintages ``y0`` and ``y1``. Links: the clean tables of the cache (the rows the graph store
    is loaded from), or, given a ``store``, its SUPPLIES relationships (``GraphStore.edges``; the same rows,
    which the tests check on both backends)."""
    step = progress or (lambda m: None)
    step("study: firms and links")
    firms = {}
    for y in (y0, y1):
        cols = [c for c in pq.read_schema(cache.path(f"firms_{y}")).names if c not in FIRM_TEXT]
        f = cache.read(f"firms_{y}", columns=cols).set_index("tsr_id")
        f["pref"] = f.pref_code.astype("Int64")
        firms[y] = f
    links = {y: store.edges(y) if store is not None else cache.read(f"links_{y}", columns=_link_columns(cache, y))
             for y in (y0, y1)}
    ids = firms[y0].index.union(firms[y1].index)
    if not ids.is_monotonic_increasing:  # codes in the order of the ids: sorting by codes sorts by ids
        ids = ids.sort_values()
    ids_arrow = pa.array(ids)
    row_codes = {y: firm_codes(ids_arrow, firms[y].index) for y in (y0, y1)}
    for y in (y0, y1):
        links[y]["parent_child"] = links[y].parent_child.astype(bool)
        links[y]["s"], links[y]["b"] = _endpoint_codes(ids_arrow, row_codes[y], links[y])
    jsic = cache.read("industry_jsic")
    ch = cache.read("industry_characteristics").set_index("jsic3")
    ch["ratio"] = ch.rho / (ch.rho - 1)
    step("study: survey, productivity, instrument")
    survey = cache.read("bsjbsa")
    buyers = _status(survey, y0, y1)
    mfg4 = set(jsic.loc[jsic.manufacturing == 1, "jsic4"])
    buyers["manufacturing"] = firms[y0].jsic4.reindex(buyers.index).isin(mfg4).to_numpy()
    op = tfp.estimate(survey, jsic)
    key = survey.drop_duplicates("survey_id").set_index("survey_id").tsr_id
    t = op.log_tfp.reset_index()
    t["tsr_id"] = key.reindex(t.survey_id).to_numpy()
    t = t[t.tsr_id.fillna("") != ""].pivot_table(index="tsr_id", columns="year", values="log_tfp")
    buyers["log_tfp05"], buyers["log_tfp10"] = t.get(y0), t.get(y1)
    vpw = tfp.va_per_worker(survey).reset_index()
    vpw["tsr_id"] = key.reindex(vpw.survey_id).to_numpy()
    vpw = vpw[vpw.tsr_id.fillna("") != ""].pivot_table(index="tsr_id", columns="year", values="log_va_per_worker")
    buyers["log_vapw05"], buyers["log_vapw10"] = vpw.get(y0), vpw.get(y1)
    w = instrument.wes(cache.read("industry_world_exports"), y0, y1)
    shocks = pd.Index(sorted(mfg4)).intersection(w.index)  # eq. (18): manufacturing 4-digit industries only
    j4 = np.full(len(ids), None, object)
    j4[row_codes[y0]] = firms[y0].jsic4.to_numpy(object)
    phi, phi_rows = instrument.exposure(links[y0], firms[y0].jsic4, shocks, seller_industry=j4[links[y0].s.to_numpy()])
    buyers["shock"] = pd.Series(phi @ w.reindex(shocks).to_numpy(), index=phi_rows).reindex(buyers.index).fillna(0.0)
    theta = instrument.firm_based_theta(firms[y0].sales, firms[y0].jsic3, ch.rho)
    ch["theta_firm"] = theta.theta_firm.reindex(ch.index)
    sectors = cache.read("bsjbsa_sectors") if cache.path("bsjbsa_sectors").exists() else pd.DataFrame()
    arrays = {"ids_arrow": ids_arrow, **{("firm_codes", y): c for y, c in row_codes.items()}}
    return Study(y0, y1, firms, links, jsic, ch, survey, buyers, w, op, theta, cache.read("industry_wages"), ids=ids,
                 sector_imports=sectors, exposure=(phi, phi_rows, shocks), _arrays=arrays)
