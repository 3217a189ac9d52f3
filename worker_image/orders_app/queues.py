"""What each task queue serves: point `WORKER_APP` at `orders_app.queues:<queue>`."""

from __future__ import annotations

from orders_app.activities import (
    charge_payment,
    pack_and_ship,
    record_tracking_event,
    reserve_inventory,
)
from orders_app.workflows import OrderWorkflow, PaymentWorkflow, ShipmentWorkflow, TrackingWorkflow
from workerkit import WorkerApp

orders = WorkerApp(workflows=[OrderWorkflow], activities=[reserve_inventory])
billing = WorkerApp(workflows=[PaymentWorkflow], activities=[charge_payment])
shipments = WorkerApp(
    workflows=[ShipmentWorkflow, TrackingWorkflow],
    activities=[pack_and_ship, record_tracking_event],
)
