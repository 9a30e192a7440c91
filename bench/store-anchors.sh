#!/bin/bash
# store-anchors.sh — the project's copy of ../shared/bench/run-anchors.sh with imagewise added
# (`imagewise_dir` / `imagewise_disk` below, same metric names). Run it through bench/store.sh.
# run-anchors.sh — reproduce the snapshot-store anchor table.
#
# Measures, per tool (restic, borg lz4, borg zstd, casync, rustic):
#   full      : first backup of a rootfs (src == copy of rootfs-a)
#   incr      : in-place update src a->b via rsync (unchanged files keep inode/mtime/ctime),
#               then backup of the same path (tools may use their files cache / parent snapshot)
#   unchanged : backup of the same (now unchanged) src again, as a nightly run of an unchanged
#               golden image would (files caches and parent snapshots used)
#   rescan    : backup of the same (now unchanged) src again, forcing every file to be
#               re-read + chunked + hashed (restic/rustic --force, borg --files-cache=disabled,
#               casync always does this). All chunks already exist -> pure read/chunk/hash cost.
#   restore   : restore the 'incr' snapshot (rootfs-b content) to an empty dir under $T
#   verify    : full read-back verification (restic/rustic check --read-data,
#               borg check --verify-data, casync digest of the stored index)
#   disk-a / disk-b / disk-b-fresh / qcow2-a : raw ext4 images (1 GiB, sparse) backed up as
#               plain files into a separate repo, in that order (dedup across image versions)
#   floor     : the machine's floors for the same work, no repository: full = `tar -cf - src |
#               zstd -3 -T2 >/dev/null`, unchanged = `find src -printf` of what a files cache
#               compares, restore = `cp -a` of rootfs-b (from the page cache) under $T
# Every measurement: /usr/bin/time -> wall, user, sys, peak RSS; repo size via du -sb.
# Page cache is warm (corpus << RAM); this measures CPU/format cost, not disk.
#
# Usage: RUNS=2 TOOLS="restic borg-lz4 borg-zstd casync rustic" ./run-anchors.sh
#        (prerequisite corpus: ./make-corpus.sh). Output: results/anchors.csv, results/summary.txt
# To add the new project later, add a case to the do_tool() dispatch below (same metric names).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
B=${B:-$PWD/bench-corpus}
R=${R:-$B/repos}
T=${T:-$B/restore}
RES=${RES:-$B/results}
RUNS=${RUNS:-2}
DISK_RUNS=${DISK_RUNS:-1}
TOOLS=${TOOLS:-"restic borg-lz4 borg-zstd casync rustic"}
RUSTIC=${RUSTIC:-rustic}
export RESTIC_PASSWORD=bench RUSTIC_PASSWORD=bench
export BORG_PASSPHRASE="" BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
export BORG_CACHE_DIR=$B/borg-cache BORG_CONFIG_DIR=$B/borg-config
export RESTIC_CACHE_DIR=$B/restic-cache XDG_CACHE_HOME=$B/xdg-cache
mkdir -p "$R" "$T" "$RES/logs"
CSV=$RES/anchors.csv
[ -f "$CSV" ] || echo "tool,metric,run,wall_s,user_s,sys_s,maxrss_kb,repo_bytes,rc" > "$CSV"

# m TOOL METRIC RUN SIZEPATH cmd...   (SIZEPATH "" = no size)
m() {
  local tool=$1 metric=$2 run=$3 sizepath=$4; shift 4
  local tf; tf=$(mktemp)
  /usr/bin/time -f "%e %U %S %M" -o "$tf" "$@" > "$RES/logs/$tool.$metric.$run.log" 2>&1
  local rc=$?
  local wall user sys rss
  read -r wall user sys rss < <(tail -1 "$tf")
  local size=""
  [ -n "$sizepath" ] && size=$(du -sb "$sizepath" | cut -f1)
  echo "$tool,$metric,$run,$wall,$user,$sys,$rss,$size,$rc" | tee -a "$CSV"
  rm -f "$tf"
}

warm() { tar cf - -C "$B" rootfs-a rootfs-b | cat > /dev/null; cat "$B"/disk-*.raw "$B"/disk-a.qcow2 > /dev/null; }

reset_src() { rm -rf "$B/src"; cp -a "$B/rootfs-a" "$B/src"; sync; }
update_src() { rsync -aHAX --delete "$B/rootfs-b/" "$B/src/"; sync; }

