"""Sample orders app: an order runs across the `orders`, `billing` and `shipments` task queues."""
