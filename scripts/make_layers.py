#!/usr/bin/env python3
"""Write three layer tarballs that exercise the OCI merge rules (image-spec layer.md):
deletion by whiteout, an opaque directory, a file replaced by a directory (and back), a symlink
replaced by a file, and a hardlink in a later layer to a file of an earlier one."""
import io
import sys
import tarfile

out = sys.argv[1]


def add(t, name, kind="file", data=b"", mode=0o644, link="", uid=0, gid=0):
    info = tarfile.TarInfo(name)
    info.mode = mode
    info.uid, info.gid = uid, gid
    info.mtime = 1700000000
    if kind == "dir":
        info.type = tarfile.DIRTYPE
        t.addfile(info)
    elif kind == "symlink":
        info.type = tarfile.SYMTYPE
        info.linkname = link
        t.addfile(info)
    elif kind == "hardlink":
        info.type = tarfile.LNKTYPE
        info.linkname = link
        t.addfile(info)
    else:
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))


with tarfile.open(f"{out}/layer1.tar", "w", format=tarfile.PAX_FORMAT) as t:
    for d in ["etc", "opaque", "opaque/sub", "keep", "gone-dir", "gone-dir/deep", "data"]:
        add(t, d, "dir", mode=0o755)
    add(t, "etc/os-release", data=b"ID=layered\nVERSION_ID=1\n")
    add(t, "opaque/a", data=b"lower a\n")
    add(t, "opaque/sub/b", data=b"lower b\n")
    add(t, "keep/old", data=b"stays\n", uid=1000, gid=1000)
    add(t, "keep/deleted", data=b"to be deleted\n")
    add(t, "gone-dir/deep/file", data=b"whole dir goes\n")
    add(t, "becomes-dir", data=b"a file first\n")
    add(t, "data/original", data=b"shared by a hardlink later\n" * 100, mode=0o600)
    add(t, "link-to-file", "symlink", link="keep/old")
    add(t, "dir-becomes-file", "dir", mode=0o700)
    add(t, "dir-becomes-file/child", data=b"hidden when the dir becomes a file\n")

with tarfile.open(f"{out}/layer2.tar", "w", format=tarfile.PAX_FORMAT) as t:
    add(t, "opaque", "dir", mode=0o750)
    add(t, "opaque/.wh..wh..opq")
    add(t, "opaque/new", data=b"upper only\n")
    add(t, "keep", "dir", mode=0o755)
    add(t, "keep/.wh.deleted")
    add(t, "keep/added", data=b"added in layer 2\n", mode=0o4755)
    add(t, ".wh.gone-dir")
    add(t, "becomes-dir", "dir", mode=0o755)
    add(t, "becomes-dir/inside", data=b"now a directory\n")
    add(t, "link-to-file", data=b"a regular file now\n")
    add(t, "dir-becomes-file", data=b"a file now\n")

with tarfile.open(f"{out}/layer3.tar", "w", format=tarfile.PAX_FORMAT) as t:
    add(t, "data", "dir", mode=0o755)
    add(t, "data/hardlink", "hardlink", link="data/original")
    add(t, "etc", "dir", mode=0o755)
    add(t, "etc/motd", data=b"layer 3\n")
    add(t, "keep", "dir", mode=0o755)
    add(t, "keep/.wh.added")
    add(t, "keep/added", data=b"re-added in layer 3 after a whiteout of the lower one\n")
