#!/usr/bin/env bash
# Build the oracles and (re)generate testdata/wasmer-journal-<version>/tools/: the outputs of
# `oracle filter`, `oracle memfile` and `oracle compact` (the crate's FilteredJournal,
# MemFileJournal and CompactingLogFileJournal) on that version's variants/phases/reopen.journal.
#   tools/wasmer-oracle/regenerate_tools.sh           build + regenerate (idempotent)
#   tools/wasmer-oracle/regenerate_tools.sh --check   build + generate into a temp dir and compare
#                                                     byte-for-byte with the committed testdata
# For 0.705.0 it also writes the scenario journals of tools/compact_scenarios.py (this library's
# journals exercising every compaction rule: compact-<name>.journal) and compacts each of them
# (compact-<name>.compact.journal + .json).
# VERSIONS="0.10.0" limits the run to some versions. Every output is generated twice (in two
# processes, so with different HashMap seeds) and the two runs must be byte-identical.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/target}"
check=0
[ "${1:-}" = "--check" ] && check=1
status=0

INPUTS="variants phases reopen"
MEM_INPUTS="variants phases"
CATS="mem threads fs core snap net stdio"
# the versions whose rules compact() follows: they also compact tools/compact_scenarios.py's journals
SCENARIO_VERSIONS="0.705.0"

# gen BIN INDIR OUTDIR SCRATCH VERSION: every tool output for one version
gen() {
  local bin="$1" in="$2" out="$3" scratch="$4" version="$5" i c s
  mkdir -p "$out" "$scratch"
  if [[ " $SCENARIO_VERSIONS " == *" $version "* ]]; then
    python3 "$root/tools/compact_scenarios.py" "$out"
    for s in "$out"/compact-*.journal; do
      s="${s%.journal}"
      "$bin" compact "$s.journal" "$s.compact.journal" >"$s.compact.journal.json" 2>>"$scratch/compact.log"
    done
  fi
  for i in $INPUTS; do
    for c in $CATS; do
      "$bin" filter "$in/$i.journal" "$out/$i.filter-$c.journal" -f "$c" >"$out/$i.filter-$c.journal.json"
    done
    "$bin" filter "$in/$i.journal" "$out/$i.filter-mem-threads.journal" -f mem -f threads \
      >"$out/$i.filter-mem-threads.journal.json"
    "$bin" compact "$in/$i.journal" "$out/$i.compact.journal" >"$out/$i.compact.journal.json" 2>>"$scratch/compact.log"
  done
  # the memory files themselves (phases': 117 MB, sparse) stay in the scratch dir
  for i in $MEM_INPUTS; do
    "$bin" memfile "$in/$i.journal" "$scratch/$i.memfile.mem" >"$out/$i.memfile.json"
    "$bin" memfile "$in/$i.journal" "$scratch/$i.memfile-at-1.mem" --at 1 >"$out/$i.memfile-at-1.json"
    "$bin" memfile "$in/$i.journal" "$scratch/$i.memfile-at-2.mem" --at 2 >"$out/$i.memfile-at-2.json"
  done
  rm -f "$scratch"/*.mem
  # phases' manifests are 1-2 MB each and repeat the journals' bytes in hex:
  # the journals themselves are what the tests compare, so only they are kept.
  rm -f "$out"/phases.*.journal.json
}

for v in ${VERSIONS:-0.5.0 0.10.0 0.705.0}; do
  bin="$CARGO_TARGET_DIR/release/wasmer-oracle-${v//./_}"
  # --ignore-rust-version: wasmer-journal 0.705.0 and its wasmer 7.5 crates declare
  # rust-version 1.96; they build fine with 1.95 (see README).
  cargo build --release --locked --ignore-rust-version --manifest-path "$here/v$v/Cargo.toml"
  in="$root/testdata/wasmer-journal-$v"
  out="$in/tools"
  tmp="$(mktemp -d)"
  gen "$bin" "$in" "$tmp/gen" "$tmp/scratch1" "$v"
  gen "$bin" "$in" "$tmp/gen2" "$tmp/scratch2" "$v"
  if ! diff -r "$tmp/gen" "$tmp/gen2" >/dev/null; then
    echo "$v: tool outputs are not deterministic" >&2
    diff -rq "$tmp/gen" "$tmp/gen2" >&2 || true
    status=1
  fi
  sed 's/^/  /' "$tmp/scratch1/compact.log"
  if [ "$check" = 1 ]; then
    if diff -r "$tmp/gen" "$out" >/dev/null; then
      echo "$v: tools testdata up to date"
    else
      echo "$v: tools testdata differs from a fresh run" >&2
      diff -rq "$tmp/gen" "$out" >&2 || true
      status=1
    fi
  else
    rm -rf "$out"
    mkdir -p "$out"
    cp "$tmp/gen"/* "$out/"
    echo "$v: wrote $(ls "$tmp/gen" | wc -l) files to ${out#"$root"/}"
  fi
  rm -rf "$tmp"
done
exit $status
