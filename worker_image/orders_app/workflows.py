"""Workflows: an order on `orders` calls a payment on `billing` and a shipment on `shipments`."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from orders_app.activities import (
        charge_payment,
        pack_and_ship,
        record_tracking_event,
        reserve_inventory,
    )
    from orders_app.models import (
        BILLING_QUEUE,
        SHIPMENTS_QUEUE,
        OrderInput,
        OrderResult,
        PaymentInput,
        ShipmentInput,
        TrackingState,
    )

_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=5)
)


@workflow.defn
class OrderWorkflow:
    """Reserve, charge on the billing queue, ship on the shipments queue."""

    @workflow.run
    async def run(self, order: OrderInput) -> OrderResult:
        """Run the order to completion."""
        reservation = await workflow.execute_activity(
            reserve_inventory,
            args=[order.order_id, order.items_key],
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=_RETRY,
        )
        payment_id = await workflow.execute_child_workflow(
            PaymentWorkflow.run,
            PaymentInput(order.order_id, order.customer_id, reservation.total_cents),
            id=f"{order.order_id}-payment",
            task_queue=BILLING_QUEUE,
        )
        tracking = await workflow.execute_child_workflow(
            ShipmentWorkflow.run,
            ShipmentInput(order.order_id, reservation.item_count, order.ship_seconds),
            id=f"{order.order_id}-shipment",
            task_queue=SHIPMENTS_QUEUE,
        )
        return OrderResult(
            order.order_id, "completed", reservation.total_cents, payment_id, tracking
        )


@workflow.defn
class PaymentWorkflow:
    """Charge the customer (billing queue)."""

    @workflow.run
    async def run(self, payment: PaymentInput) -> str:
        """Return the payment ID."""
        return await workflow.execute_activity(
            charge_payment,
            payment,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=_RETRY,
        )


@workflow.defn
class ShipmentWorkflow:
    """Pack and ship (shipments queue); packing heartbeats so a lost worker is noticed fast."""

    @workflow.run
    async def run(self, shipment: ShipmentInput) -> str:
        """Return the tracking number."""
        return await workflow.execute_activity(
            pack_and_ship,
            shipment,
            start_to_close_timeout=timedelta(seconds=max(60.0, shipment.ship_seconds * 4)),
            heartbeat_timeout=timedelta(seconds=10),
            retry_policy=_RETRY,
        )


@workflow.defn
class TrackingWorkflow:
    """Long-running: records tracking events as signals arrive, continuing as new when the
    history grows too long (`is_continue_as_new_suggested`) or after `continue_after` events."""

    def __init__(self) -> None:
        self._pending: list[str] = []
        self._delivered = False
        self._recorded = 0

    @workflow.signal
    def tracking_event(self, event: str) -> None:
        """A carrier scan or status change."""
        self._pending.append(event)

    @workflow.query
    def pending(self) -> int:
        """Events received but not yet recorded."""
        return len(self._pending)

    @workflow.query
    def recorded(self) -> int:
        """Events recorded so far, over every run of this tracking."""
        return self._recorded

    @workflow.run
    async def run(self, state: TrackingState) -> TrackingState:
        """Record events until `delivered`; return the final state."""
        handled = 0
        self._recorded = len(state.events)
        while True:
            await workflow.wait_condition(lambda: bool(self._pending))
            event = self._pending.pop(0)
            await workflow.execute_activity(
                record_tracking_event,
                args=[state.order_id, event],
                start_to_close_timeout=timedelta(seconds=10),
            )
            state.events.append(event)
            self._recorded = len(state.events)
            handled += 1
            if event == "delivered":
                return state
            too_long = workflow.info().is_continue_as_new_suggested()
            if (too_long or 0 < state.continue_after <= handled) and not self._pending:
                workflow.continue_as_new(
                    TrackingState(
                        state.order_id, state.events, state.runs + 1, state.continue_after
                    )
                )
