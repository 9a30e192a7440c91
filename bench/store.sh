#!/usr/bin/env bash
# Side by side in one run: imagewise's snapshot store against rustic, restic, borg (lz4, zstd) and
# casync on the shared corpus (Debian bookworm rootfs-a → rootfs-b, 1 GiB ext4 disk images):
# full backup, incremental, unchanged, forced rescan, restore, verify, disk images in order;
# wall, CPU, peak RSS and repository size; and the floors (tar | zstd -3 -T2, find -printf,
# cp -a). Builds the corpus with ../shared/bench/make-corpus.sh and rustic with `cargo install
# rustic-rs --locked` (both cached under /var/cache/iw-bench) when absent. Repositories and
# restores live on a scratch ext4 loop filesystem made for the run (below, why).
#
#   bench/store.sh            (RUNS=2 by default; B=corpus dir, default /var/cache/iw-bench/bench-corpus;
#                              PAIRS=7 interleaved pairs against the floors at the end;
#                              PAIRS_ONLY=1 runs only those)
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
mkdir -p "$RES"
# Repositories and restores go to a scratch ext4 made afresh for the run, with the journal
# `mkfs.ext4` gives by default. This machine's root filesystem has none, and there perf shows
# `cp -a` itself spending 70% of its time in ext4's scan for recently deleted inodes
# (`recently_deleted`, taken only without a journal): after a few trees were removed, the same
# `cp -a` of rootfs-b took 2.4, 4.2 and 8.4 s in a row, and 1.3 s on the scratch filesystem every
# time. A restore there measures the allocator's state, not the tool.
SCRATCH_IMG=${SCRATCH_IMG:-/var/cache/iw-bench/scratch.img}
SCRATCH=$B/scratch
if ! mountpoint -q "$SCRATCH"; then
  rm -f "$SCRATCH_IMG"
  truncate -s 24G "$SCRATCH_IMG"
  mkfs.ext4 -q -F "$SCRATCH_IMG"
  mkdir -p "$SCRATCH"
  mount -o loop "$SCRATCH_IMG" "$SCRATCH"
  trap 'umount "$SCRATCH"; rm -f "$SCRATCH_IMG"' EXIT
fi
export R=$SCRATCH/repos T=$SCRATCH/restore
if [ -z "${PAIRS_ONLY:-}" ]; then
  rm -f "$RES/anchors.csv" "$RES/restore-check.txt"
  bash bench/store-anchors.sh
fi
# The goals against the floors once more, as interleaved pairs (store-pairs.py says why).
python3 bench/store-pairs.py "$IW" "$B" "$SCRATCH" "$RES" | tee "$RES/pairs.txt"
