"""Activities of the three queues."""

from __future__ import annotations

import asyncio
import hashlib
import json

from temporalio import activity

from orders_app.blobs import blob_store
from orders_app.models import LineItem, PaymentInput, Reservation, ShipmentInput


@activity.defn
async def reserve_inventory(order_id: str, items_key: str) -> Reservation:
    """Reserve stock for the line items, loaded from the claim-check store."""
    items = [LineItem(**raw) for raw in json.loads(blob_store().get(items_key))]
    total = sum(item.quantity * item.unit_price_cents for item in items)
    return Reservation(
        order_id=order_id, item_count=sum(i.quantity for i in items), total_cents=total
    )


@activity.defn
async def charge_payment(payment: PaymentInput) -> str:
    """Charge the customer; the payment ID is derived from the order so retries are idempotent."""
    digest = hashlib.sha256(f"{payment.order_id}:{payment.amount_cents}".encode()).hexdigest()
    return f"pay-{digest[:12]}"


@activity.defn
async def pack_and_ship(shipment: ShipmentInput) -> str:
    """Pack item by item, heartbeating progress; a retry resumes from the last heartbeat."""
    done = int(activity.info().heartbeat_details[0]) if activity.info().heartbeat_details else 0
    steps = max(shipment.item_count, 1)
    for step in range(done, steps):
        await asyncio.sleep(shipment.ship_seconds / steps)
        activity.heartbeat(step + 1)
    return f"TRK-{shipment.order_id.upper()}"


@activity.defn
async def record_tracking_event(order_id: str, event: str) -> None:
    """Record a tracking event (a real app writes it to its own store)."""
    activity.logger.info("tracking event %s for %s", event, order_id)