# ---------- restic (always encrypted: AES-256-CTR + Poly1305; repo v2 => zstd 'auto') ----------
restic_dir() { local run=$1 r=$R/restic; rm -rf "$r" "$RESTIC_CACHE_DIR"
  restic -r "$r" init --repository-version 2 >/dev/null
  cd "$B"
  m restic full "$run" "$r" restic -r "$r" backup --host bench src
  update_src
  m restic incr "$run" "$r" restic -r "$r" backup --host bench src
  m restic unchanged "$run" "$r" restic -r "$r" backup --host bench src
  m restic rescan "$run" "$r" restic -r "$r" backup --host bench --force src
  rm -rf "$T/restic"; sync
  m restic restore "$run" "" restic -r "$r" restore latest --target "$T/restic"
  sync
  m restic verify "$run" "" restic -r "$r" check --read-data
}
restic_disk() { local run=$1 r=$R/restic-disk; rm -rf "$r"; restic -r "$r" init --repository-version 2 >/dev/null; cd "$B"
  for f in disk-a.raw disk-b.raw disk-b-fresh.raw disk-a.qcow2; do
    m restic "img:$f" "$run" "$r" restic -r "$r" backup --host bench "$f"; done
}

# ---------- borg 1.2 (-e none: chunk id = sha256, no MAC) ----------
borg_dir() { local run=$1 comp=$2 tool=borg-$2 r=$R/borg-$2; rm -rf "$r" "$BORG_CACHE_DIR"
  borg init -e none "$r" >/dev/null 2>&1
  cd "$B"
  m "$tool" full "$run" "$r" borg create -C "$comp" "$r::a" src
  update_src
  m "$tool" incr "$run" "$r" borg create -C "$comp" "$r::b" src
  m "$tool" unchanged "$run" "$r" borg create -C "$comp" "$r::b1" src
  m "$tool" rescan "$run" "$r" borg create -C "$comp" --files-cache=disabled "$r::b2" src
  rm -rf "$T/$tool"; mkdir -p "$T/$tool"; sync
  cd "$T/$tool"
  m "$tool" restore "$run" "" borg extract "$r::b"
  cd "$B"; sync
  m "$tool" verify "$run" "" borg check --verify-data "$r"
}
borg_disk() { local run=$1 comp=$2 tool=borg-$2 r=$R/borg-disk-$2; rm -rf "$r"; borg init -e none "$r" >/dev/null 2>&1; cd "$B"
  local i=0
  for f in disk-a.raw disk-b.raw disk-b-fresh.raw disk-a.qcow2; do i=$((i+1))
    m "$tool" "img:$f" "$run" "$r" borg create -C "$comp" "$r::img$i" "$f"; done
}

# ---------- casync (defaults: buzhash 16K/64K/256K, sha256, zstd; one file per chunk) ----------
casync_dir() { local run=$1 r=$R/casync; rm -rf "$r"; mkdir -p "$r"
  cd "$B"
  m casync full "$run" "$r" casync make --store="$r/store.castr" "$r/a.caidx" src
  update_src
  m casync incr "$run" "$r" casync make --store="$r/store.castr" "$r/b.caidx" src
  m casync unchanged "$run" "$r" casync make --store="$r/store.castr" "$r/b1.caidx" src
  m casync rescan "$run" "$r" casync make --store="$r/store.castr" "$r/b2.caidx" src
  rm -rf "$T/casync"; sync
  m casync restore "$run" "" casync extract --store="$r/store.castr" "$r/b.caidx" "$T/casync"
  sync
  m casync verify "$run" "" casync digest --store="$r/store.castr" "$r/b.caidx"
}
casync_disk() { local run=$1 r=$R/casync-disk; rm -rf "$r"; mkdir -p "$r"; cd "$B"
  for f in disk-a.raw disk-b.raw disk-b-fresh.raw disk-a.qcow2; do
    m casync "img:$f" "$run" "$r" casync make --store="$r/store.castr" "$r/$f.caibx" "$f"; done
}

# ---------- imagewise (zstd:3, BLAKE3, FastCDC; disk images stored with --raw) ----------
IW=${IW:-imagewise}
export IMAGEWISE_NO_PROGRESS=1
imagewise_dir() { local run=$1 r=$R/imagewise; rm -rf "$r" "$XDG_CACHE_HOME/imagewise"
  "$IW" repo init "$r" >/dev/null
  cd "$B"
  m imagewise full "$run" "$r" "$IW" snapshot create "$r" dir:src
  update_src
  m imagewise incr "$run" "$r" "$IW" snapshot create "$r" dir:src
  m imagewise unchanged "$run" "$r" "$IW" snapshot create "$r" dir:src
  m imagewise rescan "$run" "$r" "$IW" snapshot create --force "$r" dir:src
  rm -rf "$T/imagewise"; sync
  m imagewise restore "$run" "" "$IW" restore "$r" latest "$T/imagewise"
  sync
  m imagewise verify "$run" "" "$IW" repo check --read-data "$r"
}
imagewise_disk() { local run=$1 r=$R/imagewise-disk; rm -rf "$r"; "$IW" repo init "$r" >/dev/null; cd "$B"
  for f in disk-a.raw disk-b.raw disk-b-fresh.raw disk-a.qcow2; do
    m imagewise "img:$f" "$run" "$r" "$IW" snapshot create --raw --tag "$f" "$r" "$f"; done
  rm -f "$T/imagewise-disk-b-fresh.raw"; sync
  m imagewise "img-restore:disk-b-fresh.raw" "$run" "" "$IW" restore "$r" disk-b-fresh.raw "$T/imagewise-disk-b-fresh.raw"
  cmp "$B/disk-b-fresh.raw" "$T/imagewise-disk-b-fresh.raw" && echo "imagewise raw restore: cmp equal; du original $(du -k "$B/disk-b-fresh.raw" | cut -f1) KiB, restored $(du -k "$T/imagewise-disk-b-fresh.raw" | cut -f1) KiB" | tee -a "$RES/restore-check.txt"
}

