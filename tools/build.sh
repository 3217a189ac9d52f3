#!/usr/bin/env bash
# Build the Pulumi CLI + Python language host, the Pulumi providers, the local Kubernetes control
# plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok) and its real node
# (kubelet; pause, the pod sandbox's process) from the pinned Go modules under tools/*/ into a cache
# outside the work tree. Each group is cached under a key that hashes its go.mod/go.sum, its own Go
# sources, its build recipe and the Go version, so a change rebuilds only that group; the binaries
# are then hard-linked into one bin/ directory whose name is the hash of all group keys. Idempotent.
#
# Usage: tools/build.sh [--resolve [GROUP...] | --check | --print-dir | --print-key | --versions | --help]
#   (no option)   build what is missing, then print each binary's version
#   --resolve     into an empty temporary module cache, resolve every group's (or GROUP's) module
#                 graph and derive the files taken from modules (no compilation; a new machine's
#                 first steps, checked in about a minute)
#   --print-dir   print the tools directory for the current pins (its bin/ holds the binaries)
#   --print-key   print the cache key
#   --versions    print the versions of the built binaries (fails if something is missing)
#   --check       exit 0 when every binary is built, else 1 with one line (prints nothing else)
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

# The groups, built one after the other (each with go build -p 2 on the machine's 2 cores); kubectl
# follows kubernetes, so it reuses the packages kubernetes compiled. Two groups side by side were
# measured no faster on 2 cores (README, "Build: make tools").
GROUPS_ORDER=(kubernetes kubectl pulumi etcd registry pulumi-kubernetes pulumi-docker-build kwok buildkit pause)

die() {
  echo "tools/build.sh: $*" >&2
  exit 1
}

# recipe GROUP: one item per line; the binaries it makes, a line "--", then the go build arguments.
recipe() {
  case "$1" in
    kubernetes)
      printf '%s\n' kube-apiserver kube-controller-manager kube-scheduler kubelet -- -ldflags \
        "$LD -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$K8S_MINOR -X k8s.io/component-base/version.gitTreeState=clean" \
        k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
        k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet
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
      printf '%s\n' kwok -- -ldflags "$LD" sigs.k8s.io/kwok/cmd/kwok
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
    pause)
      printf '%s\n' pause -- -ldflags "$LD" .
      ;;
    kubectl)
      printf '%s\n' kubectl -- -ldflags \
        "$LD -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$K8S_MINOR" \
        k8s.io/kubernetes/cmd/kubectl
      ;;
    *) die "unknown group $1" ;;
  esac
}

# recipe_args GROUP: the go build arguments of GROUP's recipe, one per line.
recipe_args() {
  recipe "$1" | sed '1,/^--$/d'
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
    derived_files "$1"
    go env GOVERSION
  ) | sha256sum | cut -c1-16
}

cache_key() {
  local g
  for g in "${GROUPS_ORDER[@]}"; do echo "$g=$(group_key "$g")"; done | sha256sum | cut -c1-16
}

# derived_files GROUP: the files a group takes from its modules rather than from go build, one
# "MODULE PATH-INSIDE-THE-MODULE" per line. This list is the only place that names them: the build
# and --resolve both read it.
derived_files() {
  case "$1" in
    pulumi-kubernetes)
      # What the upstream provider's `go generate` starts from (see prepare_kubernetes_schema).
      printf 'github.com/pulumi/pulumi-kubernetes/provider/v4 cmd/pulumi-resource-kubernetes/%s\n' \
        schema.json terraform-mapping.json
      ;;
    pulumi)
      # The language host runs the program through the first script of the sdk module; the engine
      # starts the program's dynamic providers (versioned rollouts) through the second.
      printf 'github.com/pulumi/pulumi/sdk/v3 python/%s\n' cmd/pulumi-language-python-exec \
        dist/pulumi-resource-pulumi-python
      ;;
    kwok)
      # The kwok binary reads its node and pod lifecycle stages from its config file: the same
      # defaults kwokctl uses (fast node start, lease heartbeat, fast pod ready/complete/delete).
      printf 'sigs.k8s.io/kwok kustomize/stage/%s\n' node/fast/node-initialize.yaml \
        node/heartbeat-with-lease/node-heartbeat-with-lease.yaml pod/fast/pod-ready.yaml \
        pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml
      ;;
  esac
}

