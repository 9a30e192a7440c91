#!/usr/bin/env bash
# Make a GPT disk image whose second partition is an LVM2 physical volume, written by the LVM
# tools themselves (pvcreate, vgcreate, vgcfgrestore), holding:
#   vg/root  an ext4 (or XFS, as RHEL-family cloud images have it) filesystem of ROOTFS in two
#            segments, out of order on the PV (extents 20-29 hold LV extents 0-9, extents
#            2-21… see below);
#   vg/var   an empty filesystem of the same type in one segment;
#   vg/wide  a volume striped over two stripes (a type imagewise refuses by name).
# This kernel has no device-mapper, so lvcreate cannot make volumes: the volumes are written
# into the metadata with vgcfgrestore (lvm2's own writer), and their data is copied to the
# extents `lvs -o seg_pe_ranges` and `pvs -o pe_start` report.
# XFS is populated through a loop mount and `cp -a` (everything a tree has).
# VG names the volume group (default vgimw): two groups of one name cannot be made at once.
#   scripts/lvm-disk.sh ROOTFS OUT.img [ext4|xfs [VG]]
set -euo pipefail
root=$1 out=$2 fs=${3:-ext4} vg=${4:-vgimw}
tmp=$(mktemp -d)
trap 'umount "$tmp/m" 2>/dev/null || true; losetup -d "$loop" 2>/dev/null || true; rm -rf "$tmp"' EXIT
rm -f "$out"
truncate -s 400M "$out"
# (not -q: sgdisk 1.0.9 then leaves the table unwritten)
sgdisk -n 1:2048:+16M -t 1:8300 -n 2:0:0 -t 2:8e00 "$out" >/dev/null 2>&1
start=$(sgdisk -i 2 "$out" | awk '/First sector/ {print $3}')
[ -n "$start" ] || { echo "lvm-disk.sh: sgdisk made no partition 2" >&2; exit 1; }
loop=$(losetup -f --show -o $((start * 512)) "$out")
export LVM_SUPPRESS_FD_WARNINGS=1
# Keep the host's /etc/lvm out of it: no backups or archives of this throwaway group.
export LVM_SYSTEM_DIR=$tmp/lvm
mkdir -p "$LVM_SYSTEM_DIR"
printf 'backup {\n backup = 0\n archive = 0\n}\n' > "$LVM_SYSTEM_DIR/lvm.conf"
pvcreate -q -ff -y "$loop" >/dev/null
vgcreate -q -s 4M "$vg" "$loop" >/dev/null
vgcfgbackup -q -f "$tmp/vg.txt" "$vg" >/dev/null 2>&1
python3 - "$tmp/vg.txt" <<'PY'
import sys
p = sys.argv[1]
t = open(p).read()
def seg(n, start, count, *stripes):
    s = ", ".join('"pv0", %d' % x for x in stripes)
    extra = "" if len(stripes) == 1 else "\n\t\t\t\tstripe_size = 128"
    return """
\t\t\tsegment%d {
\t\t\t\tstart_extent = %d
\t\t\t\textent_count = %d
\t\t\t\ttype = "striped"
\t\t\t\tstripe_count = %d%s
\t\t\t\tstripes = [ %s ]
\t\t\t}""" % (n, start, count, len(stripes), extra, s)
def lv(name, uid, *segs):
    return """
\t\t%s {
\t\t\tid = "%s"
\t\t\tstatus = ["READ", "WRITE", "VISIBLE"]
\t\t\tflags = []
\t\t\tsegment_count = %d%s
\t\t}""" % (name, uid, len(segs), "".join(segs))
lvs = "\n\tlogical_volumes {" + \
    lv("root", "imwimw-root-aaaa-bbbb-cccc-dddd-000001", seg(1, 0, 10, 20), seg(2, 10, 20, 40)) + \
    lv("var", "imwimw-vara-aaaa-bbbb-cccc-dddd-000002", seg(1, 0, 10, 2)) + \
    lv("wide", "imwimw-wide-aaaa-bbbb-cccc-dddd-000003", seg(1, 0, 8, 70, 80)) + "\n\t}\n"
j = t.index("\n}\n", t.index("physical_volumes"))
open(p, "w").write(t[:j] + lvs + t[j:])
PY
vgcfgrestore -q -f "$tmp/vg.txt" "$vg" >/dev/null 2>&1
pe_start=$(pvs --noheadings --nosuffix --units b -o pe_start "$loop" 2>/dev/null | tr -d ' ')
# LV name, first LV extent, PV extent range (from lvm2 itself).
lvs --noheadings --separator ' ' -o lv_name,seg_start_pe,seg_pe_ranges "$vg" 2>/dev/null > "$tmp/segs"
vgchange -q -an "$vg" >/dev/null 2>&1 || true
losetup -d "$loop"
ext=$((4 << 20))
if [ "$fs" = xfs ]; then
  truncate -s 120M "$tmp/root.fs"
  truncate -s 40M "$tmp/var.fs"
  # mkfs.xfs refuses under 300 MB unless told these are test filesystems.
  for v in root var; do TEST_DIR=1 TEST_DEV=1 QA_CHECK_FS=1 mkfs.xfs -q -f "$tmp/$v.fs"; done
  mkdir "$tmp/m" && mount -o loop "$tmp/root.fs" "$tmp/m" && cp -a "$root/." "$tmp/m/" && umount "$tmp/m"
else
  mkfs.ext4 -q -F -d "$root" "$tmp/root.fs" 120M
  mkfs.ext4 -q -F "$tmp/var.fs" 40M
fi
while read -r name lvstart ranges; do
  [ "$name" = wide ] && continue
  from=${ranges#*:}; first=${from%-*}; last=${from#*-}
  count=$((last - first + 1))
  dd if="$tmp/$name.fs" of="$out" bs=$ext skip="$lvstart" count="$count" conv=notrunc status=none \
     oflag=seek_bytes seek=$((start * 512 + pe_start + first * ext))
done < "$tmp/segs"
cat "$tmp/segs"
