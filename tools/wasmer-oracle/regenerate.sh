#!/usr/bin/env bash
# Build the three oracles and (re)generate testdata/wasmer-journal-<version>/.
#   tools/wasmer-oracle/regenerate.sh           build + regenerate (idempotent)
#   tools/wasmer-oracle/regenerate.sh --check   build + generate into a temp dir and compare
#                                               byte-for-byte with the committed testdata
# VERSIONS="0.10.0" limits the run to some versions.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/target}"
check=0
[ "${1:-}" = "--check" ] && check=1
status=0
for v in ${VERSIONS:-0.5.0 0.10.0 0.705.0}; do
  bin="wasmer-oracle-${v//./_}"
  # --ignore-rust-version: wasmer-journal 0.705.0 and its wasmer 7.5 crates declare
  # rust-version 1.96; they build fine with 1.95 (see README).
  cargo build --release --locked --ignore-rust-version --manifest-path "$here/v$v/Cargo.toml"
  out="$root/testdata/wasmer-journal-$v"
  tmp="$(mktemp -d)"
  "$CARGO_TARGET_DIR/release/$bin" generate "$tmp/gen"
  # generating twice must give identical files
  "$CARGO_TARGET_DIR/release/$bin" generate "$tmp/gen2"
  diff -r "$tmp/gen" "$tmp/gen2" >/dev/null || { echo "$v: generate is not deterministic" >&2; status=1; }
  if [ "$check" = 1 ]; then
    # tools/ is regenerate_tools.sh's
    if diff -r -x tools "$tmp/gen" "$out" >/dev/null; then
      echo "$v: testdata up to date"
    else
      echo "$v: testdata differs from a fresh generate" >&2
      diff -rq -x tools "$tmp/gen" "$out" >&2 || true
      status=1
    fi
  else
    mkdir -p "$out"
    cp "$tmp/gen"/* "$out/"
    echo "$v: wrote $(ls "$tmp/gen" | wc -l) files to ${out#"$root"/}"
  fi
  rm -rf "$tmp"
done
exit $status
