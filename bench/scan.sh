#!/usr/bin/env bash
# Side by side in one run: `imagewise db import` of a synthetic osv.dev-style all.zip
# (default 100k Debian:12 records) against the floor of only inflating the same zip
# (`unzip -p > /dev/null`), then `imagewise scan` of a 500-package image against it.
# Reports import records/s, the matching time once the database is open (`match_seconds` of
# scan --json, median of N) and the whole scan command's wall time.
#
#   bench/scan.sh [N_RECORDS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS=${1:-100000}
N=${2:-5}
bash scripts/install-deps.sh
command -v unzip >/dev/null || apt-get install -y -q unzip >/dev/null
cargo build --release -q
IW=$PWD/target/release/imagewise
mkdir -p bench/results
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
. bench/lib.sh
export IMAGEWISE_NO_PROGRESS=1

python3 bench/gen_osv.py "$RECORDS" "$TMP/all.zip" "$TMP/rootfs" 500
out=bench/results/scan-$(date +%Y%m%d-%H%M).md
{
  echo "imagewise db import / scan, $RECORDS synthetic records, 500-package image, median of $N runs, $(nproc) cores, $(date -u +%F)"
  echo
  echo "| step | imagewise | peak RSS | floor | floor time | floor RSS | ratio |"
  echo "|---|---|---|---|---|---|---|"
  row "import (fresh db)" "rm -rf $TMP/db && $IW db import --db $TMP/db $TMP/all.zip" "unzip -p > /dev/null" "unzip -p $TMP/all.zip > /dev/null"
  row "re-import (unchanged)" "$IW db import --db $TMP/db $TMP/all.zip" "unzip -p > /dev/null" "unzip -p $TMP/all.zip > /dev/null"
  row "scan, whole command" "$IW scan --db $TMP/db --max-age-days 100000 dir:$TMP/rootfs" "inspect --json (no matching)" "$IW inspect --json dir:$TMP/rootfs"
  echo
  rm -rf "$TMP/db"
  "$IW" db import --json --db "$TMP/db" "$TMP/all.zip" > "$TMP/import.json"
  jq -r '"import: \(.records) records in \(.seconds * 1000 | floor) ms = \(.records / .seconds | floor) records/s (\(.added) added, \(.skipped) skipped)"' "$TMP/import.json"
  for _ in $(seq "$N"); do
    "$IW" scan --json --db "$TMP/db" --max-age-days 100000 "dir:$TMP/rootfs" | jq '.match_seconds'
  done | sort -n | awk '{a[NR]=$1} END {printf "scan matching (db open, image read): median %.1f ms of %d runs\n", a[int((NR+1)/2)] * 1000, NR}'
  "$IW" scan --json --db "$TMP/db" --max-age-days 100000 "dir:$TMP/rootfs" |
    jq -r '"scan: \(.packages_scanned) packages, \(.findings | length) findings"'
  echo "database size: $(du -sh "$TMP/db" | cut -f1), zip: $(du -sh "$TMP/all.zip" | cut -f1)"
} | tee "$out"
echo "written to $out" >&2
