"""End-to-end tier: the real Pulumi CLI and providers against a local control plane."""
