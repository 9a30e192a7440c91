#!/usr/bin/env bash
# Side by side in one run: imagewise's snapshot store against rustic, restic, borg (lz4, zstd) and
# casync on the shared corpus (Debian bookworm rootfs-a → rootfs-b, 1 GiB ext4 disk images):
# full backup, incremental, unchanged, forced rescan, restore, verify, disk images in order;
# wall, CPU, peak RSS and repository size; and the floors (tar | zstd -3 -T2, find -printf,
# cp -a). Builds the corpus with ../shared/bench/make-corpus.sh and rustic with `cargo install
# rustic-rs --locked` (both cached under /var/cache/iw-bench) when absent.
#
#   bench/store.sh            (RUNS=2 by default; B=corpus dir, default /var/cache/iw-bench/bench-corpus)
set -euo pipefail
cd "$(dirname "$0")/.."
export B=${B:-/var/cache/iw-bench/bench-corpus}
export RUNS=${RUNS:-2}
export RES=${RES:-$PWD/bench/results/store}
export TOOLS=${TOOLS:-"floor imagewise rustic restic borg-lz4 borg-zstd casync"}
export RUSTIC=${RUSTIC:-/var/cache/iw-bench/rustic/bin/rustic}
if [ ! -x "$RUSTIC" ]; then
  cargo install rustic-rs --locked --root "$(dirname "$(dirname "$RUSTIC")")"
fi
SHARED=$(cd .. && pwd)/shared/bench
if [ ! -f "$B/disk-b-fresh.raw" ]; then
  mkdir -p "$(dirname "$B")"
  (cd "$(dirname "$B")" && B="$B" bash "$SHARED/make-corpus.sh")
fi
for t in restic borg casync rsync zstd; do command -v $t >/dev/null || { apt-get update -q && apt-get install -y -q restic borgbackup casync rsync time zstd; break; }; done
cargo build --release -q -p imagewise-cli
export IW=$PWD/target/release/imagewise
rm -f "$RES/anchors.csv" "$RES/restore-check.txt"
mkdir -p "$RES"
bash bench/store-anchors.sh
