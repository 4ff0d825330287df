"""The demo shop generator, checked on real files: determinism, the contract's columns, a story that
holds together in time, and dirty rows that are exactly the ones the summary reports."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestration.demo.shop import FILES, ShopSpec, ShopSummary, generate_shop

SEOUL = dt.timezone(dt.timedelta(hours=9))
END = dt.date(2025, 6, 30)
SPEC = ShopSpec(customers=1_500, days=800, seed=11, end_date=END)
PAID_MEDIUMS = {"cpc", "paid", "display", "paid_social"}  # what the signup_benefit audience counts as an ad

CONTRACT: dict[str, tuple[str, ...]] = {
    "customers.csv": (
        "customer_id",
        "name",
        "email",
        "phone",
        "signed_up_at",
        "acquisition_source",
        "acquisition_medium",
        "acquisition_campaign",
        "referred_by",
    ),
    "orders.csv": ("order_id", "customer_id", "ordered_at", "amount", "status"),
    "order_items.csv": ("order_id", "line_no", "product_id", "quantity", "unit_price"),
    "products.csv": ("product_id", "name", "category", "price", "replenishment_days"),
    "events.csv": (
        "event_id",
        "occurred_at",
        "event_type",
        "anonymous_id",
        "customer_id",
        "product_id",
        "utm_source",
        "utm_medium",
        "utm_campaign",
    ),
    "identities.csv": ("anonymous_id", "customer_id", "linked_at"),
    "consents.csv": ("customer_id", "channel", "purpose", "granted", "recorded_at", "source"),
    "push_tokens.csv": ("customer_id", "token", "platform", "registered_at", "revoked_at"),
    "web_push_subscriptions.csv": ("customer_id", "endpoint", "p256dh", "auth", "subscribed_at", "revoked_at"),
    "cs_chats.csv": ("chat_id", "customer_id", "started_at", "topic", "resolved"),
    "surveys.csv": ("response_id", "customer_id", "responded_at", "score", "comment"),
}
# Per file: (the key whose repeats are duplicates, the main timestamp column).
KEYS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "customers.csv": (("customer_id",), "signed_up_at"),
    "orders.csv": (("order_id",), "ordered_at"),
    "order_items.csv": (("order_id", "line_no"), None),
    "products.csv": (("product_id",), None),
    "events.csv": (("event_id",), "occurred_at"),
    "identities.csv": (("anonymous_id", "customer_id"), "linked_at"),
    "consents.csv": ((), "recorded_at"),
    "push_tokens.csv": (("token",), "registered_at"),
    "web_push_subscriptions.csv": (("endpoint",), "subscribed_at"),
    "cs_chats.csv": (("chat_id",), "started_at"),
    "surveys.csv": (("response_id",), "responded_at"),
}


def parse_ts(text: str) -> dt.datetime | None:
    """Shop-local time of an ISO timestamp (offsets converted), None if it is not one."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return value.astimezone(SEOUL).replace(tzinfo=None) if value.tzinfo else value


def normalise_phone(text: str) -> str | None:
    digits = re.sub(r"[\s-]", "", text)
    digits = "0" + digits[3:] if digits.startswith("+82") else digits
    return digits if re.fullmatch(r"010\d{8}", digits) else None


def read(out: Path, file: str) -> list[dict[str, str]]:
    with (out / file).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@dataclass(frozen=True)
class Shop:
    out: Path
    summary: ShopSummary
    tables: dict[str, list[dict[str, str]]]
    broken: dict[str, dict[int, str]]  # file -> row index -> the rule it breaks

    def clean(self, file: str) -> Iterator[dict[str, str]]:
        bad = self.broken[file]
        return (row for i, row in enumerate(self.tables[file]) if i not in bad)


