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
import pandas as pd
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


@dataclass(frozen=True)
class _Sample:
    """Customers as distinct (x, t_x, T) rows with counts, and each column as its distinct values plus an
    index: gammaln, digamma and log then run on a few hundred values instead of a million, and the fit
    calls them some forty times."""

    x: FloatArray
    weights: FloatArray
    x_values: FloatArray
    x_index: NDArray[np.intp]
    t_x_values: FloatArray
    t_x_index: NDArray[np.intp]
    T_values: FloatArray
    T_index: NDArray[np.intp]

    @classmethod
    def of(cls, x: FloatArray, t_x: FloatArray, T: FloatArray, *, compress: bool) -> _Sample:
        weights = np.ones(len(x))
        if compress:  # hashing (pandas) rather than np.unique(axis=0), which sorts rows
            counts = pd.DataFrame({"x": x, "t_x": t_x, "T": T}).value_counts(sort=False)
            rows = counts.index.to_frame(index=False)
            x, t_x, T = (rows[c].to_numpy(np.float64) for c in ("x", "t_x", "T"))
            weights = counts.to_numpy(np.float64)
        x_values, x_index = np.unique(x, return_inverse=True)
        t_x_values, t_x_index = np.unique(t_x, return_inverse=True)
        T_values, T_index = np.unique(T, return_inverse=True)
        return cls(x, weights, x_values, x_index, t_x_values, t_x_index, T_values, T_index)

    def of_x(self, values: FloatArray) -> FloatArray:
        """A function of x evaluated on its distinct values, spread back to the rows."""
        return values[self.x_index]

    def of_t_x(self, values: FloatArray) -> FloatArray:
        return values[self.t_x_index]

    def of_T(self, values: FloatArray) -> FloatArray:
        return values[self.T_index]


def _terms(params: BgNbdParams, s: _Sample) -> tuple[FloatArray, FloatArray, FloatArray, NDArray[np.bool_]]:
    """The common factor, the "still alive" term and the "dropped out after t_x" term of eq. 6, in logs."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    xv = s.x_values
    common = (
        s.of_x(special.gammaln(r + xv) + special.gammaln(b + xv) - special.gammaln(a + b + xv))
        - special.gammaln(r)
        + r * np.log(alpha)
        + special.gammaln(a + b)
        - special.gammaln(b)
    )
    repeat = s.x > 0
    r_plus_x = r + s.x
    survived = -r_plus_x * s.of_T(np.log(alpha + s.T_values))
    # B(a+1, b+x-1) / B(a, b+x) = a / (b+x-1); only defined (and only used) for repeat buyers.
    log_b_x_1 = s.of_x(np.log(np.where(xv > 0, b + xv - 1, 1.0)))
    dropped = np.log(a) - log_b_x_1 - r_plus_x * s.of_t_x(np.log(alpha + s.t_x_values))
    return common, survived, dropped, repeat


def _log_likelihood(params: BgNbdParams, s: _Sample) -> FloatArray:
    common, survived, dropped, repeat = _terms(params, s)
    return common + np.where(repeat, np.logaddexp(survived, dropped), survived)


def log_likelihood(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
    """Each customer's log-likelihood (paper eq. 6, in logs so large x or T cannot overflow).

    L = B(a, b+x)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
        + [x > 0] B(a+1, b+x-1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))
    """
    return _log_likelihood(params, _Sample.of(*_arrays(x, t_x, T), compress=False))


def _gradient(params: BgNbdParams, s: _Sample) -> FloatArray:
    """d log-likelihood / d (r, alpha, a, b), per row (4 x n): the optimiser needs no finite differences.

    With L = e^B + [x > 0] e^C (the two terms of eq. 6 after the common factor), w = [x > 0] e^C / L is the
    weight of the "dropped out after the last purchase" term; every derivative mixes the two terms by w.
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    _, survived, dropped, repeat = _terms(params, s)
    w = np.where(repeat, special.expit(dropped - survived), 0.0)
    xv, r_plus_x = s.x_values, r + s.x
    log_alpha_T, log_alpha_t_x = s.of_T(np.log(alpha + s.T_values)), s.of_t_x(np.log(alpha + s.t_x_values))
    d_r = s.of_x(special.digamma(r + xv)) - special.digamma(r) + np.log(alpha)
    d_r -= (1 - w) * log_alpha_T + w * log_alpha_t_x
    inverse_alpha_T, inverse_alpha_t_x = s.of_T(1 / (alpha + s.T_values)), s.of_t_x(1 / (alpha + s.t_x_values))
    d_alpha = r / alpha - r_plus_x * ((1 - w) * inverse_alpha_T + w * inverse_alpha_t_x)
    d_a = special.digamma(a + b) - s.of_x(special.digamma(a + b + xv)) + w / a
    d_b = (
        special.digamma(a + b)
        - special.digamma(b)
        + s.of_x(special.digamma(b + xv) - special.digamma(a + b + xv))
        - w * s.of_x(1 / np.where(xv > 0, b + xv - 1, 1.0))
    )
    return np.vstack([d_r, d_alpha, d_a, d_b])


def fit(
    x: ArrayLike, t_x: ArrayLike, T: ArrayLike, *, initial: BgNbdParams | None = None, max_iterations: int = 2000
) -> BgNbdFit:
    """Maximum-likelihood estimates of (r, alpha, a, b).

    Optimised over log-parameters (all four must stay positive) with L-BFGS-B and the analytic gradient;
    starts at r = a = b = 1 and alpha = mean tenure, where the likelihood is well-behaved for any time unit.
    """
    x_all, t_x_all, T_all = _arrays(x, t_x, T)
    if len(x_all) == 0:
        raise ValueError("BG/NBD needs at least one customer")
    if np.any(x_all < 0) or np.any(t_x_all < 0) or np.any(t_x_all > T_all) or np.any(x_all != np.round(x_all)):
        raise ValueError("BG/NBD needs integer x >= 0 and 0 <= t_x <= T")
    sample = _Sample.of(x_all, t_x_all, T_all, compress=True)
    start = initial or BgNbdParams(r=1.0, alpha=max(float(np.mean(T_all)), 1e-3), a=1.0, b=1.0)

    def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
        values = np.exp(log_params)
        params = BgNbdParams(*values)
        value = -float(np.dot(sample.weights, _log_likelihood(params, sample)))
        gradient = -(_gradient(params, sample) @ sample.weights) * values  # chain rule for log-parameters
        if not np.isfinite(value) or not np.all(np.isfinite(gradient)):
            return 1e300, np.zeros(4)
        return value, gradient

    result = optimize.minimize(
        objective,
        x0=np.log([start.r, start.alpha, start.a, start.b]),
        jac=True,
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
        np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
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
