#!/usr/bin/env bash
# Side-by-side timing of choosing and cataloguing, in one run:
# - `rank --catalog` over 1,000 synthetic candidates (copies of four real images' recorded facts
#   with digest, size, arch and glibc version varied; bench/rank-synth.py) — goal < 50 ms warm —
#   without and with a package requirement (which loads every candidate's package list), against
#   `catalog list --json` of the same catalog (reading the rows) and a process that does nothing
#   (`imagewise lifecycle --id debian`);
# - `catalog add` of the bookworm fixture (facts, lint, trust with its dpkg sample) against
#   `inspect --json` of it — goal ≤ 1.2×.
# Prints medians of N runs (default 5), peak RSS and ratios; compare within one run only.
#
#   bench/rank.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5}
F=${IMAGEWISE_FIXTURES:-/var/cache/imagewise-fixtures}
bash scripts/install-deps.sh
bash scripts/fixtures.sh "$F" >/dev/null 2>&1
cargo build --release -q
IW=$PWD/target/release/imagewise
mkdir -p bench/results
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
. bench/lib.sh

$IW catalog add --catalog "$TMP/real.sqlite" "$F/bookworm-rootfs" "$F/trixie-rootfs" \
  "$F/bullseye-rootfs" "$F/alpine-rootfs" >/dev/null
python3 bench/rank-synth.py "$TMP/real.sqlite" "$TMP/big.sqlite" 1000
BIG="--catalog $TMP/big.sqlite"
out=bench/results/rank-$(date +%Y%m%d-%H%M).md
{
  echo "rank --catalog (1,000 candidates) and catalog add, median of $N runs, $(nproc) cores, $(date -u +%F)"
  echo
  echo "| what | ours | peak RSS | floor | floor time | floor RSS | ratio |"
  echo "|---|---|---|---|---|---|---|"
  row "rank, facts only" "$IW rank --json $BIG --require 'arch=amd64 libc=glibc>=2.31 size<=500'" \
    "catalog list --json" "$IW catalog list --json $BIG"
  row "rank, facts only" "$IW rank --json $BIG --require 'arch=amd64 libc=glibc>=2.31 size<=500'" \
    "a process doing nothing" "$IW lifecycle --id debian"
  row "rank, + packages" "$IW rank --json $BIG --require 'arch=amd64 pkg:coreutils>=8.32 !pkg:gcc'" \
    "catalog list --json" "$IW catalog list --json $BIG"
  row "catalog add (bookworm)" "rm -f $TMP/add.sqlite*; $IW catalog add --catalog $TMP/add.sqlite dir:$F/bookworm-rootfs" \
    "inspect --json" "$IW inspect --json dir:$F/bookworm-rootfs"
} | tee "$out"
echo "written to $out" >&2
