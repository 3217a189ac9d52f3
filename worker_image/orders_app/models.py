"""Inputs and results passed between the order workflows and activities."""

from __future__ import annotations

from dataclasses import dataclass, field

ORDERS_QUEUE = "orders"
BILLING_QUEUE = "billing"
SHIPMENTS_QUEUE = "shipments"


@dataclass
class LineItem:
    """One product line of an order."""

    sku: str
    quantity: int
    unit_price_cents: int


@dataclass
class OrderInput:
    """An order as the workflow receives it: line items stay outside Temporal (claim check)."""

    order_id: str
    customer_id: str
    items_key: str
    ship_seconds: float = 0.0


@dataclass
class Reservation:
    """Inventory reserved for an order."""

    order_id: str
    item_count: int
    total_cents: int


@dataclass
class PaymentInput:
    """What billing charges."""

    order_id: str
    customer_id: str
    amount_cents: int


@dataclass
class ShipmentInput:
    """What shipments packs and ships; `ship_seconds` makes packing long (heartbeats)."""

    order_id: str
    item_count: int
    ship_seconds: float = 0.0


@dataclass
class OrderResult:
    """The outcome of an order."""

    order_id: str
    status: str
    total_cents: int
    payment_id: str
    tracking_number: str


@dataclass
class TrackingState:
    """State a tracking workflow carries across continue-as-new."""

    order_id: str
    events: list[str] = field(default_factory=list)
    runs: int = 1
    continue_after: int = 0
