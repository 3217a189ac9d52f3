"""Per-pull-request preview stacks (`pr-<N>`) driven through the Pulumi Automation API.

``python -m infra.preview up|destroy|list|gc``: see :mod:`infra.preview.cli`. The pure parts
(names, durations, timestamps, the stack file) live in :mod:`infra.preview.model` and
:mod:`infra.preview.stackfile`; :mod:`infra.preview.engine` talks to the Pulumi CLI and
:mod:`infra.preview.cluster` checks that the Kubernetes API answers before anything is deployed.
"""
