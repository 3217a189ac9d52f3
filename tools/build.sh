#!/usr/bin/env bash
# Build the Pulumi CLI + Python language host, the Pulumi providers and the local Kubernetes control
# plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok) from the pinned Go
# modules under tools/*/ into a cache outside the work tree. Each group is cached under a key that
# hashes its go.mod/go.sum, its own Go sources, its build recipe and the Go version, so a change
# rebuilds only that group; the binaries are then hard-linked into one bin/ directory whose name is
# the hash of all group keys. Idempotent: what is already in the cache is not rebuilt.
#
# Usage: tools/build.sh [--print-dir | --print-key | --versions | --help]
#   (no option)   build what is missing, then print each binary's version
#   --print-dir   print the tools directory for the current pins (its bin/ holds the binaries)
#   --print-key   print the cache key
#   --versions    print the versions of the built binaries (fails if something is missing)
#
# Environment: TWK_TOOLS_DIR overrides the cache root
# (default ${XDG_CACHE_HOME:-$HOME/.cache}/temporal-workers-kit/tools); TWK_TOOLS_JOBS is go build -p
# (default 2).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/tools"

# Versions pinned in tools/*/go.mod, repeated here for the -X flags.
PULUMI_VERSION="v3.274.1"
K8S_VERSION="v1.35.4"
K8S_MINOR="35"
# The only provider/v4 commit the reachable module proxy serves (between v4.24.1 and v4.25.0).
PK8S_VERSION="4.25.0-alpha.0.20260115033456-f47bc2d6f199"
DOCKER_BUILD_VERSION="0.0.22"
LD="-s -w"

GROUPS_ORDER=(kubernetes etcd kwok pulumi pulumi-kubernetes pulumi-docker-build registry buildkit kubectl)

die() {
  echo "tools/build.sh: $*" >&2
  exit 1
}

# recipe GROUP: one item per line; the binaries it makes, a line "--", then the go build arguments.
recipe() {
  case "$1" in
    kubernetes)
      printf '%s\n' kube-apiserver kube-controller-manager kube-scheduler -- -ldflags \
        "$LD -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$K8S_MINOR -X k8s.io/component-base/version.gitTreeState=clean" \
        k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
        k8s.io/kubernetes/cmd/kube-scheduler
      ;;
    pulumi-kubernetes)
      printf '%s\n' pulumi-resource-kubernetes -- -ldflags \
        "$LD -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$PK8S_VERSION" \
        ./cmd/pulumi-resource-kubernetes
      ;;
    etcd)
      printf '%s\n' etcd -- -ldflags "$LD" go.etcd.io/etcd/server/v3
      ;;
    kwok)
      printf '%s\n' kwok kwokctl -- -ldflags "$LD" sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl
      ;;
    pulumi)
      printf '%s\n' pulumi pulumi-language-python -- -ldflags \
        "$LD -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
        github.com/pulumi/pulumi/pkg/v3/cmd/pulumi ./cmd/pulumi-language-python
      ;;
    pulumi-docker-build)
      printf '%s\n' pulumi-resource-docker-build -- -ldflags \
        "$LD -X github.com/pulumi/pulumi-docker-build/provider.Version=$DOCKER_BUILD_VERSION" \
        github.com/pulumi/pulumi-docker-build/provider/cmd/pulumi-resource-docker-build
      ;;
    registry)
      printf '%s\n' registry -- -ldflags "$LD" github.com/distribution/distribution/v3/cmd/registry
      ;;
    buildkit)
      printf '%s\n' buildkitd -- -ldflags "$LD -X github.com/moby/buildkit/version.Version=v0.31.0" \
        github.com/moby/buildkit/cmd/buildkitd
      ;;
    kubectl)
      printf '%s\n' kubectl -- -ldflags \
        "$LD -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$K8S_MINOR" \
        k8s.io/kubernetes/cmd/kubectl
      ;;
    *) die "unknown group $1" ;;
  esac
}

cache_root() {
  echo "${TWK_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/temporal-workers-kit/tools}"
}

group_key() {
  (
    cd "$TOOLS/$1"
    find . -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) | LC_ALL=C sort |
      xargs sha256sum
    recipe "$1"
    [[ "$1" != kwok ]] || echo "stages: node-initialize node-heartbeat-with-lease pod-ready pod-complete pod-delete"
    [[ "$1" != pulumi ]] || echo "extra: pulumi-language-python-exec"
    go env GOVERSION
  ) | sha256sum | cut -c1-16
}

cache_key() {
  local g
  for g in "${GROUPS_ORDER[@]}"; do echo "$g=$(group_key "$g")"; done | sha256sum | cut -c1-16
}

# What the upstream provider's `go generate` does: the schema with its version set, and the
# terraform mapping, both compacted, next to our main (which embeds them).
prepare_kubernetes_schema() {
  local moddir out="$TOOLS/pulumi-kubernetes/cmd/pulumi-resource-kubernetes"
  moddir="$(cd "$TOOLS/pulumi-kubernetes" && go list -m -f '{{.Dir}}' github.com/pulumi/pulumi-kubernetes/provider/v4)"
  python3 - "$moddir/cmd/pulumi-resource-kubernetes" "$out" "$PK8S_VERSION" <<'PY'
import json, sys
src, out, version = sys.argv[1:4]
schema = json.load(open(f"{src}/schema.json"))
schema["version"] = version
json.dump(schema, open(f"{out}/schema-embed.json", "w"), separators=(",", ":"))
mapping = json.load(open(f"{src}/terraform-mapping.json"))
json.dump(mapping, open(f"{out}/terraform-mapping-embed.json", "w"), separators=(",", ":"))
PY
}