# module_file GROUP MODULE PATH: the absolute path of PATH inside MODULE at the version GROUP's
# go.mod pins. Downloads the module first: on an empty module cache `go list -m` alone reports no
# directory. Fails with one line naming the module and the file when it is missing or empty.
module_file() {
  local group="$1" module="$2" rel="$3" dir err
  err="$(cd "$TOOLS/$group" && go mod download "$module" 2>&1)" ||
    die "$group: cannot download module $module: $(head -1 <<<"$err")"
  dir="$(cd "$TOOLS/$group" && go list -m -f '{{.Dir}}' "$module" 2>&1)" ||
    die "$group: cannot locate module $module: $(head -1 <<<"$dir")"
  [[ -n "$dir" ]] || die "$group: module $module has no directory in $(go env GOMODCACHE)"
  [[ -s "$dir/$rel" ]] || die "$group: module $module has no file $rel (missing or empty in $dir)"
  echo "$dir/$rel"
}

# derive GROUP DEST: writes the group's derived files into DEST (a fresh directory) and prints the
# names of the files that belong next to the binaries.
derive() {
  local group="$1" dest="$2" module rel f
  local -a pairs files=()
  mapfile -t pairs < <(derived_files "$group")
  for f in "${pairs[@]}"; do
    read -r module rel <<<"$f"
    f="$(module_file "$group" "$module" "$rel")" || exit 1
    files+=("$f")
  done
  case "$group" in
    pulumi-kubernetes)
      prepare_kubernetes_schema "${files[0]}" "${files[1]}" "$dest"
      ;;
    pulumi)
      install -m 0755 "${files[0]}" "$dest/pulumi-language-python-exec"
      install -m 0755 "${files[1]}" "$dest/pulumi-resource-pulumi-python"
      printf '%s\n' pulumi-language-python-exec pulumi-resource-pulumi-python
      ;;
    kwok)
      for f in "${files[@]}"; do
        echo "---"
        cat "$f"
      done >"$dest/kwok-stages.yaml"
      echo kwok-stages.yaml
      ;;
  esac
}

# derive_dest GROUP OUT: where GROUP's derived files go: next to the provider's main (which embeds
# them) for pulumi-kubernetes, OUT (the binaries' directory) otherwise.
derive_dest() {
  if [[ "$1" == pulumi-kubernetes ]]; then
    echo "$TOOLS/pulumi-kubernetes/cmd/pulumi-resource-kubernetes"
  else
    echo "$2"
  fi
}

# prepare_kubernetes_schema SCHEMA MAPPING DEST: what the upstream provider's `go generate` does: the
# schema with its version set, and the terraform mapping, both compacted, into DEST (for the build:
# next to our main, which embeds them).
prepare_kubernetes_schema() {
  python3 - "$1" "$2" "$3" "$PK8S_VERSION" <<'PY' || die "pulumi-kubernetes: cannot derive the embedded schema from $1"
import json, sys
schema_path, mapping_path, out, version = sys.argv[1:5]
with open(schema_path) as f:
    schema = json.load(f)
schema["version"] = version
with open(f"{out}/schema-embed.json", "w") as f:
    json.dump(schema, f, separators=(",", ":"))
with open(mapping_path) as f:
    mapping = json.load(f)
with open(f"{out}/terraform-mapping-embed.json", "w") as f:
    json.dump(mapping, f, separators=(",", ":"))
PY
}

