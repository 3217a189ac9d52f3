"""Pulumi components: the worker image, the workers of one queue, the cluster side of a stack."""
