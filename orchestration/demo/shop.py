"""Generate a whole demo shop: every file of the input data contract, reproducibly.

The same ShopSpec (with an explicit end_date) always gives byte-identical files: all randomness comes
from one numpy SeedSequence, split into a named stream per step so that steps do not shift each
other's draws, and DuckDB writes rows in the order numpy made them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from orchestration.demo import behaviour, commerce, people
from orchestration.demo.clock import History
from orchestration.demo.csvout import CsvWriter, Table
from orchestration.demo.dirty import CLEAN, KIND_OF_CODE

if TYPE_CHECKING:
    from rich.progress import Progress

FILES: tuple[str, ...] = (
    "customers.csv",
    "orders.csv",
    "order_items.csv",
    "products.csv",
    "events.csv",
    "identities.csv",
    "consents.csv",
    "push_tokens.csv",
    "web_push_subscriptions.csv",
    "cs_chats.csv",
    "surveys.csv",
)
_STREAMS: tuple[str, ...] = (
    "products",
    "customers",
    "customers_table",
    "orders",
    "orders_table",
    "items_table",
    "push",
    "push_table",
    "web_push",
    "web_push_table",
    "consents",
    "anon_ids",
    "events",
    "identities",
    "cs_chats",
    "surveys",
    "products_table",
    "leads",
    "lead_visits",
)
_SEOUL = dt.timezone(dt.timedelta(hours=9))  # Korea has no daylight saving time


@dataclass(frozen=True)
class ShopSpec:
    customers: int = 5_000
    days: int = 365  # history length, ending at end_date (inclusive)
    seed: int = 7
    end_date: dt.date | None = None  # None -> today in Asia/Seoul
    dirty_share: float = 0.003  # share of rows per file made realistically dirty
    # Leads per customer: identified contacts from paid ads who never signed up, extra customers.csv rows
    # with an empty signed_up_at (0.03 makes them about 3% of the file).
    lead_share: float = 0.03
    # Volume controls, as multiples of the natural shop (1.0 keeps the files byte-identical): orders per
    # buyer (cycles shrink and churn falls by the factor, so a 1M-customer shop can carry 10M orders),
    # and browsing sessions without a purchase (most of events.csv besides the order funnels).
    order_volume: float = 1.0
    browse_volume: float = 1.0
    funnel_share: float = 1.0  # share of paid orders with a tracked web/app funnel (view, cart, checkout)

    def __post_init__(self) -> None:
        if self.customers < 1 or self.days < 1:
            raise ValueError("a shop needs at least one customer and one day of history")
        if not 0.0 <= self.dirty_share <= 0.2:
            raise ValueError("dirty_share must lie in [0, 0.2]")
        if not 0.0 <= self.lead_share <= 0.5:
            raise ValueError("lead_share must lie in [0, 0.5]")
        if not 0.1 <= self.order_volume <= 20.0:
            raise ValueError("order_volume must lie in [0.1, 20]")
        if not 0.0 <= self.browse_volume <= 20.0:
            raise ValueError("browse_volume must lie in [0, 20]")
        if not 0.0 <= self.funnel_share <= 1.0:
            raise ValueError("funnel_share must lie in [0, 1]")

    @property
    def leads(self) -> int:
        return round(self.lead_share * self.customers)


@dataclass(frozen=True)
class ShopSummary:
    out_dir: Path
    start_date: dt.date
    end_date: dt.date
    rows: dict[str, int]  # file name -> data rows written
    dirty: dict[str, int]  # file -> number of deliberately dirty rows
    dirty_kinds: dict[str, dict[str, int]] = field(default_factory=dict)  # file -> kind -> rows


def _with_order_volume(customers: people.Customers, factor: float) -> people.Customers:
    """Buyers who come back `factor` times as often and as long: about `factor` times the orders."""
    if factor == 1.0:
        return customers
    return replace(
        customers,
        cycle_days=np.maximum(customers.cycle_days / factor, 1.0),
        churn=np.clip(customers.churn / factor, 0.002, 0.95),
    )


def generate_shop(spec: ShopSpec, out_dir: Path, progress: Progress | None = None) -> ShopSummary:
    """Write every contract file; `progress` (a rich Progress) shows each file as it is made."""
    end = spec.end_date or dt.datetime.now(_SEOUL).date()
    history = History(start=end - dt.timedelta(days=spec.days - 1), end=end)
    seeds = np.random.SeedSequence(spec.seed).spawn(len(_STREAMS))
    rng = {name: np.random.default_rng(s) for name, s in zip(_STREAMS, seeds, strict=True)}
    share = spec.dirty_share
    n = spec.customers
    known = n + spec.leads  # rows of customers.csv: customers, then leads
    id_width = max(7, len(str(2 * known + 1)))  # room for the unknown customer ids of dirty orders

    rows: dict[str, int] = {}
    kinds: dict[str, dict[str, int]] = {}

    task = progress.add_task("generating", total=len(FILES)) if progress is not None else None

    def record(table: Table) -> None:
        if progress is not None and task is not None:
            progress.update(task, advance=1, description=f"{table.file} ({table.rows:,} rows)")
        rows[table.file] = table.rows
        codes = np.bincount(table.columns["dirty"], minlength=len(KIND_OF_CODE) + 1)
        kinds[table.file] = {
            str(KIND_OF_CODE[code]): int(count) for code, count in enumerate(codes) if code != CLEAN and count
        }
        writer.write(table)

    with CsvWriter(out_dir) as writer:
        products = commerce.draw_products(rng["products"])
        record(commerce.products_table(rng["products_table"], products, history, share))
        customers = _with_order_volume(people.draw_customers(rng["customers"], n, history), spec.order_volume)
        leads = people.draw_leads(rng["leads"], n, spec.leads, history)
        record(people.customers_table(rng["customers_table"], customers, leads, history, share, id_width))
        orders, items = commerce.draw_orders(rng["orders"], customers, products, history)
        record(commerce.orders_table(rng["orders_table"], orders, history, share, known, id_width))
        record(commerce.order_items_table(rng["items_table"], orders, items, history, share))

        tokens = people.draw_push_tokens(rng["push"], customers, history)
        record(people.push_tokens_table(rng["push_table"], tokens, history, share, id_width))
        web = people.draw_web_push(rng["web_push"], customers, history)
        record(people.web_push_table(rng["web_push_table"], web, history, share, id_width))
        consents, ad_windows = people.consents_table(
            rng["consents"], customers, leads, tokens, web, history, share, id_width
        )
        record(consents)

        visitors = behaviour.draw_visitors(customers, leads)
        anon = behaviour.AnonIds.draw(rng["anon_ids"], visitors.total)
        lead_visits = behaviour.draw_lead_visits(rng["lead_visits"], leads, products, visitors, history)
        record(
            behaviour.events_table(
                rng["events"],
                customers,
                products,
                orders,
                items,
                ad_windows,
                visitors,
                anon,
                lead_visits,
                history,
                share,
                id_width,
                browse_volume=spec.browse_volume,
                funnel_share=spec.funnel_share,
            )
        )
        record(
            behaviour.identities_table(rng["identities"], customers, leads, visitors, anon, history, share, id_width)
        )
        record(behaviour.cs_chats_table(rng["cs_chats"], customers, orders, history, share, id_width))
        record(behaviour.surveys_table(rng["surveys"], orders, history, share, id_width))

    return ShopSummary(
        out_dir=out_dir,
        start_date=history.start,
        end_date=history.end,
        rows={f: rows[f] for f in FILES},
        dirty={f: sum(kinds[f].values()) for f in FILES},
        dirty_kinds={f: kinds[f] for f in FILES},
    )
