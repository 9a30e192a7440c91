#!/usr/bin/env python3
"""Write an mkfs.xfs protofile (xfsprogs' proto format, mkfs.xfs(8) "-p") describing the tree at
ROOT, so a filesystem can be populated without mounting it: for XFS v4, which this kernel cannot
mount. The format keeps type, mode, owner, content and symlink targets; it has no mtimes, xattrs
or hardlinks (each extra name becomes its own copy). Names with whitespace cannot be written in
it and are skipped with a note on stderr. Usage: xfs-proto.py ROOT > PROTO"""
import os, stat, sys

root = sys.argv[1]
out = sys.stdout
out.write("/dev/null\n0 0\n")

def mode_field(st):
    m = st.st_mode
    kind = {stat.S_IFREG: "-", stat.S_IFDIR: "d", stat.S_IFLNK: "l", stat.S_IFCHR: "c",
            stat.S_IFBLK: "b", stat.S_IFIFO: "p"}.get(stat.S_IFMT(m))
    if kind is None:
        return None
    return "%s%s%s%03o" % (kind, "u" if m & stat.S_ISUID else "-", "g" if m & stat.S_ISGID else "-",
                            m & 0o777)

def walk(path, depth):
    for name in sorted(os.listdir(path)):
        p = os.path.join(path, name)
        st = os.lstat(p)
        f = mode_field(st)
        if f is None or any(c.isspace() for c in name):
            print("skipped %s" % p, file=sys.stderr)
            continue
        pad = " " * depth
        if f[0] == "d":
            out.write("%s%s %s %d %d\n" % (pad, name, f, st.st_uid, st.st_gid))
            walk(p, depth + 1)
            out.write("%s$\n" % pad)
        elif f[0] == "-":
            out.write("%s%s %s %d %d %s\n" % (pad, name, f, st.st_uid, st.st_gid, p))
        elif f[0] == "l":
            out.write("%s%s %s %d %d %s\n" % (pad, name, f, st.st_uid, st.st_gid, os.readlink(p)))
        elif f[0] in "bc":
            out.write("%s%s %s %d %d %d %d\n" % (pad, name, f, st.st_uid, st.st_gid,
                                                 os.major(st.st_rdev), os.minor(st.st_rdev)))
        else:
            out.write("%s%s %s %d %d\n" % (pad, name, f, st.st_uid, st.st_gid))

st = os.lstat(root)
out.write("%s %d %d\n" % (mode_field(st), st.st_uid, st.st_gid))
walk(root, 1)
out.write("$\n")