def find_broken(tables: dict[str, list[dict[str, str]]], end: dt.date) -> dict[str, dict[int, str]]:
    """A small loader of our own: which rows break which contract rule."""
    limit = dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
    customers = {row["customer_id"] for row in tables["customers.csv"]}
    broken: dict[str, dict[int, str]] = {}
    for file, rows in tables.items():
        key, ts_col = KEYS[file]
        seen: set[tuple[str, ...]] = set()
        found: dict[int, str] = {}
        for i, row in enumerate(rows):
            rules = []
            k = tuple(row[c] for c in key)
            if key and k in seen:
                rules.append("duplicate_key")
            seen.add(k)
            if ts_col and row[ts_col]:
                moment = parse_ts(row[ts_col])
                if moment is None:
                    rules.append("bad_timestamp")
                elif moment >= limit:
                    rules.append("future_timestamp")
            if file == "customers.csv" and row["phone"] and normalise_phone(row["phone"]) is None:
                rules.append("bad_phone")
            if file == "orders.csv":
                if float(row["amount"]) < 0:
                    rules.append("negative_amount")
                if row["customer_id"] not in customers:
                    rules.append("unknown_customer")
            if file == "events.csv" and not (row["customer_id"] or row["anonymous_id"]):
                rules.append("missing_identity")
            if file == "surveys.csv" and not 1 <= int(row["score"]) <= 5:
                rules.append("score_out_of_range")
            assert len(rules) <= 1, f"{file} row {i} breaks several rules: {rules}"
            if rules:
                found[i] = rules[0]
        broken[file] = found
    return broken


def make_shop(spec: ShopSpec, out: Path) -> Shop:
    summary = generate_shop(spec, out)
    tables = {file: read(out, file) for file in FILES}
    return Shop(out, summary, tables, find_broken(tables, summary.end_date))


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    return make_shop(SPEC, tmp_path_factory.mktemp("shop"))


def test_same_spec_gives_identical_bytes_and_another_seed_does_not(shop: Shop, tmp_path: Path) -> None:
    again = generate_shop(SPEC, tmp_path / "again")
    other = generate_shop(ShopSpec(customers=1_500, days=800, seed=12, end_date=END), tmp_path / "other")
    for file in FILES:
        assert (tmp_path / "again" / file).read_bytes() == (shop.out / file).read_bytes(), file
    assert again == ShopSummary(
        tmp_path / "again",
        shop.summary.start_date,
        END,
        shop.summary.rows,
        shop.summary.dirty,
        shop.summary.dirty_kinds,
    )
    for file in ("customers.csv", "orders.csv", "events.csv", "consents.csv"):
        assert (tmp_path / "other" / file).read_bytes() != (shop.out / file).read_bytes(), file
    assert other.rows != shop.summary.rows


def test_every_file_has_exactly_the_contract_columns(shop: Shop) -> None:
    assert set(FILES) == set(CONTRACT)
    for file, columns in CONTRACT.items():
        with (shop.out / file).open(encoding="utf-8") as f:
            assert tuple(next(csv.reader(f))) == columns, file


def test_summary_counts_rows_and_every_dirty_row_by_kind(shop: Shop) -> None:
    s = shop.summary
    assert s.start_date == END - dt.timedelta(days=SPEC.days - 1) and s.end_date == END
    for file in FILES:
        assert s.rows[file] == len(shop.tables[file]), file
        found = Counter(shop.broken[file].values())
        assert dict(found) == s.dirty_kinds[file], file
        assert s.dirty[file] == sum(found.values()), file
        if len(shop.tables[file]) >= 100:
            assert s.dirty[file] >= 1, file
    # Every kind asked for shows up, and dirt stays a small share of each file.
    kinds = {kind for per_file in s.dirty_kinds.values() for kind in per_file}
    assert kinds == {
        "bad_phone",
        "duplicate_key",
        "negative_amount",
        "future_timestamp",
        "unknown_customer",
        "bad_timestamp",
        "missing_identity",
        "score_out_of_range",
    }
    for file in FILES:
        assert s.dirty[file] <= max(4, 0.01 * s.rows[file]), file


