"""The input contract as data: which files, which columns, which rules. docs/data-contract.md is its prose."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    TEXT = "text"
    TIMESTAMP = "timestamp"
    DATE = "date"
    INTEGER = "integer"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    PHONE = "phone"
    EMAIL = "email"


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind = Kind.TEXT
    required: bool = False
    allowed: tuple[str, ...] | None = None
    minimum: float | None = None
    minimum_rule: str = "below_minimum"
    maximum: float | None = None
    default: str | None = None
    personal: bool = False  # masked in quarantine details


@dataclass(frozen=True)
class Reference:
    column: str
    table: str
    table_column: str
    rule: str


@dataclass(frozen=True)
class FileContract:
    table: str
    columns: tuple[Column, ...]
    required_file: bool = False
    key: tuple[str, ...] = ()
    references: tuple[Reference, ...] = ()
    future_column: str | None = None  # the row's main timestamp: later than the load time is a bad row
    at_least_one_of: tuple[str, ...] = ()
    at_least_one_rule: str = "missing_identity"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def file_name(self) -> str:
        return f"{self.table}.csv"


CHANNELS = ("email", "sms", "kakao", "app_push", "web_push")
NOTICE_KINDS = ("reconfirmation", "consent_change")
_customer_ref = Reference("customer_id", "customers", "customer_id", "unknown_customer")

CONTRACTS: tuple[FileContract, ...] = (
    FileContract(
        table="customers",
        required_file=True,
        key=("customer_id",),
        future_column="signed_up_at",
        columns=(
            Column("customer_id", required=True),
            Column("name", personal=True),
            Column("email", Kind.EMAIL, personal=True),
            Column("phone", Kind.PHONE, personal=True),
            Column("signed_up_at", Kind.TIMESTAMP),
            Column("acquisition_source"),
            Column("acquisition_medium"),
            Column("acquisition_campaign"),
            Column("referred_by"),
        ),
    ),
    FileContract(
        table="products",
        key=("product_id",),
        columns=(
            Column("product_id", required=True),
            Column("name"),
            Column("category", required=True),
            Column("price", Kind.DECIMAL, minimum=0, minimum_rule="negative_amount"),
            Column("replenishment_days", Kind.INTEGER, minimum=1),
        ),
    ),
    FileContract(
        table="orders",
        required_file=True,
        key=("order_id",),
        references=(_customer_ref,),
        future_column="ordered_at",
        columns=(
            Column("order_id", required=True),
            Column("customer_id", required=True),
            Column("ordered_at", Kind.TIMESTAMP, required=True),
            Column("amount", Kind.DECIMAL, required=True, minimum=0, minimum_rule="negative_amount"),
            Column("status", allowed=("paid", "cancelled", "refunded"), default="paid"),
        ),
    ),
    FileContract(
        table="order_items",
        key=("order_id", "line_no"),
        references=(Reference("order_id", "orders", "order_id", "unknown_order"),),
        columns=(
            Column("order_id", required=True),
            Column("line_no", Kind.INTEGER, required=True),
            Column("product_id", required=True),
            Column("quantity", Kind.INTEGER, required=True, minimum=1, minimum_rule="non_positive_quantity"),
            Column("unit_price", Kind.DECIMAL, required=True, minimum=0, minimum_rule="negative_amount"),
        ),
    ),
    FileContract(
        table="events",
        key=("event_id",),
        future_column="occurred_at",
        at_least_one_of=("anonymous_id", "customer_id"),
        columns=(
            Column("event_id", required=True),
            Column("occurred_at", Kind.TIMESTAMP, required=True),
            Column(
                "event_type",
                required=True,
                allowed=(
                    "page_view",
                    "product_view",
                    "add_to_cart",
                    "checkout_start",
                    "sign_up",
                    "message_click",
                ),
            ),
            Column("anonymous_id"),
            Column("customer_id"),
            Column("product_id"),
            Column("utm_source"),
            Column("utm_medium"),
            Column("utm_campaign"),
        ),
    ),
    FileContract(
        table="identities",
        key=("anonymous_id",),
        references=(_customer_ref,),
        future_column="linked_at",
        columns=(
            Column("anonymous_id", required=True),
            Column("customer_id", required=True),
            Column("linked_at", Kind.TIMESTAMP, required=True),
        ),
    ),
    FileContract(
        table="consents",
        references=(_customer_ref,),
        future_column="recorded_at",
        columns=(
            Column("customer_id", required=True),
            Column("channel", required=True, allowed=CHANNELS),
            Column("purpose", required=True, allowed=("ad", "night_ad", "info")),
            Column("granted", Kind.BOOLEAN, required=True),
            Column("recorded_at", Kind.TIMESTAMP, required=True),
            Column("source"),
        ),
    ),
    FileContract(
        # Legal notices another system already sent (before dangol, or beside it): the 2-year re-confirmation
        # (정보통신망법 제50조⑧) and the result of a consent change (제50조⑦). dangol does not send them again.
        table="consent_notices",
        references=(_customer_ref,),
        future_column="sent_at",
        columns=(
            Column("customer_id", required=True),
            Column("kind", required=True, allowed=NOTICE_KINDS),
            Column("sent_at", Kind.TIMESTAMP, required=True),
            Column("channel", allowed=CHANNELS),
            Column("source"),
        ),
    ),
    FileContract(
        table="push_tokens",
        key=("token",),
        references=(_customer_ref,),
        future_column="registered_at",
        columns=(
            Column("customer_id", required=True),
            Column("token", required=True, personal=True),
            Column("platform", required=True, allowed=("android", "ios")),
            Column("registered_at", Kind.TIMESTAMP, required=True),
            Column("revoked_at", Kind.TIMESTAMP),
        ),
    ),
    FileContract(
        table="web_push_subscriptions",
        key=("endpoint",),
        references=(_customer_ref,),
        future_column="subscribed_at",
        columns=(
            Column("customer_id", required=True),
            Column("endpoint", required=True, personal=True),
            Column("p256dh", required=True, personal=True),
            Column("auth", required=True, personal=True),
            Column("subscribed_at", Kind.TIMESTAMP, required=True),
            Column("revoked_at", Kind.TIMESTAMP),
        ),
    ),
    FileContract(
        table="cs_chats",
        key=("chat_id",),
        references=(_customer_ref,),
        future_column="started_at",
        columns=(
            Column("chat_id", required=True),
            Column("customer_id", required=True),
            Column("started_at", Kind.TIMESTAMP, required=True),
            Column("topic", allowed=("delivery", "product", "refund", "payment", "other")),
            Column("resolved", Kind.BOOLEAN),
        ),
    ),
    FileContract(
        table="surveys",
        key=("response_id",),
        references=(_customer_ref,),
        future_column="responded_at",
        columns=(
            Column("response_id", required=True),
            Column("customer_id", required=True),
            Column("responded_at", Kind.TIMESTAMP, required=True),
            Column("score", Kind.INTEGER, required=True, minimum=1, maximum=5),
            Column("comment", personal=True),
        ),
    ),
)
