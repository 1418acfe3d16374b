"""Power-law fits by Clauset, Shalizi & Newman (2009, "CSN") for degree distributions (Figure A1) and any
other heavy-tailed quantity, discrete (positive integers) or continuous.

For every distinct x_min (CSN §3.3; a cap only when asked), α by maximum likelihood (discrete: CSN
eq. 3.5 maximised numerically, for all candidates at once; continuous: eq. 3.1 in closed form) and the
Kolmogorov–Smirnov distance between the tail's empirical CDF and the fitted one over the whole support
(both sides of every jump of the empirical CDF; for discrete data every integer of the support); x_min
minimises it. Then what the usual fits leave out: the semi-parametric bootstrap goodness-of-fit p-value
with a fresh x_min search per replicate (CSN §4.1), and Vuong likelihood-ratio tests against the
lognormal and the exponential on the same tail (CSN §5). The ``powerlaw`` package and igraph are used in
the tests as independent checks of α and x_min."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats

from analytics.econometrics.result import EstimationWarning

ALPHA_BOUNDS = (1.0001, 8.0)
GOLDEN = (np.sqrt(5) - 1) / 2
ALPHA_TOL = 1e-8
LOGNORMAL_MAXITER = 2000


@dataclass
class PowerLawFit:
    alpha: float
    xmin: float  # an integer for discrete fits
    ks: float
    n_tail: int
    n: int
    alpha_se: float
    discrete: bool = True
    n_candidates: int = 0  # x_min values searched
    gof_p: float | None = None
    n_boot: int = 0
    lr_lognormal: tuple[float, float] | None = None  # (normalised LR, p); LR > 0 favours the power law
    lr_exponential: tuple[float, float] | None = None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def as_data(x, discrete: bool) -> np.ndarray:
    """Positive, finite observations as floats, sorted; discrete data must be integers (refused otherwise,
    never truncated). Zeros and negatives are outside a power law's support and are left out."""
    a = np.asarray(x, dtype=np.float64).ravel()
    bad = ~np.isfinite(a)
    if bad.any():
        raise ValueError(f"power-law fit: {int(bad.sum())} missing or infinite value(s)")
    a = a[a > 0]
    if discrete:
        frac = a != np.floor(a)
        if frac.any():
            raise ValueError(f"discrete power-law fit needs integer data: {int(frac.sum()):,} of {len(a):,} values "
                             f"are not integers (e.g. {a[frac][0]:g}); fit with discrete=False")
    return np.sort(a)


def _golden_min(f, lo: np.ndarray, hi: np.ndarray, tol: float = ALPHA_TOL) -> np.ndarray:
    """Element-wise golden-section minimisation of a unimodal vector function on [lo, hi]."""
    a, b = lo.astype(np.float64), hi.astype(np.float64)
    for _ in range(int(np.ceil(np.log(tol / np.max(b - a)) / np.log(GOLDEN)))):
        c, d = b - GOLDEN * (b - a), a + GOLDEN * (b - a)
        left = f(c) < f(d)  # the minimum lies in [a, d]
        a, b = np.where(left, a, c), np.where(left, d, b)
    return (a + b) / 2


def alpha_discrete(xmins: np.ndarray, n: np.ndarray, slog: np.ndarray) -> np.ndarray:
    """Discrete MLE for every x_min at once: minimise n ln ζ(α, x_min) + α Σ ln x (CSN eq. 3.5; the
    objective is convex in α), on ``ALPHA_BOUNDS``."""
    xmins, n, slog = (np.asarray(v, dtype=np.float64) for v in (xmins, n, slog))
    return _golden_min(lambda a: n * np.log(special.zeta(a, xmins)) + a * slog,
                       np.full(len(xmins), ALPHA_BOUNDS[0]), np.full(len(xmins), ALPHA_BOUNDS[1]))


def alpha_continuous(xmins: np.ndarray, n: np.ndarray, slog: np.ndarray) -> np.ndarray:
    """Continuous MLE α = 1 + n / Σ ln(x / x_min) for every x_min at once (CSN eq. 3.1)."""
    with np.errstate(divide="ignore"):
        return 1 + n / (slog - n * np.log(xmins))


def ks_continuous(tail: np.ndarray, alpha: float, xmin: float, one_sided: bool = False) -> float:
    """sup |S − P| for a sorted continuous ``tail``, the empirical CDF S taken just before and at each of
    its jumps; P(x) = 1 − (x/x_min)^(1−α). ``one_sided``: only just before each jump, as CSN's published
    code (plfit.m) and the ``powerlaw`` package compute it, which can miss the supremum."""
    n = len(tail)
    p = 1 - (tail / xmin) ** (1 - alpha)
    i = np.arange(1, n + 1)
    below = np.max(np.abs(p - (i - 1) / n))
    return float(below if one_sided else max(below, np.max(i / n - p)))


