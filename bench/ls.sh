#!/usr/bin/env bash
# Side-by-side timing of `imagewise ls` against the floor for each format, in one run:
#   dir        find DIR -printf (a bare metadata walk)
#   tar        tar -tvf
#   tar.zst    zstd -dc | tar -tvf -
#   qcow2      qemu-img convert to raw (and nothing more)
#   XFS, Btrfs find -printf on the same image loop-mounted read-only (page cache warm for both)
#   squashfs   unsquashfs -lls
#   VMDK, VHDX qemu-img convert to raw
# plus peak RSS for a ~1 GiB compressed layer (as tar.zst and as an OCI layer whose digest is
# verified) and the scale case: a tar of one million small files vs tar -tvf.
# Prints medians of N runs (default 3), ratios to the floor and peak RSS; machines here are
# noisy, so compare within one run only.
#
#   bench/ls.sh [N]        (fixtures from scripts/fixtures.sh; big inputs cached in $BENCH_DIR)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-3}
F=${IMAGEWISE_FIXTURES:-/var/cache/imagewise-fixtures}
BENCH_DIR=${BENCH_DIR:-/var/cache/imagewise-bench}
bash scripts/install-deps.sh
bash scripts/fixtures.sh "$F" >/dev/null 2>&1
cargo build --release -q
IW=$PWD/target/release/imagewise
mkdir -p "$BENCH_DIR" bench/results
TMP=$(mktemp -d)
MNT=$TMP/mnt
trap 'umount "$MNT"/* 2>/dev/null || true; rm -rf "$TMP"' EXIT

# Build the large inputs once.
if [ ! -f "$BENCH_DIR/big.tar.zst" ]; then
  echo "building a 1 GiB layer (random data, so it stays ~1 GiB compressed)" >&2
  mkdir -p "$TMP/big/data"
  head -c 1G /dev/urandom > "$TMP/big/data/blob"
  for i in $(seq 1 200); do head -c 4096 /dev/urandom > "$TMP/big/data/small$i"; done
  tar -C "$TMP/big" -cf - . | zstd -q -1 -T0 -o "$BENCH_DIR/big.tar.zst.tmp"
  mv "$BENCH_DIR/big.tar.zst.tmp" "$BENCH_DIR/big.tar.zst"
  rm -rf "$TMP/big"
fi
if [ ! -f "$BENCH_DIR/big-oci/index.json" ]; then
  python3 - "$BENCH_DIR/big.tar.zst" "$BENCH_DIR/big-oci" <<'PY'
import hashlib, json, os, shutil, sys
src, out = sys.argv[1], sys.argv[2]
os.makedirs(f"{out}/blobs/sha256", exist_ok=True)
def put(data=None, path=None, mt=""):
    h = hashlib.sha256()
    if path:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        size = os.path.getsize(path)
        os.link(path, f"{out}/blobs/sha256/{h.hexdigest()}")
    else:
        h.update(data); size = len(data)
        open(f"{out}/blobs/sha256/{h.hexdigest()}", "wb").write(data)
    return {"mediaType": mt, "digest": "sha256:" + h.hexdigest(), "size": size}
layer = put(path=src, mt="application/vnd.oci.image.layer.v1.tar+zstd")
cfg = put(json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode(),
          mt="application/vnd.oci.image.config.v1+json")
man = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": cfg, "layers": [layer]}).encode(), mt="application/vnd.oci.image.manifest.v1+json")
open(f"{out}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
open(f"{out}/index.json", "w").write(json.dumps({"schemaVersion": 2, "manifests": [man]}))
PY
fi
if [ ! -f "$BENCH_DIR/million.tar" ]; then
  echo "building a tar of 1,000,000 small files" >&2
  python3 - "$BENCH_DIR/million.tar.tmp" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.GNU_FORMAT) as t:
    for d in range(1000):
        info = tarfile.TarInfo(f"srv/d{d:04}"); info.type = tarfile.DIRTYPE; info.mode = 0o755
        t.addfile(info)
        for f in range(1000):
            data = b"x" * (f % 64)
            info = tarfile.TarInfo(f"srv/d{d:04}/file-{f:04}.txt"); info.size = len(data); info.mode = 0o644
            t.addfile(info, io.BytesIO(data))
PY
  mv "$BENCH_DIR/million.tar.tmp" "$BENCH_DIR/million.tar"
fi