# build_group GROUP: builds into a temporary directory and renames it into place, so an interrupted
# build never leaves half-written binaries in the cache.
build_group() {
  local group="$1" gdir tmp start=$SECONDS
  gdir="$(cache_root)/groups/$group-$(group_key "$group")"
  local lines names=() args=() seen=0 l
  mapfile -t lines < <(recipe "$group")
  for l in "${lines[@]}"; do
    if [[ "$l" == "--" ]]; then
      seen=1
    elif ((seen)); then
      args+=("$l")
    else
      names+=("$l")
    fi
  done
  if [[ -f "$gdir/.complete" ]]; then
    echo "[tools] $group: cached"
  else
    echo "[tools] $group: building ${names[*]} ..."
    mkdir -p "$(cache_root)/groups"
    rm -rf "$(cache_root)/groups/.tmp-$group".* # left by an interrupted build (we hold the lock)
    tmp="$(mktemp -d "$(cache_root)/groups/.tmp-$group.XXXXXX")"
    [[ "$group" != pulumi-kubernetes ]] || prepare_kubernetes_schema
    local dest="$tmp/"
    # A single binary is named explicitly (go would name etcd's module-root package "v3").
    ((${#names[@]} == 1)) && dest="$tmp/${names[0]}"
    (cd "$TOOLS/$group" && go build -p "$JOBS" -o "$dest" "${args[@]}") ||
      die "building group $group failed"
    if [[ "$group" == pulumi ]]; then
      # The language host runs the program through this script from the sdk module.
      local sdkdir
      sdkdir="$(cd "$TOOLS/pulumi" && go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)"
      install -m 0755 "$sdkdir/python/cmd/pulumi-language-python-exec" "$tmp/"
      names+=(pulumi-language-python-exec)
    fi
    if [[ "$group" == kwok ]]; then
      # The kwok binary reads its node and pod lifecycle stages from its config file: the same
      # defaults kwokctl uses (fast node start, lease heartbeat, fast pod ready/complete/delete).
      local kwokdir f
      kwokdir="$(cd "$TOOLS/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)/kustomize/stage"
      for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
        pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
        echo "---"
        cat "$kwokdir/$f"
      done >"$tmp/kwok-stages.yaml"
      names+=(kwok-stages.yaml)
    fi
    for l in "${names[@]}"; do [[ -f "$tmp/$l" ]] || die "$group: $l was not produced"; done
    touch "$tmp/.complete"
    rm -rf "$gdir"
    mv "$tmp" "$gdir"
    echo "[tools] $group: built in $((SECONDS - start)) s"
  fi
  for l in "$gdir"/*; do ln -f "$l" "$OUT/bin/$(basename "$l")"; done
}

print_versions() {
  local bin="$1/bin" name
  for name in pulumi pulumi-language-python pulumi-language-python-exec pulumi-resource-kubernetes \
    pulumi-resource-docker-build kube-apiserver kube-controller-manager kube-scheduler etcd kwok kwokctl \
    registry buildkitd kubectl; do
    [[ -x "$bin/$name" ]] || die "missing $bin/$name; run make tools"
  done
  printf '%-30s %s\n' \
    pulumi "$("$bin/pulumi" version)" \
    pulumi-language-python "$("$bin/pulumi-language-python" --version)" \
    pulumi-resource-kubernetes "$PK8S_VERSION (provider/v4 module; see README)" \
    pulumi-resource-docker-build "$DOCKER_BUILD_VERSION" \
    kube-apiserver "$("$bin/kube-apiserver" --version)" \
    kube-controller-manager "$("$bin/kube-controller-manager" --version)" \
    kube-scheduler "$("$bin/kube-scheduler" --version)" \
    etcd "$("$bin/etcd" --version | head -1)" \
    kwok "$("$bin/kwok" --version 2>&1 | head -1)" \
    registry "$("$bin/registry" --version 2>&1 | head -1)" \
    buildkitd "$("$bin/buildkitd" --version 2>&1 | head -1)" \
    kubectl "$("$bin/kubectl" version --client 2>&1 | head -1)"
}

main() {
  command -v go >/dev/null || die "the go command is not on PATH"
  case "${1:-}" in
    --print-dir)
      echo "$(cache_root)/$(cache_key)"
      return 0
      ;;
    --print-key)
      cache_key
      return 0
      ;;
    --versions)
      print_versions "$(cache_root)/$(cache_key)"
      return 0
      ;;
    -h | --help)
      sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      return 0
      ;;
    "") ;;
    *) die "unknown option '$1' (try --help)" ;;
  esac

  mkdir -p "$(cache_root)"
  # One build at a time (make tools and the test fixtures may race).
  exec 9>"$(cache_root)/.lock"
  flock 9

  OUT="$(cache_root)/$(cache_key)"
  JOBS="${TWK_TOOLS_JOBS:-2}"
  mkdir -p "$OUT/bin"
  export GOFLAGS="-trimpath -buildvcs=false -mod=readonly"
  export CGO_ENABLED=0
  local total=$SECONDS g
  for g in "${GROUPS_ORDER[@]}"; do build_group "$g"; done
  echo "[tools] $OUT/bin ready in $((SECONDS - total)) s"
  print_versions "$OUT"
}

main "$@"
exit $?
