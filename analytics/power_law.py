"""Discrete power-law fit by Clauset, Shalizi & Newman (2009) for degree distributions (Figure A1).

α by maximum likelihood for each candidate x_min, x_min by the smallest Kolmogorov–Smirnov distance;
then what the usual fits leave out: the semi-parametric bootstrap goodness-of-fit p-value (CSN §4.1) and
Vuong likelihood-ratio tests against the discrete lognormal and exponential (CSN §5). Written here
because the ``powerlaw`` package and igraph give the point fit but neither the bootstrap p-value with a
fresh x_min search per replicate nor a discrete lognormal comparison on a shared tail; both are used
in the tests as independent checks of α and x_min."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats

ALPHA_BOUNDS = (1.0001, 8.0)


@dataclass
class PowerLawFit:
    alpha: float
    xmin: int
    ks: float
    n_tail: int
    n: int
    alpha_se: float
    gof_p: float | None = None
    n_boot: int = 0
    lr_lognormal: tuple[float, float] | None = None  # (normalised LR, p); LR > 0 favours the power law
    lr_exponential: tuple[float, float] | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


def _mle_alpha(tail: np.ndarray, xmin: int) -> float:
    """Discrete MLE: maximise −n ln ζ(α, x_min) − α Σ ln x."""
    n, slog = len(tail), np.log(tail).sum()
    res = optimize.minimize_scalar(lambda a: n * np.log(special.zeta(a, xmin)) + a * slog,
                                   bounds=ALPHA_BOUNDS, method="bounded", options={"xatol": 1e-7})
    return float(res.x)


def _ks(tail: np.ndarray, alpha: float, xmin: int) -> float:
    """Max |S(x) − P(x)| over the tail's support, P the fitted discrete CDF."""
    vals, counts = np.unique(tail, return_counts=True)
    emp = np.cumsum(counts) / len(tail)
    fit = 1 - special.zeta(alpha, vals + 1) / special.zeta(alpha, xmin)
    return float(np.max(np.abs(emp - fit)))


def fit(x, xmin: int | None = None, min_tail: int = 50, max_xmin_candidates: int = 200) -> PowerLawFit:
    """Fit a discrete power law to positive integers ``x`` (x_min searched unless given)."""
    x = np.asarray(x, dtype=np.int64)
    x = x[x > 0]
    if xmin is None:
        vals = np.unique(x)
        counts_ge = len(x) - np.searchsorted(np.sort(x), vals, side="left")
        cands = vals[counts_ge >= min_tail][:max_xmin_candidates]
        if len(cands) == 0:
            raise ValueError(f"fewer than {min_tail} observations: no power-law tail to fit")
        best = None
        for c in cands:
            tail = x[x >= c]
            a = _mle_alpha(tail, int(c))
            d = _ks(tail, a, int(c))
            if best is None or d < best[0]:
                best = (d, int(c), a)
        ks, xmin, alpha = best
    else:
        tail = x[x >= xmin]
        alpha = _mle_alpha(tail, xmin)
        ks = _ks(tail, alpha, xmin)
    n_tail = int((x >= xmin).sum())
    return PowerLawFit(alpha, int(xmin), ks, n_tail, len(x), (alpha - 1) / np.sqrt(n_tail))


def sample(n: int, alpha: float, xmin: int, rng: np.random.Generator) -> np.ndarray:
    """Discrete power-law draws (CSN eq. D.6 approximation, exact to ~1e-3 for x_min ≥ 1)."""
    u = rng.random(n)
    return np.floor((xmin - 0.5) * (1 - u) ** (-1 / (alpha - 1)) + 0.5).astype(np.int64)


def bootstrap_gof(x, f: PowerLawFit, n_boot: int = 100, seed: int = 0, **fit_kw) -> float:
    """CSN semi-parametric bootstrap p-value: share of synthetic data sets (power law above x_min, the
    empirical body below it) whose refitted KS distance is at least the observed one."""
    x = np.asarray(x, dtype=np.int64)
    x = x[x > 0]
    rng = np.random.default_rng(seed)
    body = x[x < f.xmin]
    p_tail = f.n_tail / len(x)
    worse = 0
    for _ in range(n_boot):
        nt = rng.binomial(len(x), p_tail)
        syn = np.concatenate([sample(nt, f.alpha, f.xmin, rng),
                              rng.choice(body, len(x) - nt) if len(body) else np.empty(0, np.int64)])
        worse += fit(syn, **fit_kw).ks >= f.ks
    return worse / n_boot


def _vuong(ll_a: np.ndarray, ll_b: np.ndarray) -> tuple[float, float]:
    """Normalised log-likelihood ratio R/(σ√n) and its two-sided p-value (CSN eq. 5.2)."""
    d = ll_a - ll_b
    n, sd = len(d), d.std()
    if sd == 0:
        return 0.0, 1.0
    r = d.sum() / (sd * np.sqrt(n))
    return float(r), float(special.erfc(abs(r) / np.sqrt(2)))


def _pl_loglik(t: np.ndarray, alpha: float, xmin: int) -> np.ndarray:
    return -alpha * np.log(t) - np.log(special.zeta(alpha, xmin))


def _lognormal_loglik(t: np.ndarray, xmin: int) -> np.ndarray:
    """Discrete lognormal on x ≥ x_min (continuous lognormal binned to [x−½, x+½)), fitted by ML."""
    def ll(p):
        mu, sig = p[0], np.exp(p[1])
        lo = stats.norm.logsf((np.log(t - 0.5) - mu) / sig)
        hi = stats.norm.logsf((np.log(t + 0.5) - mu) / sig)
        mass = lo + np.log1p(-np.exp(np.minimum(hi - lo, -1e-300)))
        return mass - stats.norm.logsf((np.log(xmin - 0.5) - mu) / sig)

    lt = np.log(t)
    res = optimize.minimize(lambda p: -ll(p).sum(), x0=[lt.mean(), np.log(max(lt.std(), 0.1))], method="Nelder-Mead",
                            options={"xatol": 1e-6, "fatol": 1e-8, "maxiter": 2000})
    return ll(res.x)


def _exponential_loglik(t: np.ndarray, xmin: int) -> np.ndarray:
    """Discrete exponential P(x) = (1 − e^−λ) e^{−λ(x − x_min)}, λ by ML (closed form)."""
    m = (t - xmin).mean()
    lam = np.log1p(1 / m) if m > 0 else 50.0
    return np.log1p(-np.exp(-lam)) - lam * (t - xmin)


def compare(x, f: PowerLawFit) -> PowerLawFit:
    """Add Vuong LR tests against the lognormal and the exponential on the fitted tail."""
    x = np.asarray(x, dtype=np.int64)
    t = x[x >= f.xmin].astype(float)
    pl = _pl_loglik(t, f.alpha, f.xmin)
    f.lr_lognormal = _vuong(pl, _lognormal_loglik(t, f.xmin))
    f.lr_exponential = _vuong(pl, _exponential_loglik(t, f.xmin))
    return f


def fit_full(x, n_boot: int = 100, seed: int = 0, **fit_kw) -> PowerLawFit:
    """Fit, bootstrap goodness of fit and LR comparisons in one call."""
    f = fit(x, **fit_kw)
    if n_boot:
        f.gof_p, f.n_boot = bootstrap_gof(x, f, n_boot, seed, **fit_kw), n_boot
    return compare(x, f)