# build_group GROUP: builds into a temporary directory and renames it into place, so an interrupted
# build never leaves half-written binaries in the cache.
build_group() {
  local group="$1" gdir tmp start=$SECONDS
  gdir="$(cache_root)/groups/$group-$(group_key "$group")"
  local names args l
  mapfile -t names < <(recipe "$group" | sed '/^--$/,$d')
  mapfile -t args < <(recipe_args "$group")
  if [[ -f "$gdir/.complete" ]]; then
    echo "[tools] $group: cached"
  else
    echo "[tools] $group: building ${names[*]} ..."
    mkdir -p "$(cache_root)/groups"
    rm -rf "$(cache_root)/groups/.tmp-$group".* # left by an interrupted build (we hold the lock)
    tmp="$(mktemp -d "$(cache_root)/groups/.tmp-$group.XXXXXX")"
    # Derived files first: the provider's main embeds its two, so they must exist before go build.
    derive "$group" "$(derive_dest "$group" "$tmp")" >"$tmp/.derived"
    local dest="$tmp/"
    # A single binary is named explicitly (go would name etcd's module-root package "v3").
    ((${#names[@]} == 1)) && dest="$tmp/${names[0]}"
    (cd "$TOOLS/$group" && go build -p "$JOBS" -o "$dest" "${args[@]}") ||
      die "building group $group failed"
    mapfile -t -O "${#names[@]}" names <"$tmp/.derived"
    rm "$tmp/.derived"
    for l in "${names[@]}"; do [[ -f "$tmp/$l" ]] || die "$group: $l was not produced"; done
    touch "$tmp/.complete"
    rm -rf "$gdir"
    mv "$tmp" "$gdir"
    echo "[tools] $group: built in $((SECONDS - start)) s"
  fi
  for l in "$gdir"/*; do ln -f "$l" "$OUT/bin/$(basename "$l")"; done
}

# resolve_all [GROUP...]: for every group (or those named), into an empty temporary module cache,
# resolve the module graph (go.mod files only) and derive every file the build takes from the module
# cache; compiles nothing. What a new machine's first build needs before its first compile, checked
# in about a minute.
resolve_all() {
  local g f start=$SECONDS
  local -a groups=("$@")
  ((${#groups[@]})) || groups=("${GROUPS_ORDER[@]}")
  for g in "${groups[@]}"; do recipe "$g" >/dev/null; done
  RESOLVE_SCRATCH="$(mktemp -d)"
  local scratch="$RESOLVE_SCRATCH"
  export GOMODCACHE="$scratch/mod"
  # Module files are read-only; go clean removes them.
  trap 'go clean -modcache >/dev/null 2>&1; rm -rf "$RESOLVE_SCRATCH"' EXIT
  for g in "${groups[@]}"; do
    f="$(cd "$TOOLS/$g" && go list -m all 2>&1 >/dev/null)" ||
      die "$g: the module graph of tools/$g/go.mod does not resolve: $(head -1 <<<"$f")"
    mkdir -p "$scratch/out/$g"
    derive "$g" "$scratch/out/$g" >/dev/null
    [[ -n "$(derived_files "$g")" ]] || {
      echo "[tools] $g: module graph resolves"
      continue
    }
    for f in "$scratch/out/$g"/*; do [[ -s "$f" ]] || die "$g: derived file $f is empty"; done
    echo "[tools] $g: module graph resolves; derived $(cd "$scratch/out/$g" && echo *)"
  done
  echo "[tools] ${groups[*]}: resolved from an empty module cache in $((SECONDS - start)) s"
}

# check_built DIR: fails with one line unless every binary of the current pins is in DIR/bin.
check_built() {
  local bin="$1/bin" name
  for name in pulumi pulumi-language-python pulumi-language-python-exec pulumi-resource-kubernetes \
    pulumi-resource-docker-build kube-apiserver kube-controller-manager kube-scheduler kubelet etcd kwok \
    registry buildkitd kubectl pause; do
    [[ -x "$bin/$name" ]] || die "missing $bin/$name; run make tools"
  done
}

print_versions() {
  local bin="$1/bin"
  check_built "$1"
  printf '%-30s %s\n' \
    pulumi "$("$bin/pulumi" version)" \
    pulumi-language-python "$("$bin/pulumi-language-python" --version)" \
    pulumi-resource-kubernetes "$PK8S_VERSION (provider/v4 module; see README)" \
    pulumi-resource-docker-build "$DOCKER_BUILD_VERSION" \
    kube-apiserver "$("$bin/kube-apiserver" --version)" \
    kube-controller-manager "$("$bin/kube-controller-manager" --version)" \
    kube-scheduler "$("$bin/kube-scheduler" --version)" \
    kubelet "$("$bin/kubelet" --version)" \
    etcd "$("$bin/etcd" --version | head -1)" \
    kwok "$("$bin/kwok" --version 2>&1 | head -1)" \
    registry "$("$bin/registry" --version 2>&1 | head -1)" \
    buildkitd "$("$bin/buildkitd" --version 2>&1 | head -1)" \
    kubectl "$("$bin/kubectl" version --client 2>&1 | head -1)"
}

main() {
  command -v go >/dev/null || die "the go command is not on PATH"
  export GOFLAGS="-trimpath -buildvcs=false -mod=readonly"
  export CGO_ENABLED=0
  case "${1:-}" in
    --print-dir)
      echo "$(cache_root)/$(cache_key)"
      return 0
      ;;
    --print-key)
      cache_key
      return 0
      ;;
    --resolve)
      shift
      resolve_all "$@"
      return 0
      ;;
    --versions)
      print_versions "$(cache_root)/$(cache_key)"
      return 0
      ;;
    --check)
      check_built "$(cache_root)/$(cache_key)"
      return 0
      ;;
    -h | --help)
      sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
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
  local total=$SECONDS g
  for g in "${GROUPS_ORDER[@]}"; do build_group "$g"; done
  echo "[tools] $OUT/bin ready in $((SECONDS - total)) s"
  print_versions "$OUT"
}

main "$@"
exit $?