# The bookworm tree in the other filesystems and wrappings (issue 20's formats).
B=$F/bookworm-rootfs
mkfs_copy() { # IMAGE MKFS MOUNT-OPTIONS
  [ -f "$1" ] && return
  truncate -s 1500M "$1.tmp" && $2 "$1.tmp" >/dev/null 2>&1
  mkdir -p "$TMP/fill" && mount -o "loop,$3" "$1.tmp" "$TMP/fill" && cp -a "$B/." "$TMP/fill/" && umount "$TMP/fill"
  mv "$1.tmp" "$1"
}
mkfs_copy "$BENCH_DIR/bookworm.xfs" "mkfs.xfs -q -f" rw
mkfs_copy "$BENCH_DIR/bookworm.btrfs" "mkfs.btrfs -q -f" compress-force=zstd
[ -f "$BENCH_DIR/bookworm.sqfs" ] || mksquashfs "$B" "$BENCH_DIR/bookworm.sqfs" -comp zstd -noappend -no-progress -quiet >/dev/null
[ -f "$BENCH_DIR/bookworm.vmdk" ] || qemu-img convert -O vmdk -o subformat=streamOptimized "$F/bookworm-gpt.raw" "$BENCH_DIR/bookworm.vmdk"
[ -f "$BENCH_DIR/bookworm.vhdx" ] || qemu-img convert -O vhdx "$F/bookworm-gpt.raw" "$BENCH_DIR/bookworm.vhdx"
mkdir -p "$MNT/xfs" "$MNT/btrfs"
mount -o loop,ro "$BENCH_DIR/bookworm.xfs" "$MNT/xfs"
mount -o loop,ro "$BENCH_DIR/bookworm.btrfs" "$MNT/btrfs"

. bench/lib.sh

out=bench/results/ls-$(date +%Y%m%d-%H%M).md
{
  echo "imagewise ls, median of $N runs, $(nproc) cores, $(date -u +%F)"
  echo
  echo "| input | imagewise | peak RSS | floor | floor time | floor RSS | ratio |"
  echo "|---|---|---|---|---|---|---|"
  row "dir (bookworm)" "$IW ls --json dir:$F/bookworm-rootfs" "find -printf" "find $F/bookworm-rootfs -printf '%M %U %G %s %T@ %p %l\n'"
  row "dir (host /usr)" "$IW ls --json dir:/usr" "find -printf" "find /usr -printf '%M %U %G %s %T@ %p %l\n'"
  row "dir (host /, live)" "$IW ls --json /" "find, pruning /proc /sys" "find / -path /proc -prune -o -path /sys -prune -o -path /dev/pts -prune -o -printf '%M %U %G %s %T@ %p %l\n'"
  row "tar (bookworm)" "$IW ls --json $F/bookworm.tar" "tar -tvf" "tar -tvf $F/bookworm.tar"
  row "tar.zst (bookworm)" "$IW ls --json $F/bookworm.tar.zst" "zstd -dc | tar -tvf -" "zstd -dc $F/bookworm.tar.zst | tar -tvf -"
  row "oci gzip (bookworm)" "$IW ls --json $F/bookworm-oci" "gzip -dc layer | tar -tvf -" "gzip -dc \$(ls -S $F/bookworm-oci/blobs/sha256/* | head -1) | tar -tvf -"
  row "qcow2 (bookworm)" "$IW ls --json $F/bookworm-gpt.qcow2" "qemu-img convert -O raw" "qemu-img convert -O raw $F/bookworm-gpt.qcow2 $TMP/x.raw"
  row "raw GPT ext4 (bookworm)" "$IW ls --json $F/bookworm-gpt.raw" "find -printf (same tree)" "find $F/bookworm-rootfs -printf '%M %U %G %s %T@ %p %l\n'"
  row "XFS (bookworm)" "$IW ls --json $BENCH_DIR/bookworm.xfs" "find -printf on the mount" "find $MNT/xfs -printf '%M %U %G %s %T@ %p %l\n'"
  row "Btrfs zstd (bookworm)" "$IW ls --json $BENCH_DIR/bookworm.btrfs" "find -printf on the mount" "find $MNT/btrfs -printf '%M %U %G %s %T@ %p %l\n'"
  row "squashfs zstd (bookworm)" "$IW ls --json $BENCH_DIR/bookworm.sqfs" "unsquashfs -lls" "unsquashfs -lls $BENCH_DIR/bookworm.sqfs"
  row "VMDK stream (bookworm)" "$IW ls --json $BENCH_DIR/bookworm.vmdk" "qemu-img convert -O raw" "qemu-img convert -O raw $BENCH_DIR/bookworm.vmdk $TMP/x.raw"
  row "VHDX (bookworm)" "$IW ls --json $BENCH_DIR/bookworm.vhdx" "qemu-img convert -O raw" "qemu-img convert -O raw $BENCH_DIR/bookworm.vhdx $TMP/x.raw"
  row "1 GiB tar.zst layer" "$IW ls --json $BENCH_DIR/big.tar.zst" "zstd -dc | tar -tvf -" "zstd -dc $BENCH_DIR/big.tar.zst | tar -tvf -"
  row "1 GiB OCI zstd layer" "$IW ls --json $BENCH_DIR/big-oci" "zstd -dc | sha256sum" "zstd -dc $BENCH_DIR/big.tar.zst | tar -tvf - ; sha256sum $BENCH_DIR/big.tar.zst"
  row "1M small files tar" "$IW ls --json $BENCH_DIR/million.tar" "tar -tvf" "tar -tvf $BENCH_DIR/million.tar"
} | tee "$out"
echo "written to $out" >&2