def test_clean_rows_keep_time_in_order(shop: Shop) -> None:
    start = dt.datetime.combine(shop.summary.start_date, dt.time())
    end = dt.datetime.combine(END, dt.time(23, 59, 59))
    for file, (_, ts_col) in KEYS.items():
        for row in shop.clean(file):
            if ts_col and (row[ts_col] or file != "customers.csv"):  # only a lead has no sign-up time
                moment = parse_ts(row[ts_col])
                assert moment is not None and start <= moment <= end, (file, row)

    customers = list(shop.clean("customers.csv"))
    signup = {r["customer_id"]: parse_ts(r["signed_up_at"]) for r in customers if r["signed_up_at"]}
    # A lead never signs up: their records start when their form linked their ad visit to the contact.
    leads = {r["customer_id"] for r in customers if not r["signed_up_at"]}
    captured = {
        r["customer_id"]: parse_ts(r["linked_at"]) for r in shop.clean("identities.csv") if r["customer_id"] in leads
    }
    assert leads and len(captured) >= 0.9 * len(leads)
    known_from = signup | captured
    for file, col in (
        ("orders.csv", "ordered_at"),
        ("consents.csv", "recorded_at"),
        ("push_tokens.csv", "registered_at"),
        ("web_push_subscriptions.csv", "subscribed_at"),
        ("cs_chats.csv", "started_at"),
        ("surveys.csv", "responded_at"),
    ):
        for row in shop.clean(file):
            if row["customer_id"] in known_from:
                assert parse_ts(row[col]) >= known_from[row["customer_id"]], (file, row)
    for row in shop.clean("events.csv"):
        if row["customer_id"] in known_from:
            assert parse_ts(row["occurred_at"]) >= known_from[row["customer_id"]], row
    referrers = [(r["customer_id"], r["referred_by"]) for r in shop.clean("customers.csv") if r["referred_by"]]
    assert referrers
    assert all(signup[ref] < signup[cust] for cust, ref in referrers if ref in signup)

    # Anonymous browsing before sign-up: only the anonymous id, and only before the link.
    linked = {r["anonymous_id"]: parse_ts(r["linked_at"]) for r in shop.clean("identities.csv")}
    before = 0
    for row in shop.clean("events.csv"):
        at = linked.get(row["anonymous_id"])
        if at is not None and row["event_type"] != "sign_up":
            assert not row["customer_id"] and parse_ts(row["occurred_at"]) <= at, row
            before += 1
    assert before > 0


def test_orders_add_up_and_look_like_a_shop(shop: Shop) -> None:
    totals: dict[str, int] = defaultdict(int)
    for row in shop.clean("order_items.csv"):
        assert int(row["quantity"]) > 0 and float(row["unit_price"]) >= 0
        totals[row["order_id"]] += int(row["quantity"]) * int(row["unit_price"])
    orders = list(shop.clean("orders.csv"))
    for row in orders:
        assert int(row["amount"]) == totals[row["order_id"]], row
    n = len(orders)
    statuses = Counter(row["status"] or "paid" for row in orders)
    assert 0.015 < statuses["cancelled"] / n < 0.05 and 0.008 < statuses["refunded"] / n < 0.035
    assert any(row["amount"] == "0" for row in orders)
    offsets = Counter(row["ordered_at"][19:] for row in orders)
    assert offsets["+09:00"] > 0 and offsets["Z"] > 0

    buyers = {row["customer_id"] for row in orders}
    never = sum(1 for row in shop.clean("customers.csv") if row["customer_id"] not in buyers)
    assert 0.2 < never / SPEC.customers < 0.4
    per_customer = Counter(row["customer_id"] for row in orders)
    assert max(per_customer.values()) >= 5  # loyal replenishers exist

    products = {row["product_id"]: row for row in shop.tables["products.csv"]}
    assert 60 <= len(products) <= 120
    assert any(int(p["price"]) >= 150_000 for p in products.values())
    cycles = {p["category"]: p["replenishment_days"] for p in products.values() if int(p["price"]) > 0}
    assert cycles["makeup"] == "" and 20 <= int(cycles["skincare"]) <= 40


