"""The shop's history window and how moments inside it are drawn.

Times are int64 seconds of shop-local wall-clock time counted as if it were UTC: the files are written
without offsets, so local time is the natural unit and day boundaries are plain integer divisions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from orchestration.demo.catalog import HOUR_WEIGHTS

DAY = 86_400
HOUR = 3_600
_EPOCH = dt.date(1970, 1, 1)
# Hours repeated in proportion to their weight: indexing it with uniform integers draws an hour several
# times faster than a weighted choice, which matters for millions of orders and events.
_HOUR_TABLE = np.repeat(np.arange(24, dtype=np.int64), np.asarray(HOUR_WEIGHTS, dtype=np.int64))


@dataclass(frozen=True)
class History:
    """The inclusive window [start 00:00:00, end 23:59:59] that all clean rows fall in."""

    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def t0(self) -> int:
        return (self.start - _EPOCH).days * DAY

    @property
    def t_end(self) -> int:
        return (self.end - _EPOCH).days * DAY + DAY - 1

    def day_index(self, ts: np.ndarray) -> np.ndarray:
        return (ts - self.t0) // DAY

    def day_start(self, ts: np.ndarray) -> np.ndarray:
        return ts - (ts - self.t0) % DAY

    def yyyymmdd(self, ts: np.ndarray) -> np.ndarray:
        """The shop-local calendar date of each moment as an integer such as 20240315."""
        days = (ts // DAY).astype("datetime64[D]")
        years = days.astype("datetime64[Y]")
        months = days.astype("datetime64[M]")
        y = years.astype(np.int64) + 1970
        m = (months - years).astype(np.int64) + 1
        d = (days - months).astype(np.int64) + 1
        return y * 10_000 + m * 100 + d

    def time_of_day(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Seconds after midnight, following the shop's hourly traffic curve."""
        return _HOUR_TABLE[rng.integers(0, len(_HOUR_TABLE), n)] * HOUR + rng.integers(0, HOUR, n)

    def moments(self, rng: np.random.Generator, n: int, day_weights: np.ndarray | None = None) -> np.ndarray:
        """n moments in the window: days by weight (uniform if None), hours by the traffic curve."""
        if day_weights is None:
            days = rng.integers(0, self.days, n)
        else:
            days = rng.choice(self.days, size=n, p=day_weights / day_weights.sum())
        return self.t0 + days.astype(np.int64) * DAY + self.time_of_day(rng, n)

    def between(self, rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """A uniform moment in [lo, hi] per row (hi >= lo)."""
        return lo + np.floor(rng.random(len(lo)) * (hi - lo + 1)).astype(np.int64)


def exponential_seconds(rng: np.random.Generator, mean_days: float, n: int) -> np.ndarray:
    return (rng.exponential(mean_days * DAY, n)).astype(np.int64)
