#!/usr/bin/env bash
# How the FastCDC target size changes dedup, size and speed on the store corpus
# (../shared/bench/make-corpus.sh): for files, rootfs-a then rootfs-b into one repository; for
# raw disks, disk-a, disk-b (updated in place) and disk-b-fresh (new mkfs) into one repository.
# Prints one row per size: repository bytes after each step and the time of each create.
#
#   bench/store-chunks.sh         (B=corpus dir, default /var/cache/iw-bench/bench-corpus)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-/var/cache/iw-bench/bench-corpus}
cargo build --release -q -p imagewise-cli
IW=$PWD/target/release/imagewise
export IMAGEWISE_NO_PROGRESS=1
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
t() { /usr/bin/time -f %e "$@" 2>&1 >/dev/null | tail -1; }
mib() { echo "scale=1; $(du -sb "$1" | cut -f1) / 1048576" | bc; }
echo "files: avg chunk | rootfs-a s | MiB | rootfs-b s | MiB"
for avg in 16384 32768 65536 131072 262144 1048576; do
  rm -rf "$T/r"; "$IW" repo init -q --chunk-size $avg "$T/r"
  a=$(t "$IW" snapshot create -q "$T/r" "$B/rootfs-a"); ma=$(mib "$T/r")
  b=$(t "$IW" snapshot create -q "$T/r" "$B/rootfs-b"); mb=$(mib "$T/r")
  echo "$((avg / 1024)) KiB | $a | $ma | $b | $mb"
done
echo "raw disks: avg chunk | disk-a s | MiB | disk-b s | MiB | disk-b-fresh s | MiB (growth)"
for avg in 16384 32768 65536 131072 262144; do
  rm -rf "$T/r"; "$IW" repo init -q --raw-chunk-size $avg "$T/r"
  row="$((avg / 1024)) KiB"; last=0
  for d in disk-a disk-b disk-b-fresh; do
    s=$(t "$IW" snapshot create -q --raw "$T/r" "$B/$d.raw"); prev=$last; last=$(mib "$T/r")
    row="$row | $s | $last"
  done
  echo "$row (fresh +$(echo "$last - $prev" | bc))"
done