def test_phones_emails_and_names_are_korean_and_well_formed(shop: Shop) -> None:
    rows = list(shop.clean("customers.csv"))
    spellings = Counter()
    for row in rows:
        if row["phone"]:
            assert normalise_phone(row["phone"]) is not None, row
            spellings["+82" if row["phone"].startswith("+82") else "-" if "-" in row["phone"] else "plain"] += 1
        if row["email"]:
            local, domain = row["email"].split("@")
            assert local and "." in domain
        assert re.fullmatch(r"[가-힣]{3}", row["name"]), row
    assert len(spellings) == 3
    emails = [r["email"] for r in rows if r["email"]]
    assert len(set(emails)) == len(emails)
    surnames = Counter(row["name"][0] for row in rows)
    assert surnames.most_common(1)[0][0] == "김"


def test_behaviour_consents_and_push_data_are_plausible(shop: Shop) -> None:
    events = list(shop.clean("events.csv"))
    assert 10 <= len(events) / SPEC.customers <= 30  # ~16 a customer for a year, more for 800 days
    assert {row["event_type"] for row in events} == {
        "page_view",
        "product_view",
        "add_to_cart",
        "checkout_start",
        "sign_up",
        "message_click",
    }
    # Ad visitors who never signed up.
    linked = {row["anonymous_id"] for row in shop.tables["identities.csv"]}
    assert any(r["utm_medium"] == "cpc" and r["anonymous_id"] not in linked for r in events)
    # Expensive items left in a cart and never bought by that customer.
    expensive = {r["product_id"] for r in shop.tables["products.csv"] if int(r["price"]) >= 150_000}
    order_customer = {r["order_id"]: r["customer_id"] for r in shop.tables["orders.csv"]}
    bought = {(order_customer.get(r["order_id"]), r["product_id"]) for r in shop.tables["order_items.csv"]}
    assert any(
        r["event_type"] == "add_to_cart"
        and r["product_id"] in expensive
        and (r["customer_id"], r["product_id"]) not in bought
        for r in events
        if r["customer_id"]
    )

    consents = list(shop.clean("consents.csv"))
    signup_ad = [r for r in consents if r["source"] == "signup_form" and r["purpose"] == "ad"]
    granted = sum(r["granted"] == "true" for r in signup_ad) / len(signup_ad)
    assert 0.45 < granted < 0.75
    assert any(r["source"] == "080_optout" and r["channel"] == "sms" and r["granted"] == "false" for r in consents)
    latest: dict[tuple[str, str, str], dt.datetime] = {}
    for r in consents:
        latest[(r["customer_id"], r["channel"], r["purpose"])] = parse_ts(r["recorded_at"])
    two_years_ago = dt.datetime.combine(END.replace(year=END.year - 2), dt.time())
    assert any(k[2] == "ad" and at < two_years_ago for k, at in latest.items())

    tokens = list(shop.clean("push_tokens.csv"))
    assert 0.3 < len({t["customer_id"] for t in tokens}) / SPEC.customers < 0.5
    assert all(140 <= len(t["token"]) <= 160 and ":APA91b" in t["token"] for t in tokens)
    assert any(t["revoked_at"] for t in tokens)
    subs = list(shop.clean("web_push_subscriptions.csv"))
    assert all(s["endpoint"].startswith("https://push.example.net/wp/") for s in subs)
    assert all(len(s["p256dh"]) == 87 and s["p256dh"].startswith("B") and len(s["auth"]) == 22 for s in subs)

    scores = Counter(int(r["score"]) for r in shop.clean("surveys.csv"))
    assert scores.most_common(1)[0][0] == 5
    assert 0.05 < len({r["customer_id"] for r in shop.tables["cs_chats.csv"]}) / SPEC.customers < 0.15


def test_small_shop_is_fast_and_can_be_clean(tmp_path: Path) -> None:
    started = time.perf_counter()
    summary = generate_shop(ShopSpec(customers=2_000, seed=3, end_date=END, dirty_share=0.0), tmp_path)
    assert time.perf_counter() - started < 5.0
    assert sum(summary.dirty.values()) == 0
    assert summary.rows["customers.csv"] == 2_000 + 60  # and 3% leads
    assert find_broken({f: read(tmp_path, f) for f in FILES}, END) == {f: {} for f in FILES}


