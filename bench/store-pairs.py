#!/usr/bin/env python3
"""Interleaved pairs: imagewise against each floor of issue 17, PAIRS times, on this machine.

The anchors' table runs every tool once per run, minutes apart; on a shared 2-core machine the
floor itself then varies by ±15 % between runs (1.0–1.2 s for the same `tar | zstd`), more than
the margins the goals ask about. Here each measurement of imagewise is paired with one of its
floor taken right before or after it (the order alternates, so a drift favours neither), and
the ratio reported is the median of the pairs' ratios.

  full       imagewise snapshot create (a new repository, no files cache) of rootfs-a
             vs tar -cf - rootfs-a | zstd -3 -T2 > /dev/null
  unchanged  imagewise snapshot create of rootfs-b again (files cache and parent)
             vs find rootfs-b -printf '%p %s %T@ %C@ %i\\n' > /dev/null
  restore    imagewise restore of rootfs-b to an empty directory
             vs cp -a rootfs-b to an empty directory (both under SCRATCH)

Usage (bench/store.sh runs it): store-pairs.py IW CORPUS SCRATCH RESULTS  (PAIRS=7)
"""
import csv
import os
import shutil
import statistics
import subprocess
import sys
import time

iw, corpus, scratch, results = sys.argv[1:5]
pairs = int(os.environ.get("PAIRS", "7"))
work = os.path.join(scratch, "pairs")
cache = os.path.join(work, "cache")
env = dict(os.environ, IMAGEWISE_CACHE_DIR=cache, IMAGEWISE_NO_PROGRESS="1")
a = os.path.join(corpus, "rootfs-a")
b = os.path.join(corpus, "rootfs-b")


def run(cmd, shell=False):
    subprocess.run(cmd, shell=shell, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def timed(cmd, shell=False):
    t = time.perf_counter()
    run(cmd, shell=shell)
    return time.perf_counter() - t


def clean(*paths):
    for p in paths:
        shutil.rmtree(p, ignore_errors=True)
    os.sync()


def full():
    repo = os.path.join(work, "full")
    clean(repo, cache)
    run([iw, "repo", "init", repo])
    os.sync()
    return timed([iw, "snapshot", "create", repo, "dir:" + a])


def full_floor():
    return timed(f"tar -cf - -C {corpus} rootfs-a | zstd -3 -T2 -q > /dev/null", shell=True)


keep = os.path.join(work, "keep")


def unchanged():
    return timed([iw, "snapshot", "create", keep, "dir:" + b])


def unchanged_floor():
    return timed(["find", b, "-printf", "%p %s %T@ %C@ %i\\n"])


def restore():
    out = os.path.join(work, "out")
    clean(out)
    return timed([iw, "restore", keep, "latest", out])


def restore_floor():
    out = os.path.join(work, "out")
    clean(out)
    return timed(["cp", "-a", b, out])


clean(work)
os.makedirs(work)
run([iw, "repo", "init", keep])
run([iw, "snapshot", "create", keep, "dir:" + b])  # the parent; the cache is written
subprocess.run(f"tar -cf - -C {corpus} rootfs-a rootfs-b | cat > /dev/null", shell=True, check=True)

rows = []
for metric, mine, floor in [("full", full, full_floor),
                            ("unchanged", unchanged, unchanged_floor),
                            ("restore", restore, restore_floor)]:
    for i in range(pairs):
        order = [("imagewise", mine), ("floor", floor)]
        if i % 2:
            order.reverse()
        got = {who: f() for who, f in order}
        rows.append((metric, i, got["imagewise"], got["floor"]))
clean(work)

os.makedirs(results, exist_ok=True)
with open(os.path.join(results, "pairs.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["metric", "pair", "imagewise_s", "floor_s"])
    w.writerows(rows)

goals = {"full": 1.0, "unchanged": 2.0, "restore": 1.2}
print(f"imagewise ÷ floor, {pairs} interleaved pairs (median of the pairs' ratios):")
for metric, goal in goals.items():
    rs = [r for r in rows if r[0] == metric]
    ratios = sorted(r[2] / r[3] for r in rs)
    mi = statistics.median(r[2] for r in rs)
    fl = statistics.median(r[3] for r in rs)
    print(f"  {metric:10} {mi:6.3f} s ÷ {fl:6.3f} s   ratio {statistics.median(ratios):5.2f}× "
          f"(pairs {ratios[0]:.2f}–{ratios[-1]:.2f}; goal ≤ {goal})")
