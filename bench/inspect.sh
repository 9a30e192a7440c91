#!/usr/bin/env bash
# Side-by-side timing of `imagewise inspect --json` in one run, against
#   - a bare metadata walk of the same tree (find -printf '%p %s %m'), the floor the issue sets
#     (goal: inspect within 2× of it), and
#   - dpkg-query -W on the same tree (what a package listing alone costs);
# for the bookworm rootfs as a directory, and through its tar.zst, OCI and qcow2 wrappings
# (whose floors read the wrapping too), and the host's own /.
# Prints medians of N runs (default 5), peak RSS and ratios; compare within one run only.
#
#   bench/inspect.sh [N]
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

R=$F/bookworm-rootfs
out=bench/results/inspect-$(date +%Y%m%d-%H%M).md
{
  echo "imagewise inspect --json, median of $N runs, $(nproc) cores, $(date -u +%F)"
  echo
  echo "| input | imagewise | peak RSS | floor | floor time | floor RSS | ratio |"
  echo "|---|---|---|---|---|---|---|"
  row "dir (bookworm)" "$IW inspect --json dir:$R" "find -printf '%p %s %m'" "find $R -printf '%p %s %m\n'"
  row "dir (bookworm)" "$IW inspect --json dir:$R" "dpkg-query -W" "dpkg-query --admindir=$R/var/lib/dpkg -W"
  row "tar.zst (bookworm)" "$IW inspect --json $F/bookworm.tar.zst" "zstd -dc | tar -tv" "zstd -dc $F/bookworm.tar.zst | tar -tvf -"
  row "oci gzip (bookworm)" "$IW inspect --json $F/bookworm-oci" "gzip -dc layer | tar -tv" "gzip -dc \$(ls -S $F/bookworm-oci/blobs/sha256/* | head -1) | tar -tvf -"
  row "qcow2 (bookworm)" "$IW inspect --json $F/bookworm-gpt.qcow2" "qemu-img convert -O raw" "qemu-img convert -O raw $F/bookworm-gpt.qcow2 $TMP/x.raw"
  row "host /, live" "$IW inspect --json /" "find /, pruning /proc /sys" "find / -path /proc -prune -o -path /sys -prune -o -path /dev/pts -prune -o -printf '%p %s %m\n'"
} | tee "$out"
echo "written to $out" >&2
