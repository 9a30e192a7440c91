#!/usr/bin/env bash
# Side-by-side timing of `imagewise lint --json` (every built-in profile) against
# `imagewise inspect --json` of the same image, in one run: the rules must reuse the facts and
# read only the few extra files they need (goal: lint ≤ 1.2× inspect). For the bookworm rootfs,
# its OCI layout (a gzip layer read once), the misconfigured bullseye tree, and the host's /.
# Prints medians of N runs (default 5), peak RSS and ratios; compare within one run only.
#
#   bench/lint.sh [N]
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

P="--profile baseline --profile cis-container --profile cis-host --profile web --profile db --profile cache --profile batch --profile vm"
out=bench/results/lint-$(date +%Y%m%d-%H%M).md
{
  echo "imagewise lint --json (all profiles) vs inspect --json, median of $N runs, $(nproc) cores, $(date -u +%F)"
  echo
  echo "| input | lint | peak RSS | floor | floor time | floor RSS | ratio |"
  echo "|---|---|---|---|---|---|---|"
  row "dir (bookworm)" "$IW lint --json $P dir:$F/bookworm-rootfs" "inspect --json" "$IW inspect --json dir:$F/bookworm-rootfs"
  row "oci gzip (bookworm)" "$IW lint --json $P oci:$F/bookworm-oci" "inspect --json" "$IW inspect --json oci:$F/bookworm-oci"
  row "dir (bullseye misconfigured)" "$IW lint --json $P dir:$F/bullseye-misconfigured-rootfs" "inspect --json" "$IW inspect --json dir:$F/bullseye-misconfigured-rootfs"
  row "host /, live" "$IW lint --json $P /" "inspect --json" "$IW inspect --json /"
} | tee "$out"
echo "written to $out" >&2
