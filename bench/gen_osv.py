#!/usr/bin/env python3
"""Synthetic OSV data and a matching image for bench/scan.sh.

gen_osv.py N_RECORDS OUT_ZIP ROOTFS N_PACKAGES

Writes an osv.dev-style all.zip of N_RECORDS Debian:12 records (one <ID>.json per record, shaped
like the DEBIAN-CVE-* records osv.dev publishes: aliases, details, CVSS v3 severity, references,
one affected source package with an ECOSYSTEM range; a mix of fixed, unfixed and last_affected),
spread over N_RECORDS/10 source packages, and a rootfs holding os-release (Debian 12) and a dpkg
status file of N_PACKAGES binary packages built from some of those sources.
"""
import json, os, random, sys, zipfile

n, out_zip, root, npkg = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
rng = random.Random(42)
sources = [f"src{i:05d}" for i in range(max(1, n // 10))]
src_version = {s: f"{rng.randint(0, 9)}.{rng.randint(0, 40)}.{rng.randint(0, 9)}-{rng.randint(1, 5)}" for s in sources}

with zipfile.ZipFile(out_zip, "w", zipfile.ZIP_DEFLATED) as z:
    for i in range(n):
        s = sources[i % len(sources)]
        v = src_version[s]
        kind = rng.random()
        if kind < 0.6:
            events = [{"introduced": "0"}, {"fixed": rng.choice([v, v + "+deb12u1", v.split("-")[0] + "-0"])}]
        elif kind < 0.8:
            events = [{"introduced": "0"}]
        else:
            events = [{"introduced": "0"}, {"last_affected": v}]
        rec = {
            "id": f"DEBIAN-CVE-2099-{i:06d}",
            "modified": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T12:00:00Z",
            "published": "2026-01-01T00:00:00Z",
            "aliases": [f"CVE-2099-{i:06d}"],
            "details": "A flaw was found in the parser. " * 8,
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],
            "affected": [{
                "package": {"ecosystem": "Debian:12", "name": s, "purl": f"pkg:deb/debian/{s}?arch=source"},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
                "database_specific": {"source": f"https://storage.googleapis.com/cve-osv-conversion/osv-output/CVE-2099-{i:06d}.json"},
            }],
            "references": [{"type": "ADVISORY", "url": f"https://security-tracker.debian.org/tracker/CVE-2099-{i:06d}"}],
        }
        z.writestr(rec["id"] + ".json", json.dumps(rec))

os.makedirs(f"{root}/etc", exist_ok=True)
os.makedirs(f"{root}/var/lib/dpkg", exist_ok=True)
with open(f"{root}/etc/os-release", "w") as f:
    f.write('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n')
with open(f"{root}/var/lib/dpkg/status", "w") as f:
    for i in range(npkg):
        s = sources[(i * 7) % len(sources)]
        f.write(f"Package: bin{i:04d}\nStatus: install ok installed\nPriority: optional\nSection: libs\n"
                f"Installed-Size: 100\nMaintainer: Bench <bench@example.org>\nArchitecture: amd64\n"
                f"Source: {s} ({src_version[s]})\nVersion: {src_version[s]}+b1\nDescription: bench package {i}\n\n")
