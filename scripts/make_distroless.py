#!/usr/bin/env python3
"""Build a distroless-style rootfs from a debootstrap one: a few packages' files (as their
dpkg .list files name them), their status paragraphs as /var/lib/dpkg/status.d/<name> the way
distroless images record them, one dynamically linked program, no shell and no dpkg.

usage: make_distroless.py SOURCE_ROOTFS DEST
"""
import os
import shutil
import sys

PACKAGES = ["base-files", "libc6", "libgcc-s1", "gcc-12-base", "tzdata"]


def paragraphs(text):
    return [p for p in text.split("\n\n") if p.strip()]


def main(src, dst):
    status = open(os.path.join(src, "var/lib/dpkg/status"), encoding="utf-8").read()
    by_name = {}
    for p in paragraphs(status):
        for line in p.splitlines():
            if line.startswith("Package: "):
                by_name[line[len("Package: "):].strip()] = p.strip() + "\n"
    os.makedirs(os.path.join(dst, "var/lib/dpkg/status.d"))
    for link, target in [("bin", "usr/bin"), ("lib", "usr/lib"), ("lib64", "usr/lib64"), ("sbin", "usr/sbin")]:
        os.makedirs(os.path.join(dst, target), exist_ok=True)
        os.symlink(target, os.path.join(dst, link))
    info = os.path.join(src, "var/lib/dpkg/info")
    for name in PACKAGES:
        with open(os.path.join(dst, "var/lib/dpkg/status.d", name), "w", encoding="utf-8") as f:
            f.write(by_name[name])
        # distroless also ships md5sums beside the status files; readers must skip them.
        with open(os.path.join(dst, "var/lib/dpkg/status.d", name + ".md5sums"), "w") as f:
            f.write("d41d8cd98f00b204e9800998ecf8427e  usr/share/doc/%s/copyright\n" % name)
        lists = [l for l in os.listdir(info) if l in (name + ".list",) or l.startswith(name + ":")]
        lists = [l for l in lists if l.endswith(".list")]
        for l in lists:
            for path in open(os.path.join(info, l), encoding="utf-8").read().splitlines():
                s = os.path.join(src, path.lstrip("/"))
                d = os.path.join(dst, path.lstrip("/"))
                if os.path.islink(s):
                    os.makedirs(os.path.dirname(d), exist_ok=True)
                    if not os.path.lexists(d):
                        os.symlink(os.readlink(s), d)
                elif os.path.isdir(s):
                    os.makedirs(d, exist_ok=True)
                elif os.path.isfile(s):
                    os.makedirs(os.path.dirname(d), exist_ok=True)
                    shutil.copy2(s, d)
    shutil.copy2(os.path.join(src, "usr/bin/true"), os.path.join(dst, "app"))
    os.makedirs(os.path.join(dst, "etc"), exist_ok=True)
    with open(os.path.join(dst, "etc/passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")
    with open(os.path.join(dst, "etc/group"), "w") as f:
        f.write("root:x:0:\nnonroot:x:65532:\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
