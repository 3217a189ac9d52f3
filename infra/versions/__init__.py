"""Worker Versioning rollouts driven by `pulumi up`: build ids, the live versions, the plan per
build, Temporal's routing calls, and the `python -m infra.versions` command."""
