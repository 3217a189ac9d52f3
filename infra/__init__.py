"""The temporal-workers Pulumi program: typed stack config, pure Kubernetes specs, components."""
