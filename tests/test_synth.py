"""The synthetic world: deterministic, contract-valid, counts and moments as recorded in truth.json,
checked by independent pandas computations on the raw files."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from etl.bsjbsa import normalize_name
from etl.synth import SCALES, Planted, generate, planted_from
from etl.synth.report import measure
from tests.conftest import SEED, read_raw


def _two_way(root, year):
    """Independent two-way matching: union of buyer-side and seller-side reports between known firms."""
    comp = read_raw(root / f"tsr/{year}/company.csv")
    rep = read_raw(root / f"tsr/{year}/linkage.csv")
    ids = set(comp.tsr_id)
    rep = rep[rep.tsr_id.isin(ids) & rep.partner_id.isin(ids) & (rep.tsr_id != rep.partner_id)]
    sup = rep[rep.relation == "supplier"]
    cus = rep[rep.relation == "customer"]
    pairs = set(zip(sup.partner_id, sup.tsr_id, strict=False)) | set(zip(cus.tsr_id, cus.partner_id, strict=False))
    return pairs, rep


def test_deterministic_per_seed(tmp_path, small_root):
    generate(tmp_path / "again", scale="small", seed=SEED)
    for rel in ("tsr/2005/linkage.csv", "tsr/2010/company.csv", "bsjbsa/2007.csv", "industry/wages.csv"):
        a = hashlib.sha256((small_root / rel).read_bytes()).hexdigest()
        b = hashlib.sha256((tmp_path / "again" / rel).read_bytes()).hexdigest()
        assert a == b, rel
    generate(tmp_path / "other", scale="small", seed=SEED + 1)
    assert (tmp_path / "other/tsr/2005/linkage.csv").read_bytes() != (small_root / "tsr/2005/linkage.csv").read_bytes()


def test_overlapped_generation_writes_the_sequential_files(tmp_path, small_root, monkeypatch):
    """generate() overlaps its stages on threads (and large gravity calls sample on two): every file is
    byte for byte what build_world then write_world write one step after the other."""
    from etl.synth import network
    from etl.synth.world import build_world
    from etl.synth.writer import write_world

    world = build_world(SCALES["small"], SEED)
    write_world(world, tmp_path / "sequential", np.random.default_rng([SEED, 1]))
    monkeypatch.setattr(network, "PARALLEL_DRAWS", 0)  # every gravity call on two threads
    generate(tmp_path / "threaded", scale="small", seed=SEED)
    for root in (tmp_path / "threaded", small_root):
        files = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file() and ".prodnet" not in p.parts)
        assert files == sorted(p.relative_to(tmp_path / "sequential") for p in (tmp_path / "sequential").rglob("*")
                               if p.is_file())
        for rel in files:
            assert (root / rel).read_bytes() == (tmp_path / "sequential" / rel).read_bytes(), (root, rel)


@pytest.mark.parametrize("year", [2005, 2010])
def test_link_counts_match_truth(small_root, truth, year):
    pairs, rep = _two_way(small_root, year)
    assert len(pairs) == truth["counts"][str(year)]["links"]
    t = pd.read_parquet(small_root / "truth/links.parquet")
    t = t[t.year == year]
    assert pairs == set(zip(t.seller_id, t.buyer_id, strict=False))


@pytest.mark.parametrize("year", [2005, 2010])
def test_reporting_limits_and_noise(small_root, truth, year):
    rep = read_raw(small_root / f"tsr/{year}/linkage.csv")
    comp = read_raw(small_root / f"tsr/{year}/company.csv")
    clean = rep.drop_duplicates(["tsr_id", "partner_id", "relation"])
    clean = clean[clean.partner_id.isin(comp.tsr_id) & (clean.tsr_id != clean.partner_id)]
    per = clean.groupby(["tsr_id", "relation"]).size()
    assert per.xs("supplier", level=1).max() <= 24
    assert per.xs("customer", level=1).max() <= 24
    assert per.xs("shareholder", level=1).max() <= 3
    rc = truth["counts"][f"reports_{year}"]
    assert (rep.tsr_id == rep.partner_id).sum() == rc["self_rows"]
    assert rep.duplicated(["tsr_id", "partner_id", "relation"]).sum() == rc["duplicate_rows"]
    assert (~rep.partner_id.isin(comp.tsr_id)).sum() == rc["dangling_rows"]
    # two-way matching matters: some links are reported by one side only
    assert rc["reported_by_buyer_only"] > 0 and rc["reported_by_seller_only"] > 0


def test_degree_moments(small_root, truth):
    t = pd.read_parquet(small_root / "truth/links.parquet")
    for year, mean_t in ((2005, 4.89), (2010, 5.47)):
        d = t[t.year == year].groupby("buyer_id").size()
        assert abs(d.mean() - mean_t) < 0.6
        assert d.mean() == pytest.approx(truth["counts"][str(year)]["mean_sellers_per_buyer"])
    d05 = t[t.year == 2005].groupby("buyer_id").size()
    assert d05.max() > 20 * d05.median()  # heavy tail


def test_bsjbsa_notation_differs_but_normalises(small_root):
    s = read_raw(small_root / "bsjbsa/2005.csv")
    key = pd.read_parquet(small_root / "truth/bsjbsa_key.parquet")
    comp = read_raw(small_root / "tsr/2005/company.csv").drop_duplicates("tsr_id").set_index("tsr_id")
    m = s.merge(key[key.tsr_id != ""], on="survey_id")
    tsr_names = comp.name.reindex(m.tsr_id).to_numpy()
    assert (m.name.to_numpy() != tsr_names).mean() > 0.3
    assert (m.name.map(normalize_name).to_numpy() == pd.Series(tsr_names).map(normalize_name).to_numpy()).all()
    assert (m.phone.to_numpy() != comp.phone.reindex(m.tsr_id).to_numpy()).mean() > 0.2


def test_measured_statistics_meet_targets(small_root):
    df = measure(small_root)
    assert df.ok.all(), df[~df.ok].to_string()


def test_truth_records_planted_parameters(truth):
    # every parameter at its default; the instrument strength is the scale's (recorded as used)
    assert truth["planted"] == dataclasses.asdict(Planted()) | {"start_pi_shock": SCALES["small"].start_pi_shock}
    assert Planted().start_pi_shock is None and SCALES["medium"].start_pi_shock == SCALES["small"].start_pi_shock
    assert SCALES["full"].start_pi_shock < SCALES["small"].start_pi_shock  # weak by clustered KP F (README)
    tp = np.array(list(truth["industries"]["theta_prime"].values()))
    assert (tp > 2).all()  # finite revenue variance, so appendix B.3 can identify theta'


def test_planted_parameters_can_be_overridden(tmp_path):
    from typer.testing import CliRunner

    from prodnet.cli import app

    r = CliRunner().invoke(app, ["synth", str(tmp_path / "w"), "--scale", "small", "--seed", "3",
                                 "--set", "start_pi_shock=0.05", "--set", "pool_ratio=2"])
    assert r.exit_code == 0, r.output
    p = json.loads((tmp_path / "w" / "truth.json").read_text())["planted"]
    assert p["start_pi_shock"] == 0.05 and p["pool_ratio"] == 2 and p["drop_beta"] == Planted().drop_beta
    with pytest.raises(ValueError, match="start_pi_shok"):
        planted_from(["start_pi_shok=1"])
    with pytest.raises(ValueError, match="pool_ratio takes int"):
        planted_from(["pool_ratio=2.5"])
    with pytest.raises(ValueError, match="start_pi_shock takes float"):
        planted_from(["start_pi_shock=weak"])


def test_importer_propensity_by_hand():
    """π_i = c · exp(α z_i), z the normal scores of the size ranks, clipped to [max_S P_iS, 1], with c such
    that the share of firms offshoring at all, mean min(π_i, Σ_S P_iS), is off_importer_share."""
    from scipy.stats import norm

    from etl.synth.survey import importer_propensity

    size = np.log(np.array([10.0, 100.0, 1000.0, 10000.0]))
    prob = np.array([[0.12, 0.1], [0.30, 0.2], [0.10, 0.05], [0.10, 0.5]])  # max 0.12, 0.3, 0.1, 0.5; sums
    p = dataclasses.replace(Planted(), off_importer_share=0.3, off_importer_size=2.0)
    w = np.exp(2 * norm.ppf(np.array([1, 2, 3, 4]) / 5))
    got = importer_propensity(size, prob, p)
    # by hand: firms 3 and 4 offshore at their Σ_S P (0.15, 0.6) and firm 1 at its bound 0.12, so firm 2
    # offshores with 4 · 0.3 − 0.12 − 0.15 − 0.6 = 0.33 = c · w_2
    c = 0.33 / w[1]
    np.testing.assert_allclose(got, [0.12, 0.33, c * w[2], 1.0], rtol=1e-9)
    np.testing.assert_allclose(np.minimum(got, prob.sum(1)).mean(), 0.3, rtol=1e-9)
    # a share below what the lower bounds give: every firm at its bound
    with pytest.warns(UserWarning, match=r"off_importer_share 0.05 is outside .* \(0.255 to 0.367\)"):
        low = importer_propensity(size, prob, dataclasses.replace(p, off_importer_share=0.05))
    np.testing.assert_allclose(low, prob.max(1))
    with pytest.warns(UserWarning, match="off_importer_share 0.9 is outside"):
        high = importer_propensity(size, prob, dataclasses.replace(p, off_importer_share=0.9))
    np.testing.assert_allclose(high, 1.0)


def test_systematic_sample_marginals_and_at_least_one():
    """Each column is included with its probability (Monte Carlo over 200,000 rows, 4.5 s.e.), and a row
    whose probabilities sum to at least one always includes a column."""
    from etl.synth.survey import systematic_sample

    rng = np.random.default_rng(0)
    q = np.array([[0.1, 0.5, 0.3, 0.2, 0.0, 1.0], [0.05, 0.1, 0.2, 0.1, 0.3, 0.25]])
    draws = systematic_sample(np.repeat(q, 100_000, axis=0), rng)
    for r in range(2):
        share = draws[r * 100_000:(r + 1) * 100_000].mean(0)
        assert np.all(np.abs(share - q[r]) <= 4.5 * np.sqrt(q[r] * (1 - q[r]) / 100_000) + 1e-12), (share, q[r])
    assert draws[100_000:].any(1).all()  # second row sums to exactly 1
    assert draws[:100_000].sum(1).min() >= 2 and draws[:100_000].sum(1).max() <= 3  # sum 2.1
    assert not draws[:100_000, 4].any() and draws[:100_000, 5].all()


def test_firm_text_equals_python_formatting():
    """Names, phones and addresses are built with Arrow kernels from the draws; the same draws formatted
    value by value in Python give the same text (an ``f"{a}-{s[:m]}-{s[m:m + 4]}"`` phone of 8 random digits,
    ``N番M号`` block numbers, the prefecture name + municipality + town + block address)."""
    from etl.geo import prefectures
    from etl.synth import firms as fm
    from etl.synth.industries import build_characteristics, build_jsic

    pref = np.random.default_rng(1).integers(1, 48, 5000)
    nums = np.random.default_rng(7).integers(0, 10**8, len(pref))
    want = []
    for p, x in zip(pref.tolist(), nums.tolist(), strict=True):
        a = fm._AREA.get(p, f"0{200 + 17 * p}"[:4])
        m, s = {2: 4, 3: 3}.get(len(a), 2), f"{x:08d}"
        want.append(f"{a}-{s[:m]}-{s[m:m + 4]}")
    assert fm._phone(pref, np.random.default_rng(7)).to_pylist() == want
    assert {len(a) for a in (w.split("-")[0] for w in want)} == {2, 3, 4}  # every split of the 8 digits
    jsic = build_jsic(SCALES["small"], np.random.default_rng(0))
    theta = build_characteristics(jsic, np.random.default_rng(0)).set_index("jsic3").theta_prime
    f = fm.build_firms(3000, 2800, 0.05, jsic, theta, np.random.default_rng(5))
    assert f.banchi.str.fullmatch(r"[1-9][0-9]?番[1-9][0-9]?号").all()
    pname = dict(zip(prefectures().pref_code, prefectures().name_ja, strict=True))
    assert f.address.tolist() == [pname[p] + m + t + b for p, m, t, b in zip(f.pref_code, f.muni_name, f.town,
                                                                             f.banchi, strict=True)]
    forms = [next(x for x in fm._FORMS if n.startswith(x) or n.endswith(x)) for n in f.name]
    assert all(n in (x + c, c + x) for n, c, x in zip(f.name, f.name_core, forms, strict=True))
    assert f[["name", "phone", "address"]].dtypes.eq(f.tsr_id.dtype).all()  # pandas' text dtype, like the ids
