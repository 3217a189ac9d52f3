# shellcheck shell=bash
# Source me: the kit's offline Pulumi engine in the current shell (PATH with the built pulumi CLI,
# providers installed as plugins in the repo-local PULUMI_HOME, local file:// backend, no plugin
# downloads, KUBECONFIG of the local control plane when it exists and none is set).
#   source scripts/pulumi-env.sh            # then: pulumi preview, pulumi up, ...
# The values come from tools/pulumi_env.py (the one implementation the tests use too); the tools are
# built first if missing (the first time on a new machine: see README, "Set-up").
# No `set -euo pipefail` here on purpose: this file is sourced and must not change the caller's
# shell options; it reports a failure on stderr and returns 1 instead.
_twk_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if _twk_exports="$(cd "$_twk_root" && .venv/bin/python -m tools.pulumi_env shell --ensure)"; then
  eval "$_twk_exports"
  unset _twk_root _twk_exports
else
  echo "scripts/pulumi-env.sh: could not set up the engine environment (run make venv first?)" >&2
  unset _twk_root _twk_exports
  return 1
fi
