#!/usr/bin/env bash
# Build the judge and (re)generate testdata/lz4-literals/:
#   blocks.hex   our literals-only blocks (make_blocks.py), one hex line per input
#   verdict.tsv  what lz4_flex 0.11.7 and 0.14.2 make of each (src/main.rs)
# --check generates into a temp dir and compares with the committed files.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/target}"
cargo build --release --locked --manifest-path "$here/Cargo.toml"
out="$root/testdata/lz4-literals"
tmp="$(mktemp -d)"
python3 "$here/make_blocks.py" > "$tmp/blocks.hex"
"$CARGO_TARGET_DIR/release/lz4-literals-judge" < "$tmp/blocks.hex" > "$tmp/verdict.tsv"
if [ "${1:-}" = "--check" ]; then
  diff -r "$tmp" "$out" && echo "testdata/lz4-literals up to date"
else
  mkdir -p "$out"
  cp "$tmp/blocks.hex" "$tmp/verdict.tsv" "$out/"
  echo "wrote $out"
fi
rm -rf "$tmp"
