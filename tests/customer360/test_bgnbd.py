"""Our BG/NBD against the published CDNOW results of Fader, Hardie & Lee (2005) and their closed forms."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special

from orchestration.models import bgnbd
from orchestration.models.config import BgNbdConfig, TimeUnit, bgnbd_config
from orchestration.models.predictions import fit_day

CDNOW = Path(__file__).parent / "data" / "cdnow_customers_summary.csv"
PAPER = bgnbd.BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)  # weeks; 2,357 customers, 39-week calibration


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return pd.read_csv(CDNOW)


@pytest.fixture(scope="module")
def cdnow_fit(cdnow: pd.DataFrame) -> bgnbd.BgNbdFit:
    return bgnbd.fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


def test_maximum_likelihood_reproduces_the_published_cdnow_fit(cdnow_fit: bgnbd.BgNbdFit) -> None:
    fitted = cdnow_fit.params
    assert cdnow_fit.converged and cdnow_fit.n_customers == 2357
    for name in ("r", "alpha", "a", "b"):
        assert getattr(fitted, name) == pytest.approx(getattr(PAPER, name), rel=2e-3), name
    assert cdnow_fit.log_likelihood == pytest.approx(-9582.4, abs=0.1)


def test_conditional_expectation_matches_the_paper_example() -> None:
    # FHL 2005: a customer with x = 2, t_x = 30.43, T = 38.86 weeks makes 1.226 purchases in the next 39.
    assert bgnbd.expected_purchases(PAPER, 39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=1e-3)


def test_expected_purchases_of_a_new_customer_match_hardies_spreadsheet(cdnow_fit: bgnbd.BgNbdFit) -> None:
    times = [0.1429, 1.0, 3.00, 31.8571, 32.00, 78.00]
    expected = [0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576]
    np.testing.assert_allclose(bgnbd.expected_purchases_new_customer(cdnow_fit.params, times), expected, atol=5e-4)


def _paper_p_alive(p: bgnbd.BgNbdParams, x: float, t_x: float, T: float) -> float:
    if x == 0:
        return 1.0
    return 1.0 / (1.0 + (p.a / (p.b + x - 1)) * ((p.alpha + T) / (p.alpha + t_x)) ** (p.r + x))


def _paper_expectation(p: bgnbd.BgNbdParams, t: float, x: float, t_x: float, T: float) -> float:
    """Eq. 10 exactly as printed (fine for moderate x; ours uses Euler's transformation)."""
    z = t / (p.alpha + T + t)
    hyp = special.hyp2f1(p.r + x, p.b + x, p.a + p.b + x - 1, z)
    head = (p.a + p.b + x - 1) / (p.a - 1) * (1 - ((p.alpha + T) / (p.alpha + T + t)) ** (p.r + x) * hyp)
    dropout = (p.a / (p.b + x - 1)) * ((p.alpha + T) / (p.alpha + t_x)) ** (p.r + x) if x > 0 else 0.0
    return head / (1 + dropout)


@pytest.mark.parametrize(
    ("x", "t_x", "T"),
    [(0, 0.0, 38.86), (1, 1.71, 38.86), (2, 30.43, 38.86), (6, 20.0, 38.86), (15, 37.0, 38.86), (3, 2.0, 30.0)],
)
def test_closed_forms_agree_with_the_papers_equations(x: int, t_x: float, T: float) -> None:
    assert bgnbd.p_alive(PAPER, x, t_x, T) == pytest.approx(_paper_p_alive(PAPER, x, t_x, T), rel=1e-12)
    for t in (1.0, 13.0, 39.0):
        assert bgnbd.expected_purchases(PAPER, t, x, t_x, T) == pytest.approx(
            _paper_expectation(PAPER, t, x, t_x, T), rel=1e-9
        )


def test_no_repeat_purchase_means_alive_and_heavy_buyers_stay_finite() -> None:
    assert bgnbd.p_alive(PAPER, [0, 0], [0.0, 0.0], [1.0, 100.0]).tolist() == [1.0, 1.0]
    heavy = bgnbd.expected_purchases(PAPER, 13.0, [300, 500], [100.0, 104.0], [104.0, 104.0])
    assert np.all(np.isfinite(heavy)) and np.all(heavy > 0)


def test_the_time_unit_rescales_alpha_only(cdnow: pd.DataFrame, cdnow_fit: bgnbd.BgNbdFit) -> None:
    in_days = bgnbd.fit(cdnow["frequency"], cdnow["recency"] * 7, cdnow["T"] * 7)
    assert in_days.params.alpha == pytest.approx(7 * cdnow_fit.params.alpha, rel=1e-3)
    for name in ("r", "a", "b"):
        assert getattr(in_days.params, name) == pytest.approx(getattr(cdnow_fit.params, name), rel=1e-3)


def test_fit_day_predicts_for_every_buyer_or_explains_why_not() -> None:
    cdnow = pd.read_csv(CDNOW)
    summary = pd.DataFrame(
        {
            "customer_id": cdnow["ID"].astype(str),
            "frequency": cdnow["frequency"],
            "recency_days": cdnow["recency"] * 7,
            "tenure_days": cdnow["T"] * 7,
        }
    )
    day = date(1997, 9, 30)
    result = fit_day(summary, day, BgNbdConfig(time_unit=TimeUnit.WEEK))
    assert result.skipped_reason is None and result.fit is not None
    assert result.fit.params.r == pytest.approx(PAPER.r, rel=2e-3)
    assert result.predictions["p_alive"].between(0, 1).all() and len(result.predictions) == 2357

    small = fit_day(summary.head(5), day, BgNbdConfig(min_customers=20))
    assert small.fit is None and "fewer than" in small.skipped_reason
    assert small.predictions["p_alive"].isna().all()
    one_timers = fit_day(summary.assign(frequency=0, recency_days=0), day, BgNbdConfig())
    assert one_timers.fit is None and "no repeat buyers" in one_timers.skipped_reason


def test_python_reads_the_model_settings_from_dbt_project_vars() -> None:
    config = bgnbd_config()
    assert config.time_unit in (TimeUnit.DAY, TimeUnit.WEEK)
    assert config.horizon_days == 90


def test_the_analytic_gradient_matches_finite_differences(cdnow: pd.DataFrame) -> None:
    x, t_x, T = (cdnow[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    point = bgnbd.BgNbdParams(r=0.5, alpha=3.0, a=0.8, b=2.0)
    analytic = bgnbd._gradient(point, bgnbd._Sample.of(x, t_x, T, compress=False)).sum(axis=1)
    values = np.array([point.r, point.alpha, point.a, point.b])
    numeric = []
    for i in range(4):
        step = np.zeros(4)
        step[i] = 1e-6 * values[i]
        up = bgnbd.log_likelihood(bgnbd.BgNbdParams(*(values + step)), x, t_x, T).sum()
        down = bgnbd.log_likelihood(bgnbd.BgNbdParams(*(values - step)), x, t_x, T).sum()
        numeric.append((up - down) / (2 * step[i]))
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5)
