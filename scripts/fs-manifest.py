#!/usr/bin/env python3
"""The kernel's view of a mounted filesystem, as JSON lines shaped like `imagewise ls --json
--digest`: path, kind, mode, uid, gid, size, mtime, mtime_nsec, link, device, xattrs (hex) and
the sha256 of regular files. Hardlinks are plain files here (which name is the primary is the
lister's choice); the test compares them as such.

Usage: fs-manifest.py MOUNTPOINT > manifest.jsonl
"""
import hashlib
import json
import os
import stat
import sys

KINDS = [
    (stat.S_ISREG, "file"),
    (stat.S_ISDIR, "dir"),
    (stat.S_ISLNK, "symlink"),
    (stat.S_ISCHR, "char"),
    (stat.S_ISBLK, "block"),
    (stat.S_ISFIFO, "fifo"),
    (stat.S_ISSOCK, "socket"),
]


def entry(root, rel):
    full = os.path.join(root, rel.lstrip("/")) if rel != "/" else root
    st = os.lstat(full)
    kind = next(name for test, name in KINDS if test(st.st_mode))
    out = {
        "path": rel,
        "kind": kind,
        "mode": "%04o" % stat.S_IMODE(st.st_mode),
        "uid": st.st_uid,
        "gid": st.st_gid,
        "size": st.st_size if kind in ("file", "symlink") else 0,
        "mtime": st.st_mtime_ns // 1_000_000_000,
        "mtime_nsec": st.st_mtime_ns % 1_000_000_000,
        "link": os.readlink(full) if kind == "symlink" else None,
    }
    if kind in ("char", "block"):
        out["device"] = [os.major(st.st_rdev), os.minor(st.st_rdev)]
    names = os.listxattr(full, follow_symlinks=False)
    if names:
        out["xattrs"] = {
            n: os.getxattr(full, n, follow_symlinks=False).hex() for n in sorted(names)
        }
    if kind == "file":
        h = hashlib.sha256()
        with open(full, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        out["sha256"] = h.hexdigest()
    return out


def main():
    root = sys.argv[1]
    print(json.dumps(entry(root, "/")))
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = "/" + os.path.relpath(dirpath, root) if dirpath != root else ""
        for name in sorted(dirnames + filenames):
            print(json.dumps(entry(root, f"{rel_dir}/{name}")))


if __name__ == "__main__":
    main()
