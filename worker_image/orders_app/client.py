"""Starting orders: the claim-check write happens here, before the workflow starts.

`python -m orders_app.client place ORDER_ID` places a sample order and prints its result.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from dataclasses import asdict

from temporalio.client import Client

from orders_app.blobs import FileBlobStore, blob_store
from orders_app.models import ORDERS_QUEUE, LineItem, OrderInput, OrderResult
from orders_app.workflows import OrderWorkflow

SAMPLE_ITEMS = [LineItem("sku-kettle", 1, 3999), LineItem("sku-mug", 4, 899)]


def store_items(items: list[LineItem], store: FileBlobStore) -> str:
    """Put the line items into the claim-check store and return the key."""
    return store.put(json.dumps([asdict(item) for item in items]).encode())


async def place_order(
    client: Client,
    order_id: str,
    items: list[LineItem],
    store: FileBlobStore | None = None,
    ship_seconds: float = 0.0,
) -> OrderResult:
    """Place an order and wait for its result."""
    key = store_items(items, store or blob_store())
    return await client.execute_workflow(
        OrderWorkflow.run,
        OrderInput(order_id, "customer-1", key, ship_seconds),
        id=f"order-{order_id}",
        task_queue=ORDERS_QUEUE,
    )


async def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["place"])
    parser.add_argument("order_id")
    parser.add_argument("--address", default="127.0.0.1:7233")
    parser.add_argument("--namespace", default="default")
    args = parser.parse_args()
    client = await Client.connect(args.address, namespace=args.namespace)
    result = await place_order(client, args.order_id, SAMPLE_ITEMS)
    print(json.dumps(asdict(result)))


if __name__ == "__main__":
    asyncio.run(_main())
    sys.stdout.flush()
    os._exit(0)  # skip finalisation: the SDK's native threads can abort it
