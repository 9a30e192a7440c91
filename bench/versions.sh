#!/usr/bin/env bash
# Side by side in one run: this tree's imagewise against an earlier revision's, on the commands
# every user runs (ls, inspect, check, the store), and `inspect` of a stored snapshot against
# `inspect` of the directory that was stored. Both binaries are release builds; each command
# runs N times (default 5) for each, alternating, and the table gives the medians and
# new ÷ old. Machines here are noisy: compare within one run only.
#
#   bench/versions.sh [N] [REV]     REV defaults to the last commit before the contracts work
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5}
REV=${2:-03ba93c}
F=${IMAGEWISE_FIXTURES:-/var/cache/imagewise-fixtures}
BENCH_DIR=${BENCH_DIR:-/var/cache/imagewise-bench}
bash scripts/install-deps.sh
bash scripts/fixtures.sh "$F" >/dev/null 2>&1
cargo build --release -q
NEW=$PWD/target/release/imagewise
# The old revision is built once per revision, in a worktree of its own.
OLD_SRC="$BENCH_DIR/src-$REV"
if [ ! -d "$OLD_SRC" ]; then
  git worktree add -f "$OLD_SRC" "$REV" >/dev/null
fi
(cd "$OLD_SRC" && CARGO_TARGET_DIR="$BENCH_DIR/target-$REV" cargo build --release -q)
OLD=$BENCH_DIR/target-$REV/release/imagewise
mkdir -p bench/results
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export IMAGEWISE_NO_PROGRESS=1
. bench/lib.sh

B=$F/bookworm-rootfs
# Store inputs: a repository per binary holding the bookworm tree (made before timing).
for v in old new; do
  bin=$OLD; [ $v = new ] && bin=$NEW
  "$bin" repo init "$TMP/repo-$v" >/dev/null
  "$bin" snapshot create -q "$TMP/repo-$v" "dir:$B" --tag base
done

# One timed run: wall seconds and peak RSS (KiB). Dirty pages are written back first, so one
# run's writes do not slow the next.
once() {
  sync
  local start=$EPOCHREALTIME
  /usr/bin/time -f "%M" -o "$TMP/t" bash -c "$1" >/dev/null 2>"$TMP/err" || { cat "$TMP/err" >&2; return 1; }
  local end=$EPOCHREALTIME
  echo "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f", b - a }') $(cat "$TMP/t")"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

cmp_row() { # LABEL COMMAND-WITH-@BIN@ (and @REPO@ for the binary's own repository)
  local label=$1 cmd=$2 ow=() nw=() orss=0 nrss=0 w m
  local oc=${cmd//@BIN@/$OLD}; oc=${oc//@REPO@/$TMP/repo-old}
  local nc=${cmd//@BIN@/$NEW}; nc=${nc//@REPO@/$TMP/repo-new}
  for i in $(seq "$N"); do
    # Alternate which goes first, so neither always runs on a warmer machine.
    if [ $((i % 2)) = 1 ]; then
      read -r w m < <(once "$oc"); ow+=("$w"); [ "$m" -gt "$orss" ] && orss=$m
      read -r w m < <(once "$nc"); nw+=("$w"); [ "$m" -gt "$nrss" ] && nrss=$m
    else
      read -r w m < <(once "$nc"); nw+=("$w"); [ "$m" -gt "$nrss" ] && nrss=$m
      read -r w m < <(once "$oc"); ow+=("$w"); [ "$m" -gt "$orss" ] && orss=$m
    fi
  done
  local o n
  o=$(printf '%s\n' "${ow[@]}" | median)
  n=$(printf '%s\n' "${nw[@]}" | median)
  ratio=$(awk -v a="$n" -v b="$o" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
  printf '| %-34s | %7.3f s | %5d MiB | %7.3f s | %5d MiB | %5s× |\n' \
    "$label" "$o" $((orss / 1024)) "$n" $((nrss / 1024)) "$ratio"
}

{
  echo "imagewise $REV (old) vs this tree (new), medians of $N runs, $(nproc) cores, $(date -u +%F)"
  echo
  echo "| command | old | old RSS | new | new RSS | new ÷ old |"
  echo "|---|---|---|---|---|---|"
  cmp_row "ls --json dir (bookworm)" "@BIN@ ls --json dir:$B"
  cmp_row "ls --json tar.zst" "@BIN@ ls --json $F/bookworm.tar.zst"
  cmp_row "ls --json oci (digest verified)" "@BIN@ ls --json oci:$F/bookworm-oci"
  cmp_row "ls --json qcow2" "@BIN@ ls --json $F/bookworm-gpt.qcow2"
  cmp_row "inspect --json dir" "@BIN@ inspect --json dir:$B"
  cmp_row "inspect --json qcow2" "@BIN@ inspect --json $F/bookworm-gpt.qcow2"
  cmp_row "check trixie ELFs on bookworm" \
    "@BIN@ check --json --path / dir:$F/trixie-rootfs --on dir:$B || true"
  cmp_row "snapshot create (incremental)" "@BIN@ snapshot create -q @REPO@ dir:$F/bookworm-plus-rootfs"
  cmp_row "restore" "rm -rf $TMP/out && @BIN@ restore -q @REPO@ base $TMP/out"
  cmp_row "repo check --read-data" "@BIN@ repo check --read-data @REPO@"
  echo
  echo "Reading a stored snapshot in place (new binary): inspect of snapshot:REPO@base against the"
  echo "directory it was made from."
  echo
  echo "| input | imagewise inspect --json | peak RSS | dir | dir time | dir RSS | ratio |"
  echo "|---|---|---|---|---|---|---|"
  row "snapshot:REPO@base" "$NEW inspect --json snapshot:$TMP/repo-new@base" \
    "inspect --json dir:" "$NEW inspect --json dir:$B"
  row "ls --json --digest" "$NEW ls --json --digest snapshot:$TMP/repo-new@base" \
    "ls --json --digest dir:" "$NEW ls --json --digest dir:$B"
} | tee bench/results/versions.md