def ks_discrete(values: np.ndarray, counts: np.ndarray, alpha: float, xmin: float) -> float:
    """sup over every integer x ≥ x_min of |S(x) − P(x)|, P(x) = 1 − ζ(α, x + 1)/ζ(α, x_min). S is flat
    between the observed ``values`` (distinct, sorted, with ``counts``), so the supremum is at an observed
    value or at the integer just before one."""
    s_at = np.cumsum(counts) / counts.sum()
    s_before = np.concatenate([[0.0], s_at[:-1]])
    z0 = special.zeta(alpha, xmin)
    p_at = 1 - special.zeta(alpha, values + 1) / z0
    p_before = 1 - special.zeta(alpha, values) / z0
    return float(max(np.max(np.abs(s_at - p_at)), np.max(np.abs(s_before - p_before))))


def _candidates(xs: np.ndarray, min_tail: int, cap: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values that leave at least ``min_tail`` observations and a non-constant tail (positions of
    their first occurrence in sorted ``xs``); ``cap`` keeps that many, evenly spread over the list."""
    vals, first = np.unique(xs, return_index=True)
    ok = (len(xs) - first >= min_tail) & (vals < xs[-1])
    vals, first = vals[ok], first[ok]
    if cap is not None and len(vals) > cap:
        keep = np.unique(np.linspace(0, len(vals) - 1, cap).round().astype(int))
        vals, first = vals[keep], first[keep]
    return vals, first


def fit(x, xmin: float | None = None, discrete: bool = True, min_tail: int = 2,
        max_xmin_candidates: int | None = None, one_sided_ks: bool = False) -> PowerLawFit:
    """Fit a power law to ``x`` (discrete: positive integers), x_min searched over every distinct value
    (unless given; ``max_xmin_candidates`` caps the search) by the smallest KS distance (CSN §3.3).
    ``one_sided_ks`` reproduces the published CSN code for continuous data (see ``ks_continuous``)."""
    xs = as_data(x, discrete)
    if xmin is not None:
        vals, first = np.array([float(xmin)]), np.array([np.searchsorted(xs, xmin, side="left")])
    else:
        vals, first = _candidates(xs, min_tail, max_xmin_candidates)
    if len(vals) == 0 or len(xs) - first[0] < 2:
        raise ValueError(f"power-law fit: {len(xs):,} positive observations, fewer than {min_tail} above any "
                         "candidate x_min with a non-constant tail")
    logs = np.log(xs)
    suffix = np.concatenate([np.cumsum(logs[::-1])[::-1], [0.0]])
    n_t = len(xs) - first
    alphas = (alpha_discrete if discrete else alpha_continuous)(vals, n_t, suffix[first])
    if discrete:
        uv, uc = np.unique(xs, return_counts=True)
        starts = np.searchsorted(uv, vals, side="left")
        ks = np.array([ks_discrete(uv[j:], uc[j:], a, v) for j, a, v in zip(starts, alphas, vals, strict=True)])
    else:
        ks = np.array([ks_continuous(xs[j:], a, v, one_sided_ks) for j, a, v in zip(first, alphas, vals, strict=True)])
    best = int(np.nanargmin(ks))
    alpha, n_tail = float(alphas[best]), int(n_t[best])
    if discrete and min(alpha - ALPHA_BOUNDS[0], ALPHA_BOUNDS[1] - alpha) < 1e-6:
        warnings.warn(f"power-law fit: α = {alpha:.4g} at its search bound {ALPHA_BOUNDS}", EstimationWarning,
                      stacklevel=2)
    xm = float(vals[best])
    return PowerLawFit(alpha, int(xm) if discrete else xm, float(ks[best]), n_tail, len(xs),
                       (alpha - 1) / np.sqrt(n_tail), discrete, len(vals))


def sample(n: int, alpha: float, xmin: float, rng: np.random.Generator, discrete: bool = True) -> np.ndarray:
    """Power-law draws above x_min by inversion: continuous in closed form; discrete exactly, starting from
    CSN's rounding approximation (eq. D.6) and stepping to the smallest x with P(X ≤ x) ≥ u."""
    u = rng.random(n)
    if not discrete:
        return xmin * (1 - u) ** (-1 / (alpha - 1))
    x = np.maximum(np.floor((xmin - 0.5) * (1 - u) ** (-1 / (alpha - 1)) + 0.5), xmin)
    z0 = special.zeta(alpha, xmin)

    def cdf(v):  # P(X ≤ v)
        return 1 - special.zeta(alpha, v + 1) / z0

    todo = np.arange(n)
    while todo.size:  # the approximation is off by a step or two at most, and only for few draws
        xt, ut = x[todo], u[todo]
        step = (cdf(xt) < ut).astype(np.float64) - ((xt > xmin) & (cdf(xt - 1) >= ut))
        x[todo] += step
        todo = todo[step != 0]
    return x


def bootstrap_gof(x, f: PowerLawFit, n_boot: int = 100, seed: int = 0, **fit_kw) -> float:
    """CSN semi-parametric bootstrap p-value (§4.1): share of synthetic data sets (power law above x_min,
    the empirical body below it) whose KS distance, x_min searched afresh, is at least the observed one.
    Its standard error is about √(p(1 − p)/n_boot)."""
    xs = as_data(x, f.discrete)
    rng = np.random.default_rng(seed)
    body = xs[xs < f.xmin]
    p_tail = f.n_tail / len(xs)
    worse = 0
    for _ in range(n_boot):
        nt = rng.binomial(len(xs), p_tail)
        syn = np.concatenate([sample(nt, f.alpha, f.xmin, rng, f.discrete),
                              rng.choice(body, len(xs) - nt) if len(body) else np.empty(0)])
        worse += fit(syn, discrete=f.discrete, **fit_kw).ks >= f.ks
    return worse / n_boot


def _vuong(ll_a: np.ndarray, ll_b: np.ndarray) -> tuple[float, float]:
    """Normalised log-likelihood ratio R/(σ√n) and its two-sided p-value (CSN eq. 5.2)."""
    d = ll_a - ll_b
    n, sd = len(d), d.std()
    if sd == 0:
        return 0.0, 1.0
    r = d.sum() / (sd * np.sqrt(n))
    return float(r), float(special.erfc(abs(r) / np.sqrt(2)))


def _pl_loglik(t: np.ndarray, alpha: float, xmin: float, discrete: bool) -> np.ndarray:
    if discrete:
        return -alpha * np.log(t) - np.log(special.zeta(alpha, xmin))
    return np.log(alpha - 1) - np.log(xmin) - alpha * np.log(t / xmin)


def _lognormal_loglik(t: np.ndarray, xmin: float, discrete: bool) -> np.ndarray:
    """Lognormal on x ≥ x_min fitted by ML (discrete: the continuous lognormal binned to [x − ½, x + ½)).
    Warns when the optimiser stops at its iteration limit without converging."""
    lt = np.log(t)

    def ll(p):
        mu, sig = p[0], np.exp(p[1])
        if not discrete:
            return stats.norm.logpdf((lt - mu) / sig) - np.log(sig) - lt - stats.norm.logsf((np.log(xmin) - mu) / sig)
        lo = stats.norm.logsf((np.log(t - 0.5) - mu) / sig)
        hi = stats.norm.logsf((np.log(t + 0.5) - mu) / sig)
        mass = lo + np.log1p(-np.exp(np.minimum(hi - lo, -1e-300)))
        return mass - stats.norm.logsf((np.log(xmin - 0.5) - mu) / sig)

    res = optimize.minimize(lambda p: -ll(p).sum(), x0=[lt.mean(), np.log(max(lt.std(), 0.1))], method="Nelder-Mead",
                            options={"xatol": 1e-6, "fatol": 1e-8, "maxiter": LOGNORMAL_MAXITER})
    if not res.success:
        warnings.warn(f"lognormal fit for the likelihood-ratio test did not converge ({res.message.rstrip('.')}, "
                      f"{res.nit} iterations): the power law vs lognormal comparison is unreliable",
                      EstimationWarning, stacklevel=3)
    return ll(res.x)


def _exponential_loglik(t: np.ndarray, xmin: float, discrete: bool) -> np.ndarray:
    """Exponential on x ≥ x_min, λ by ML in closed form (discrete: P(x) = (1 − e^−λ) e^{−λ(x − x_min)})."""
    m = (t - xmin).mean()
    if not discrete:
        lam = 1 / m
        return np.log(lam) - lam * (t - xmin)
    lam = np.log1p(1 / m) if m > 0 else 50.0
    return np.log1p(-np.exp(-lam)) - lam * (t - xmin)


def compare(x, f: PowerLawFit) -> PowerLawFit:
    """Add Vuong LR tests against the lognormal and the exponential on the fitted tail."""
    xs = as_data(x, f.discrete)
    t = xs[xs >= f.xmin]
    pl = _pl_loglik(t, f.alpha, f.xmin, f.discrete)
    f.lr_lognormal = _vuong(pl, _lognormal_loglik(t, f.xmin, f.discrete))
    f.lr_exponential = _vuong(pl, _exponential_loglik(t, f.xmin, f.discrete))
    return f


def fit_full(x, n_boot: int = 100, seed: int = 0, **fit_kw) -> PowerLawFit:
    """Fit, bootstrap goodness of fit and LR comparisons in one call."""
    f = fit(x, **fit_kw)
    if n_boot:
        kw = {k: v for k, v in fit_kw.items() if k != "discrete"}
        f.gof_p, f.n_boot = bootstrap_gof(x, f, n_boot, seed, **kw), n_boot
    return compare(x, f)
