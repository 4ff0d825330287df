"""The BG/NBD model (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way"), by maximum likelihood.

Written here rather than imported: `lifetimes` is archived and does not support numpy 2 / pandas 3, and
`btyd` / `pymc-marketing` bring a whole probabilistic-programming stack for one closed-form likelihood.
Every function is one equation of the paper (numbers in the docstrings), and the tests check the fit
against the paper's published CDNOW estimates. No Dagster or warehouse here: arrays in, numbers out.

Inputs per customer, in one time unit (days or weeks): x = repeat purchase days (frequency), t_x = time of
the last purchase since the first (recency), T = time since the first purchase (tenure).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class BgNbdParams:
    """Purchase rate ~ Gamma(r, alpha) across customers; dropout probability ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class BgNbdFit:
    params: BgNbdParams
    log_likelihood: float
    n_customers: int
    converged: bool
    iterations: int


def _arrays(*values: ArrayLike) -> tuple[FloatArray, ...]:
    return tuple(np.asarray(v, dtype=np.float64) for v in values)


def log_likelihood(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
    """Each customer's log-likelihood (paper eq. 6, in logs so large x or T cannot overflow).

    L = B(a, b+x)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
        + [x > 0] B(a+1, b+x-1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))
    """
    x, t_x, T = _arrays(x, t_x, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    common = (
        special.gammaln(r + x)
        - special.gammaln(r)
        + r * np.log(alpha)
        + special.gammaln(a + b)
        + special.gammaln(b + x)
        - special.gammaln(b)
        - special.gammaln(a + b + x)
    )
    survived = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    # B(a+1, b+x-1) / B(a, b+x) = a / (b+x-1); only defined (and only used) for repeat buyers.
    dropped = np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x)
    return common + np.where(repeat, np.logaddexp(survived, dropped), survived)


def _compress(x: FloatArray, t_x: FloatArray, T: FloatArray) -> tuple[FloatArray, ...]:
    """Identical (x, t_x, T) rows share a likelihood: fit on the distinct rows, weighted by their count."""
    rows, counts = np.unique(np.column_stack([x, t_x, T]), axis=0, return_counts=True)
    return rows[:, 0], rows[:, 1], rows[:, 2], counts.astype(np.float64)


def fit(
    x: ArrayLike, t_x: ArrayLike, T: ArrayLike, *, initial: BgNbdParams | None = None, max_iterations: int = 2000
) -> BgNbdFit:
    """Maximum-likelihood estimates of (r, alpha, a, b).

    Optimised over log-parameters (all four must stay positive) with L-BFGS-B; starts at r = a = b = 1 and
    alpha = mean tenure, where the likelihood is well-behaved for any time unit.
    """
    x_all, t_x_all, T_all = _arrays(x, t_x, T)
    if len(x_all) == 0:
        raise ValueError("BG/NBD needs at least one customer")
    if np.any(x_all < 0) or np.any(t_x_all < 0) or np.any(t_x_all > T_all) or np.any(x_all != np.round(x_all)):
        raise ValueError("BG/NBD needs integer x >= 0 and 0 <= t_x <= T")
    xs, txs, Ts, weights = _compress(x_all, t_x_all, T_all)
    start = initial or BgNbdParams(r=1.0, alpha=max(float(np.mean(T_all)), 1e-3), a=1.0, b=1.0)

    def negative_log_likelihood(log_params: FloatArray) -> float:
        params = BgNbdParams(*np.exp(log_params))
        value = -float(np.dot(weights, log_likelihood(params, xs, txs, Ts)))
        return value if np.isfinite(value) else 1e300

    result = optimize.minimize(
        negative_log_likelihood,
        x0=np.log([start.r, start.alpha, start.a, start.b]),
        method="L-BFGS-B",
        bounds=[(-15.0, 15.0)] * 4,
        options={"maxiter": max_iterations, "ftol": 1e-13, "gtol": 1e-9},
    )
    params = BgNbdParams(*(float(v) for v in np.exp(result.x)))
    return BgNbdFit(
        params=params,
        log_likelihood=-float(result.fun),
        n_customers=len(x_all),
        converged=bool(result.success),
        iterations=int(result.nit),
    )


def p_alive(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
    """P(still active | x, t_x, T) (paper eq. 13). Exactly 1 without repeat purchases: in BG/NBD a customer
    can only drop out right after a repeat purchase."""
    x, t_x, T = _arrays(x, t_x, T)
    return 1.0 / (1.0 + _dropout_odds(params, x, t_x, T))


def _dropout_odds(params: BgNbdParams, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    repeat = x > 0
    log_odds = (
        np.log(a)
        - np.log(np.where(repeat, b + x - 1, 1.0))
        + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    )
    return np.where(repeat, np.exp(np.minimum(log_odds, 700.0)), 0.0)


def expected_purchases(params: BgNbdParams, t: float, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
    """E[purchases in (T, T+t] | x, t_x, T] (paper eq. 10).

    The paper's ((alpha+T)/(alpha+T+t))^(r+x) * 2F1(r+x, b+x; a+b+x-1; z) overflows for frequent buyers;
    Euler's transformation 2F1(p, q; c; z) = (1-z)^(c-p-q) 2F1(c-p, c-q; c; z) turns it into
    (1-z)^(a-1) * 2F1(a+b-1-r, a-1; a+b+x-1; z), whose parameters stay small.
    """
    x, t_x, T = _arrays(x, t_x, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    if abs(a - 1.0) < 1e-9:  # the formula is 0/0 at a = 1; the limit is continuous
        a += 1e-6
    z = t / (alpha + T + t)
    hyp = special.hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
    bracket = 1.0 - np.power(1.0 - z, a - 1) * hyp
    return ((a + b + x - 1) / (a - 1)) * bracket / (1.0 + _dropout_odds(params, x, t_x, T))


def expected_purchases_new_customer(params: BgNbdParams, t: ArrayLike) -> FloatArray:
    """E[X(t)] for a customer just acquired (paper eq. 7)."""
    (t,) = _arrays(t)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    hyp = special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
    return ((a + b - 1) / (a - 1)) * (1.0 - np.power(alpha / (alpha + t), r) * hyp)
