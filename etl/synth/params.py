"""Scale settings and planted parameters of the synthetic TSR world.

Calibration targets come from the paper (seed 004): Table 1 (links, mean/median sellers per buyer),
section 2 (top seller > 11,000 buyers, top buyer ~8,000 sellers in 2010), Table 2 (import status shares),
Table A3 (BSJBSA sizes), Table A9 (moments of ρ/(ρ−1), θ_CP, Rauch).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Scale:
    name: str
    firms_2005: int
    entrants_2010: int
    exit_rate: float
    links_2005: int
    links_2010: int
    max_in_degree: int
    bsjbsa_mfg: int
    bsjbsa_nonmfg: int
    n_mfg3: int = 150
    n_mfg4: int = 563
    n_nonmfg3: int = 120
    # 2005 degrees drawn for this many times the target links: the largest buyers cannot find their
    # planted number of distinct reported sellers (measured per scale, so one pass usually suffices)
    pool_oversample: float = 1.06
    # instrument strength (loading of the standardised shock_i in the import-starting index) when
    # ``Planted.start_pi_shock`` is not set: strong on small/medium, so that the planted eq. (16) effects are
    # recoverable; weak on full by the measure valid for a buyer-level instrument, a buyer-clustered KP F below
    # 10 (README, "Import status and instrument strength": the paper's robust KP F of 41.7 is set by a few large
    # buyers' import status, so no loading targets it)
    start_pi_shock: float = 0.55


SCALES = {
    "full": Scale("full", firms_2005=830_000, entrants_2010=62_000, exit_rate=0.05,
                  links_2005=3_586_090, links_2010=4_463_168, max_in_degree=8_000,
                  bsjbsa_mfg=11_000, bsjbsa_nonmfg=10_460, start_pi_shock=0.1),
    "medium": Scale("medium", firms_2005=120_000, entrants_2010=9_000, exit_rate=0.05,
                    links_2005=518_000, links_2010=644_700, max_in_degree=3_000,
                    bsjbsa_mfg=3_000, bsjbsa_nonmfg=1_500, n_nonmfg3=60, pool_oversample=1.03),
    "small": Scale("small", firms_2005=6_000, entrants_2010=450, exit_rate=0.05,
                   links_2005=25_900, links_2010=32_240, max_in_degree=400,
                   bsjbsa_mfg=600, bsjbsa_nonmfg=500, n_mfg3=40, n_mfg4=120, n_nonmfg3=30, pool_oversample=1.05),
}


@dataclass(frozen=True)
class Planted:
    """Every planted parameter; written to ``truth.json`` as ``planted``."""

    # in-degree (sellers per buyer, 2005): floor of a Pareto(x_m, alpha) draw, capped (Table 1, Fig. A1)
    indegree_alpha: float = 1.42
    indegree_xm: float = 1.45
    share_no_suppliers: float = 0.115
    # seller attractiveness: Pareto tail exponent (buyers per seller)
    attract_alpha: float = 1.0
    # distance decay, eq. (15): decay_s = beta * theta_s * rho_s/(rho_s-1) + gamma * air_s * theta_s
    beta_comm: float = 0.12
    gamma_air: float = 0.30
    decay_nonmfg: float = 1.75
    # import starting (latent index, probit): shock_i standardised, unobserved u_i, log sales;
    # start_pi_shock None = the scale's default (Scale.start_pi_shock; truth.json records the value used)
    start_pi_shock: float | None = None
    start_lambda_u: float = 0.8
    start_psi_sales: float = 0.15
    # eq. (16) drop LPM: P(drop) = base + b*D + g*D*z_sales + k*z_sales + l*u + industry/region shifts
    drop_base: float = 0.50
    drop_beta: float = -0.14
    drop_gamma_sales: float = 0.045
    drop_kappa_sales: float = 0.012
    drop_lambda_u: float = 0.10
    # eq. (16) add LPM (in the add sample): base + b*D + gd*D*z_dist + gs*D*z_sales + k's + l*u
    add_base: float = 0.55
    add_beta: float = 0.06
    add_gamma_dist: float = -0.045
    add_gamma_sales: float = 0.040
    add_kappa_dist: float = 0.010
    add_kappa_sales: float = -0.010
    add_lambda_u: float = 0.09
    fe_sd: float = 0.025
    # pool of potential suppliers: each buyer draws (1 + pool_ratio) times its 2005 degree from the gravity
    # process; a random part becomes its 2005 suppliers, the rest the candidates it may add by 2010
    pool_ratio: int = 3
    # share of live firms without 2005 suppliers that buy in 2010 (they fill the gap to the 2010 target)
    new_buyer_share: float = 0.8
    # eq. (19): import starters add differentiated inputs more: + g * D * (Rauch_s - buyer's mean Rauch)
    add_gamma_rauch: float = 0.25
    # world export supply shocks, eq. (17): WES_s ~ N(mean, sd)
    wes_mean: float = 0.30
    wes_sd: float = 0.35
    # seed 000: d ln(wH/wL) = a + b1 d_off + b2 d_off * FO05_std + b3 FO05_std + e, FO05 = the industry's
    # foreign outsourcing over purchases in the base survey year (standardised across industries)
    wage_b1: float = 0.40
    wage_b2: float = -0.55
    wage_b3: float = 0.005
    wage_noise_sd: float = 0.02
    # survey (BSJBSA) panel 2003-2011, value added: ln VA_it = d_t + b_l ln L_it + b_k ln K_it + a_it + e_it,
    # a_it AR(1) (persistence prod_rho, stationary sd prod_sd), investment monotone in a_it given K_it,
    # d_t = prod_year_trend * (t - 2005) (nominal values: no deflator in the contract)
    prod_beta_l: float = 0.60
    prod_beta_k: float = 0.35
    prod_rho: float = 0.70
    prod_sd: float = 0.30
    prod_noise_sd: float = 0.05
    prod_year_trend: float = 0.02
    # survey entry and exit: firms of the TSR-matched panel first surveyed in 2004 or 2005, or gone by 2011;
    # survey-only firms entering or leaving between 2006 and 2009
    survey_entry_share: float = 0.08
    survey_exit_share: float = 0.05
    survey_only_share: float = 0.065
    # Table 6 (section 5.1): P(Offshore_iS = 1) = k_S + off_dom Dom_iS + off_tfp t_i + off_tfp_x t_i x_S, with
    # Dom_iS domestic sourcing of sector S (2005 links, parent-child removed), t_i log TFP 2005 (a + e,
    # centred), x_S = theta_CP x rho/(rho-1) of sector S (sales-weighted, as Table 5); k_S ~ U(off_base_lo, hi).
    # Drawn as a mixture (survey.sector_offshoring): firm i sources abroad at all with probability pi_i, rising
    # with log employment at elasticity off_importer_size around off_importer_share, then sector S with (.)/pi_i.
    off_dom: float = 0.075
    off_tfp: float = 0.03
    off_tfp_x: float = -0.001
    off_base_lo: float = 0.03
    off_base_hi: float = 0.05
    off_importer_share: float = 0.19
    off_importer_size: float = 2.0
    # foreign outsourcing (outsourcing_abroad): industry rate ~ Beta(2, 30), firm noise, reporting share
    fo_report_share: float = 0.85
    # JSIC revision: share of 3-digit groups renumbered in the old-revision years (TSR 2005, survey <= 2006)
    jsic_renumber_share: float = 0.10
    # report noise
    dup_report_rate: float = 0.004
    dangling_report_rate: float = 0.003
    self_report_rate: float = 0.0005
    parent_child_rate: float = 0.012
    provider_geocode_rate: float = 0.80

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Truth:
    """Ground truth collected while generating; serialised to ``truth.json``."""

    scale: str
    seed: int
    planted: dict
    counts: dict = field(default_factory=dict)
    industries: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
