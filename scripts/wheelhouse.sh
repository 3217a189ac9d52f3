#!/usr/bin/env bash
# Prepare the wheelhouse the image's builder stage installs from with --no-index (build arg
# WHEELHOUSE=.wheelhouse): binary wheels of worker_image/requirements.txt for CPython 3.11 on
# manylinux x86_64, fetched on the host (containers here cannot verify the package index's TLS).
#
#   scripts/wheelhouse.sh [--force]
#
# Cached: skipped while the stamp in the wheelhouse matches the hash of the requirements file and
# the kit's constraints.txt (which pins the transitive versions).
# Settings (environment): TWK_WHEELHOUSE (default worker_image/.wheelhouse), PYTHON (the pip to
# use; default .venv/bin/python, else python3).
set -euo pipefail

die() {
  echo "wheelhouse: $*" >&2
  exit 1
}

REPO="$(cd "$(dirname "$0")/.." && pwd)"
REQS="$REPO/worker_image/requirements.txt"
# The kit's constraints pin the transitive versions the worker tier is tested with; the image gets
# the same ones.
CONSTRAINTS="$REPO/constraints.txt"
DEST="${TWK_WHEELHOUSE:-$REPO/worker_image/.wheelhouse}"
STAMP="$DEST/.requirements.sha256"
FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1
[[ -f $REQS ]] || die "missing $REQS"

if [[ -n "${PYTHON:-}" ]]; then
  PY="$PYTHON"
elif [[ -x "$REPO/.venv/bin/python" ]]; then
  PY="$REPO/.venv/bin/python"
else
  PY=python3
fi

constraint_args=()
[[ -f $CONSTRAINTS ]] && constraint_args=(-c "$CONSTRAINTS")
want="$(cat "$REQS" "${constraint_args[@]:1}" | sha256sum | cut -d' ' -f1)"
if ((!FORCE)) && [[ -f $STAMP && "$(cat "$STAMP")" == "$want" ]]; then
  exit 0
fi

rm -rf "$DEST"
mkdir -p "$DEST"
# --platform: bookworm's glibc is 2.36, so every manylinux tag up to that fits.
platforms=()
for p in manylinux_2_36_x86_64 manylinux_2_34_x86_64 manylinux_2_31_x86_64 manylinux_2_28_x86_64 \
  manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux2010_x86_64 manylinux1_x86_64; do
  platforms+=(--platform "$p")
done
echo "wheelhouse: downloading wheels for $REQS into $DEST" >&2
if ! PIP_FIND_LINKS="" "$PY" -m pip download --quiet --disable-pip-version-check \
  --only-binary=:all: --implementation cp --python-version 3.11 --abi cp311 --abi abi3 --abi none \
  "${platforms[@]}" --platform any \
  --dest "$DEST" -r "$REQS" "${constraint_args[@]}" >"$DEST/.pip.log" 2>&1; then
  die "pip download failed; last lines: $(tail -n 3 "$DEST/.pip.log" | tr '\n' ' ')"
fi
rm -f "$DEST/.pip.log"
ls "$DEST"/*.whl >/dev/null 2>&1 || die "no wheels in $DEST after pip download"
echo "$want" >"$STAMP"
echo "wheelhouse: $(find "$DEST" -name '*.whl' | wc -l) wheels ready in $DEST" >&2
