#!/usr/bin/env bash
# Side by side in one run: `imagewise check` of every ELF of one root filesystem against another,
# against the oracle it replaces — copying each binary into an overlay of the target and running
# the target's own loader (`chroot T LOADER --list BIN`) — and the floor of reading every ELF
# once (`cat > /dev/null`). Reports median wall time, peak RSS and the speed-up over the loop.
#
#   bench/check.sh [APP_ROOTFS] [TARGET_ROOTFS] [RUNS]     (default: trixie on bookworm, 5 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
FIX=${IMAGEWISE_FIXTURES:-/var/cache/imagewise-fixtures}
APP=${1:-$FIX/trixie-rootfs}
TARGET=${2:-$FIX/bookworm-rootfs}
N=${3:-5}
bash scripts/install-deps.sh
bash scripts/fixtures.sh "$FIX" >/dev/null
cargo build --release -q
IW=$PWD/target/release/imagewise
mkdir -p bench/results
TMP=$(mktemp -d)
mkdir -p "$TMP/m" "$TMP/up" "$TMP/work"
cleanup() { umount "$TMP/m" 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
. bench/lib.sh
export IMAGEWISE_NO_PROGRESS=1

# The target, writable without touching the fixture: an overlay, else a copy.
mount -t overlay overlay -o "lowerdir=$TARGET,upperdir=$TMP/up,workdir=$TMP/work" "$TMP/m" 2>/dev/null ||
  cp -a "$TARGET/." "$TMP/m"

# The binaries imagewise checks, and the loader each would be listed with (chosen outside the
# timed loop, as the loop's user would know it).
"$IW" check --json --path / "dir:$APP" --on "dir:$TARGET" > "$TMP/ours.json" || true
jq -r '.results[].binary' "$TMP/ours.json" > "$TMP/list"
while read -r p; do
  interp=$(readelf -lW "$APP$p" 2>/dev/null | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
  printf '%s\t%s\n' "$p" "${interp:-/lib64/ld-linux-x86-64.so.2}"
done < "$TMP/list" > "$TMP/plan"
cat > "$TMP/loop.sh" <<EOF
while IFS=\$'\t' read -r p loader; do
  cp "$APP\$p" "$TMP/m/tmp/iw-bench-bin"
  chroot "$TMP/m" "\$loader" --list /tmp/iw-bench-bin >/dev/null 2>&1 || true
done < "$TMP/plan"
EOF
count=$(wc -l < "$TMP/list")

out=bench/results/check-$(date +%Y%m%d-%H%M).md
{
  echo "imagewise check: $count ELF files of $(basename "$APP") on $(basename "$TARGET"), median of $N runs, $(nproc) cores, $(date -u +%F)"
  echo
  read -r ow orss < <(measure "$IW check --json --path / dir:$APP --on dir:$TARGET > /dev/null || true")
  read -r sw srss < <(measure "$IW check --json --symbols --path / dir:$APP --on dir:$TARGET > /dev/null || true")
  read -r lw lrss < <(measure "bash $TMP/loop.sh")
  read -r fw frss < <(measure "cd $APP && tr '\n' '\0' < $TMP/list | sed 's|^/||; s|\x00/|\x00|g' | xargs -0 cat > /dev/null")
  echo "| what | wall | peak RSS | loader loop ÷ this |"
  echo "|---|---|---|---|"
  for r in "imagewise check|$ow|$orss" "imagewise check --symbols|$sw|$srss" \
           "loader --list loop (oracle)|$lw|$lrss" "floor: read every ELF once|$fw|$frss"; do
    IFS='|' read -r label w rss <<< "$r"
    printf '| %s | %.3f s | %d MiB | %.1f× |\n' "$label" "$w" $((rss / 1024)) "$(awk -v a="$lw" -v b="$w" 'BEGIN { print (b > 0 ? a / b : 0) }')"
  done
  echo
  jq -r '.summary.targets[] | "verdicts: \(.checked) checked, \(.run) run, \(.wont_run) won'"'"'t run"' "$TMP/ours.json"
} | tee "$out"
echo "written to $out" >&2
