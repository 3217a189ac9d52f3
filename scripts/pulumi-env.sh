# shellcheck shell=bash
# Source me: sets up the offline Pulumi engine environment in the current shell (PATH with the built
# pulumi CLI and providers, repo-local PULUMI_HOME, local file:// backend, no plugin downloads).
#   source scripts/pulumi-env.sh            # then: pulumi preview, pulumi up, ...
# The values come from tools/pulumi_env.py (the one implementation the tests use too). Build the
# tools first (make tools); `make pulumi-env` also installs the providers into PULUMI_HOME.
# No `set -euo pipefail` here on purpose: this file is sourced and must not change the caller's
# shell options; it reports a failure on stderr instead.
_twk_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if _twk_exports="$(cd "$_twk_root" && .venv/bin/python -m tools.pulumi_env shell)"; then
  eval "$_twk_exports"
  # Point at the local control plane (make cluster-up) unless KUBECONFIG is already set.
  if [[ -z "${KUBECONFIG:-}" && -f "$_twk_root/.cache/cluster/kubeconfig" ]]; then
    export KUBECONFIG="$_twk_root/.cache/cluster/kubeconfig"
  fi
else
  echo "scripts/pulumi-env.sh: could not compute the engine environment" >&2
fi
unset _twk_root _twk_exports