# ---------- rustic (restic repo format v2, always encrypted) ----------
rustic_dir() { local run=$1 r=$R/rustic; rm -rf "$r" "$XDG_CACHE_HOME"
  "$RUSTIC" -r "$r" init >/dev/null 2>&1
  cd "$B"
  m rustic full "$run" "$r" "$RUSTIC" -r "$r" backup --host bench src
  update_src
  m rustic incr "$run" "$r" "$RUSTIC" -r "$r" backup --host bench src
  m rustic unchanged "$run" "$r" "$RUSTIC" -r "$r" backup --host bench src
  m rustic rescan "$run" "$r" "$RUSTIC" -r "$r" backup --host bench --force src
  rm -rf "$T/rustic"; sync
  m rustic restore "$run" "" "$RUSTIC" -r "$r" restore latest "$T/rustic"
  sync
  m rustic verify "$run" "" "$RUSTIC" -r "$r" check --read-data
}
rustic_disk() { local run=$1 r=$R/rustic-disk; rm -rf "$r"; "$RUSTIC" -r "$r" init >/dev/null 2>&1; cd "$B"
  for f in disk-a.raw disk-b.raw disk-b-fresh.raw disk-a.qcow2; do
    m rustic "img:$f" "$run" "$r" "$RUSTIC" -r "$r" backup --host bench "$f"; done
}

# ---------- floors: the same work with nothing stored ----------
floor_dir() { local run=$1
  cd "$B"
  m floor full "$run" "" bash -c 'tar -cf - src | zstd -3 -T2 -q > /dev/null'
  update_src
  m floor unchanged "$run" "" bash -c "find src -printf '%p %s %T@ %C@ %i\\n' > /dev/null"
  rm -rf "$T/floor"; sync
  m floor restore "$run" "" cp -a "$B/src" "$T/floor"
  rm -rf "$T/floor"
}
floor_disk() { :; }

do_tool() { local t=$1 kind=$2 run=$3
  case $t in
    restic) restic_$kind "$run" ;;
    borg-lz4) borg_$kind "$run" lz4 ;;
    borg-zstd) borg_$kind "$run" zstd ;;
    casync) casync_$kind "$run" ;;
    rustic) [ -x "$RUSTIC" ] && rustic_$kind "$run" || echo "rustic not built, skipping" ;;
    imagewise) imagewise_$kind "$run" ;;
    floor) floor_$kind "$run" ;;
  esac
}

warm
for run in $(seq 1 "$RUNS"); do
  for t in $TOOLS; do reset_src; warm; do_tool "$t" dir "$run"; done
done
for run in $(seq 1 "$DISK_RUNS"); do
  for t in $TOOLS; do warm; do_tool "$t" disk "$run"; done
done
# restore correctness spot-check (not timed): content diff (dev nodes excluded) and
# metadata listing diff (mode, uid, gid, size, mtime, symlink target) vs rootfs-b
meta() { (cd "$1" && find . -printf '%p %M %U %G %s %T@ %l\n' | LC_ALL=C sort); }
for t in $TOOLS; do
  d=$T/$t; [ -d "$d/src/usr" ] && d=$d/src; [ -d "$d/usr" ] || continue
  c=$(diff -r --no-dereference -x dev "$B/rootfs-b" "$d" 2>&1 | wc -l)
  md=$(diff <(meta "$B/rootfs-b") <(meta "$d") | grep -c '^<')
  echo "$t restore: content-diff-lines=$c metadata-mismatched-entries=$md of $(meta "$B/rootfs-b" | wc -l)" | tee -a "$RES/restore-check.txt"
done
python3 "$HERE/store-summarize.py" "$CSV" > "$RES/summary.txt"; cat "$RES/summary.txt"
