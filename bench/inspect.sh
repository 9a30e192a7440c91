#!/usr/bin/env bash
# Side-by-side timing of `imagewise inspect --json` in one run, against
#   - a bare metadata walk of the same tree (find -printf '%p %s %m'), the floor the issue sets
#     (goal: inspect within 2× of it), and
#   - dpkg-query -W on the same tree (what a package listing alone costs);
# for the bookworm rootfs as a directory, and through its tar.zst, OCI and qcow2 wrappings
# (whose floors read the wrapping too), the host's own /, and the application fixture (Python,
# npm, JARs, Go and Rust programs) against the walk plus `cat` of exactly the metadata files,
# archives and programs the application inventory reads. BEFORE=path/to/imagewise adds the
# same rows for an older build (no regression on bookworm).
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
A=$F/app-rootfs
# What the application inventory reads (the metadata whole; archives and programs through their
# index, which cat reads whole: a generous floor).
find "$A" -type f \( -path '*-packages/*.dist-info/METADATA' -o -path '*-packages/*.egg-info*' \
  -o -path '*/node_modules/*/package.json' -o -name '*.jar' -o -perm -u+x \) > "$TMP/app-files"
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
  row "dir (app fixture)" "$IW inspect --json dir:$A" "find + cat of the files read" "find $A -printf '%p %s %m\n'; xargs cat < $TMP/app-files"
  if [ -n "${BEFORE:-}" ]; then
    row "dir (bookworm), before" "$BEFORE inspect --json dir:$R" "find -printf '%p %s %m'" "find $R -printf '%p %s %m\n'"
    row "dir (app fixture), before" "$BEFORE inspect --json dir:$A" "find + cat of the files read" "find $A -printf '%p %s %m\n'; xargs cat < $TMP/app-files"
  fi
  row "host /, live" "$IW inspect --json /" "find /, pruning /proc /sys" "find / -path /proc -prune -o -path /sys -prune -o -path /dev/pts -prune -o -printf '%p %s %m\n'"
} | tee "$out"
echo "written to $out" >&2
