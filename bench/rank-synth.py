#!/usr/bin/env python3
"""Make a catalog of N synthetic candidates from the records of a real one: each a copy of a
real image's facts with its digest, name, size, arch, C library version and package count
varied (bench/rank.sh). Usage: rank-synth.py REAL.sqlite OUT.sqlite N"""
import json, random, sqlite3, sys, shutil

real, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
shutil.copy(real, out)
c = sqlite3.connect(out)
rows = c.execute("SELECT * FROM image").fetchall()
cols = [d[0] for d in c.execute("SELECT * FROM image").description]
c.execute("DELETE FROM image")
rnd = random.Random(42)
for i in range(n):
    r = dict(zip(cols, rows[i % len(rows)]))
    facts = json.loads(r["facts"])
    facts["size"]["total_bytes"] = rnd.randint(5, 900) << 20
    facts["arch"] = rnd.choice(["amd64", "amd64", "arm64"])
    if facts["libc"].get("version") and facts["libc"]["kind"] == "glibc":
        facts["libc"]["version"] = "2.%d" % rnd.randint(28, 41)
    r["facts"] = json.dumps(facts)
    r["digest"] = "tree:sha256:%064x" % rnd.getrandbits(256)
    r["name"] = "synthetic-%04d" % i
    r["reference"] = "/synthetic/%04d" % i
    c.execute("INSERT INTO image (%s) VALUES (%s)" % (",".join(cols), ",".join("?" * len(cols))),
              [r[k] for k in cols])
c.commit()