def test_leads_came_from_paid_ads_and_never_signed_up_nor_bought(tmp_path: Path) -> None:
    """Checked on a clean shop, so that no dirty row hides a lead's visit or invents an order."""
    shop = make_shop(dataclasses.replace(SPEC, dirty_share=0.0), tmp_path)
    customers = shop.tables["customers.csv"]
    leads = {r["customer_id"] for r in customers if not r["signed_up_at"]}
    assert len(leads) == SPEC.leads and 0.02 < len(leads) / len(customers) < 0.04
    assert all(r["email"] or r["phone"] for r in customers if r["customer_id"] in leads)

    owner = {r["anonymous_id"]: r["customer_id"] for r in shop.tables["identities.csv"]}
    ad_visits: dict[str, list[dt.datetime]] = defaultdict(list)
    mediums, sources = Counter(), Counter()
    for r in shop.tables["events.csv"]:
        who = r["customer_id"] or owner.get(r["anonymous_id"])
        if who in leads:
            assert r["event_type"] in ("page_view", "product_view"), r  # no sign-up, cart, checkout or click
            if r["utm_medium"]:
                assert r["utm_medium"] in PAID_MEDIUMS, r
                ad_visits[who].append(parse_ts(r["occurred_at"]))
                mediums[r["utm_medium"]] += 1
                sources[r["utm_source"]] += 1
    assert set(ad_visits) == leads
    assert set(mediums) == PAID_MEDIUMS and {"naver", "google", "meta", "kakao"} <= set(sources)
    assert sum(len(v) > 1 for v in ad_visits.values()) > 0.3 * len(leads)  # retargeting brings them back
    # On every recent day some lead's latest ad visit is at most 7 days old (the signup_benefit audience).
    for back in range(30):
        day_end = dt.datetime.combine(END - dt.timedelta(days=back - 1), dt.time())
        assert any(day_end - dt.timedelta(days=7) <= at < day_end for v in ad_visits.values() for at in v), back

    for file in ("orders.csv", "push_tokens.csv", "web_push_subscriptions.csv", "cs_chats.csv", "surveys.csv"):
        assert not leads & {r["customer_id"] for r in shop.tables[file]}, file
    # The form asks for consent on the contacts it took: most leads agree to advertising, some do not.
    consents = [r for r in shop.tables["consents.csv"] if r["customer_id"] in leads]
    assert {r["source"] for r in consents} == {"restock_alert", "event_page"}
    assert {r["channel"] for r in consents} == {"email", "sms"}
    advertised = {r["customer_id"] for r in consents if r["purpose"] == "ad" and r["granted"] == "true"}
    assert 0.5 < len(advertised) / len(leads) < 0.9


def test_volume_controls_make_a_bigger_shop_that_still_holds_together(tmp_path: Path) -> None:
    """A benchmark shop (10 orders a customer, fewer tracked funnels) made by the project itself: the
    volume controls scale what they say, and the story still holds (no broken rows in a clean shop)."""
    base = ShopSpec(customers=2_000, days=365, seed=3, end_date=END, dirty_share=0.0)
    natural = generate_shop(base, tmp_path / "natural")
    heavy_spec = dataclasses.replace(base, order_volume=6.0, browse_volume=0.0, funnel_share=0.3)
    heavy = generate_shop(heavy_spec, tmp_path / "heavy")
    assert heavy.rows["orders.csv"] > 3 * natural.rows["orders.csv"]
    assert heavy.rows["customers.csv"] == natural.rows["customers.csv"]
    assert heavy.rows["events.csv"] / heavy.rows["orders.csv"] < natural.rows["events.csv"] / natural.rows["orders.csv"]
    assert find_broken({f: read(tmp_path / "heavy", f) for f in FILES}, END) == {f: {} for f in FILES}
