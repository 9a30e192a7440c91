#!/usr/bin/env bash
# Build small, valid seed inputs for the fuzz targets (corpus/<target>/), then run one:
#   fuzz/seeds.sh && RUSTC_BOOTSTRAP=1 cargo fuzz run tar -- -max_total_time=300
# cargo-fuzz needs nightly features; RUSTC_BOOTSTRAP=1 lets the stable toolchain build them.
set -euo pipefail
cd "$(dirname "$0")"
w=$(mktemp -d); trap 'rm -rf "$w"' EXIT
mkdir -p corpus/tar corpus/oci_archive corpus/disk corpus/rpmdb corpus/inspect corpus/osv corpus/elf
mkdir -p "$w/root/etc" "$w/root/bin"
printf 'ID=seed\n' > "$w/root/etc/os-release"
ln -s os-release "$w/root/etc/link"
ln "$w/root/etc/os-release" "$w/root/etc/hard"
head -c 3000 /dev/urandom > "$w/root/bin/tool"
truncate -s 100000 "$w/root/bin/sparse"; printf 'x' | dd of="$w/root/bin/sparse" bs=1 seek=50000 conv=notrunc status=none
tar --format=gnu --sparse -C "$w/root" -cf corpus/tar/gnu.tar .
tar --posix --sparse -C "$w/root" -cf corpus/tar/pax.tar .
gzip -c corpus/tar/gnu.tar > corpus/tar/gnu.tar.gz
zstd -q -c corpus/tar/pax.tar > corpus/tar/pax.tar.zst
xz -c corpus/tar/gnu.tar > corpus/tar/gnu.tar.xz
# A one-layer OCI archive.
python3 - "$w/layout" corpus/tar/gnu.tar.gz <<'PY'
import hashlib, json, os, sys
out, layer = sys.argv[1], open(sys.argv[2], "rb").read()
os.makedirs(f"{out}/blobs/sha256")
def put(data, mt):
    d = hashlib.sha256(data).hexdigest()
    open(f"{out}/blobs/sha256/{d}", "wb").write(data)
    return {"mediaType": mt, "digest": "sha256:" + d, "size": len(data)}
l = put(layer, "application/vnd.oci.image.layer.v1.tar+gzip")
c = put(b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}', "application/vnd.oci.image.config.v1+json")
m = put(json.dumps({"schemaVersion": 2, "config": c, "layers": [l]}).encode(), "application/vnd.oci.image.manifest.v1+json")
open(f"{out}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
open(f"{out}/index.json", "w").write(json.dumps({"schemaVersion": 2, "manifests": [m]}))
PY
tar -C "$w/layout" -cf corpus/oci_archive/one-layer.tar .
# Disks: a bare ext4, and a compressed qcow2 of it with small clusters.
truncate -s 1M "$w/fs.raw"
mkfs.ext4 -q -F -b 1024 -N 32 -O ^has_journal -d "$w/root" "$w/fs.raw"
cp "$w/fs.raw" corpus/disk/ext4.raw
qemu-img convert -c -O qcow2 -o cluster_size=4096 "$w/fs.raw" corpus/disk/ext4.qcow2
# The same tree as Btrfs (mixed block groups, 16 MiB), XFS (v5), squashfs (lzo) and an ISO.
truncate -s 16M "$w/fs.btrfs"
mkfs.btrfs -q -f -M --rootdir "$w/root" "$w/fs.btrfs" >/dev/null 2>&1
cp "$w/fs.btrfs" corpus/disk/btrfs.raw
truncate -s 16M "$w/fs.xfs"
python3 ../scripts/xfs-proto.py "$w/root" > "$w/proto"
TEST_DIR=1 TEST_DEV=1 QA_CHECK_FS=1 mkfs.xfs -q -f -p "$w/proto" "$w/fs.xfs"
cp "$w/fs.xfs" corpus/disk/xfs.raw
mksquashfs "$w/root" corpus/disk/lzo.sqfs -comp lzo -noappend -no-progress -quiet >/dev/null
xorriso -as mkisofs -R -J -o corpus/disk/tree.iso "$w/root" 2>/dev/null
ls -la corpus/*
# rpm databases: the first byte picks the backend (0 sqlite, 1 ndb, 2 bdb).
shared=../../shared/fixtures/rpmdb
if [ -d "$shared" ]; then
  { printf '\x00'; cat "$shared/cbl-mariner-2.0/rpmdb.sqlite"; } > corpus/rpmdb/sqlite
  { printf '\x01'; cat "$shared/sle15-bci/Packages.db"; } > corpus/rpmdb/ndb
  { printf '\x02'; cat "$shared/libuuid/Packages"; } > corpus/rpmdb/bdb
fi
# inspect: a tiny system tree with the files the facts readers parse.
mkdir -p "$w/sys/etc/ssh" "$w/sys/var/lib/dpkg" "$w/sys/lib/apk/db" "$w/sys/boot"
printf 'ID=debian\nVERSION_ID="12"\n' > "$w/sys/etc/os-release"
printf 'Package: a\nStatus: install ok installed\nVersion: 1:2-3\nSource: b (2-2)\n\n' > "$w/sys/var/lib/dpkg/status"
printf 'P:musl\nV:1.2.5-r0\nA:x86_64\no:musl\n\n' > "$w/sys/lib/apk/db/installed"
printf 'root:x:0:0::/root:/bin/sh\n' > "$w/sys/etc/passwd"
printf 'root::1::::::\n' > "$w/sys/etc/shadow"
printf 'Include /etc/ssh/*.conf\nPermitRootLogin yes\n' > "$w/sys/etc/ssh/sshd_config"
printf 'CONFIG_BPF=y\n' > "$w/sys/boot/config-6.1.0"
head -c 4096 /bin/true > "$w/sys/app" 2>/dev/null || true
tar -C "$w/sys" -cf corpus/inspect/system.tar .
# osv: a record, an array of records, and an all.zip of them.
mkdir -p corpus/osv
printf '%s' '{"id":"DEBIAN-CVE-2099-1","modified":"2024-01-01T00:00:00Z","aliases":["CVE-2099-1"],"severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],"affected":[{"package":{"ecosystem":"Debian:12","name":"a"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0-2"},{"introduced":"2.0"},{"last_affected":"2.5"},{"limit":"*"}]}],"versions":["0.9-1"]}]}' > corpus/osv/debian.json
printf '%s' '[{"id":"ALPINE-CVE-2099-2","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Alpine:v3.20","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.2-r2"}]}]}]},{"id":"RLSA-2099:3","modified":"2024-01-01T00:00:00Z","withdrawn":"2024-02-01T00:00:00Z","affected":[{"package":{"ecosystem":"Rocky Linux:9","name":"a"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1:1.0-2.el9"}]}]}]}]' > corpus/osv/array.json
python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED); [z.write(f, f.split("/")[-1]) for f in sys.argv[2:]]; z.close()' corpus/osv/all.zip corpus/osv/debian.json corpus/osv/array.json
# elf: small real programs and libraries, and an ld.so.cache.
mkdir -p corpus/elf
for f in /bin/true /usr/lib/x86_64-linux-gnu/libdl.so.2 /etc/ld.so.cache; do
  [ -e "$f" ] && cp -L "$f" "corpus/elf/$(basename "$f")" || true
done

