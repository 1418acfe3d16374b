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


SCALES = {
    "full": Scale("full", firms_2005=830_000, entrants_2010=62_000, exit_rate=0.05,
                  links_2005=3_586_090, links_2010=4_463_168, max_in_degree=8_000,
                  bsjbsa_mfg=11_000, bsjbsa_nonmfg=11_900),
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
    # import starting (latent index, probit): shock_i standardised, unobserved u_i, log sales
    start_pi_shock: float = 0.55
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
    # seed 000: d ln(wH/wL) = a + b1 d_off + b2 d_off * outsourcing05_std + e
    wage_b1: float = 0.40
    wage_b2: float = -0.55
    wage_noise_sd: float = 0.02
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
