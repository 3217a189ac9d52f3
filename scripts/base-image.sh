#!/usr/bin/env bash
# Local base images made from Debian packages (no registry can be reached, so nothing is pulled):
# debootstrap of a minimal bookworm with Python 3.11, imported with `docker import`, cached.
#
#   scripts/base-image.sh [runtime|naive] [--force] [--print-tag]
#
#   runtime (default)  twk-base:bookworm-python3        python3 + python3-venv + ca-certificates;
#                                                       no compiler; the tests' BASE_IMAGE
#   naive              twk-base-naive:bookworm-build    the same plus build-essential, python3-dev
#                                                       and python3-pip; only for bench/'s naive build
#
# The image is rebuilt only when missing or when its recipe (suite, packages, trimming) changed: the
# recipe's hash is stored in the image label io.twk.base-recipe. --print-tag prints the tag only.
# The engine must be up (scripts/docker-engine.sh up). The Debian mirror is the one apt uses here
# (read from /etc/apt/sources.list*), or TWK_DEBIAN_MIRROR.
set -euo pipefail

die() {
  echo "base-image: $*" >&2
  exit 1
}

FLAVOR=runtime
FORCE=0
PRINT_TAG=0
for arg in "$@"; do
  case "$arg" in
    runtime | naive) FLAVOR="$arg" ;;
    --force) FORCE=1 ;;
    --print-tag) PRINT_TAG=1 ;;
    *) die "unknown argument '$arg' (usage: $0 [runtime|naive] [--force] [--print-tag])" ;;
  esac
done

SUITE=bookworm
RUNTIME_PACKAGES="python3,python3-venv,ca-certificates"
NAIVE_PACKAGES="$RUNTIME_PACKAGES,build-essential,python3-dev,python3-pip"
RECIPE_VERSION=1 # bump when the trimming below changes
case "$FLAVOR" in
  runtime)
    TAG="${TWK_BASE_IMAGE:-twk-base:bookworm-python3}"
    PACKAGES="$RUNTIME_PACKAGES"
    ;;
  naive)
    TAG="${TWK_NAIVE_BASE_IMAGE:-twk-base-naive:bookworm-build}"
    PACKAGES="$NAIVE_PACKAGES"
    ;;
esac
if ((PRINT_TAG)); then
  echo "$TAG"
  exit 0
fi

SOCK="${TWK_DOCKER_SOCK:-/run/twk-docker/docker.sock}"
export DOCKER_HOST="${DOCKER_HOST:-unix://$SOCK}"
DOCKER_CLI="${TWK_DOCKER_CLI:-/usr/bin/docker}"
RECIPE="suite=$SUITE variant=minbase packages=$PACKAGES flavor=$FLAVOR v=$RECIPE_VERSION"
RECIPE_HASH="$(printf '%s' "$RECIPE" | sha256sum | cut -c1-16)"

"$DOCKER_CLI" version >/dev/null 2>&1 || die "no Docker engine answers on $DOCKER_HOST (run scripts/docker-engine.sh up)"

current="$("$DOCKER_CLI" image inspect --format '{{ index .Config.Labels "io.twk.base-recipe" }}' "$TAG" 2>/dev/null || true)"
if ((!FORCE)) && [[ "$current" == "$RECIPE_HASH" ]]; then
  exit 0
fi

[[ $(id -u) -eq 0 ]] || die "debootstrap needs root"
if ! command -v debootstrap >/dev/null 2>&1; then
  echo "base-image: installing Debian's debootstrap" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null || die "apt-get update failed"
  apt-get install -y -q --no-install-recommends debootstrap >/dev/null || die "apt-get install debootstrap failed"
fi

mirror() {
  # The first plain Debian archive apt is configured with (not the security archive).
  if [[ -n "${TWK_DEBIAN_MIRROR:-}" ]]; then
    echo "$TWK_DEBIAN_MIRROR"
    return
  fi
  local uri
  uri="$(
    {
      sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null
      awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
    } | tr ' ' '\n' | grep -E '/debian/?$' | head -n 1
  )"
  [[ -n "$uri" ]] || die "no Debian mirror found in /etc/apt/sources.list*; set TWK_DEBIAN_MIRROR"
  echo "$uri"
}

MIRROR="$(mirror)"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
[[ -f $KEYRING ]] || die "missing $KEYRING (apt-get install debian-archive-keyring)"

WORK="$(mktemp -d "${TMPDIR:-/var/tmp}/twk-base.XXXXXX")"
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
ROOT="$WORK/rootfs"

echo "base-image: debootstrap $SUITE ($FLAVOR: $PACKAGES) from $MIRROR" >&2
if ! debootstrap --variant=minbase --keyring="$KEYRING" --include="$PACKAGES" \
  "$SUITE" "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
  die "debootstrap failed; last lines: $(tail -n 5 "$WORK/debootstrap.log" | tr '\n' ' ')"
fi

# Trim what a container never needs: package caches and lists, docs, man pages, logs.
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/cache/apt/*.bin \
  "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/log/* "$ROOT"/var/cache/debconf/*-old \
  "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/* \
  "$ROOT"/usr/share/locale/* "$ROOT"/usr/share/lintian "$ROOT"/tmp/* \
  "$ROOT"/usr/lib/python3*/__pycache__
# Container-appropriate apt settings (as Debian's official images have).
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
  >"$ROOT/etc/apt/apt.conf.d/90twk-no-recommends"
echo "deb $MIRROR $SUITE main" >"$ROOT/etc/apt/sources.list"

if [[ $FLAVOR == runtime ]]; then
  for c in gcc cc c++ g++ x86_64-linux-gnu-gcc x86_64-linux-gnu-gcc-12; do
    [[ ! -e "$ROOT/usr/bin/$c" ]] || die "the runtime base must not carry a compiler, found /usr/bin/$c"
  done
fi
chroot "$ROOT" /usr/bin/python3 -c 'import ensurepip, venv' \
  || die "python3 with venv and ensurepip is not usable in the new root"

echo "base-image: importing $TAG" >&2
tar --numeric-owner -C "$ROOT" -c . | "$DOCKER_CLI" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  --change "LABEL io.twk.base-recipe=$RECIPE_HASH" \
  --change "LABEL org.opencontainers.image.description=\"debootstrap $SUITE minbase + $PACKAGES\"" \
  - "$TAG" >/dev/null || die "docker import of $TAG failed"
echo "base-image: $TAG ready" >&2
