#!/usr/bin/env python3
"""Disk use of abusive traffic (BENCHMARKS.md, issue 10): 10,000 requests of
each kind against the real server binary with a fresh SQLite data dir, and the
database's size (file + WAL, after a checkpoint) before and after, then after
the retention sweep. Loopback only; bounded in count.

    python3 scripts/abuse-disk.py [path/to/switchboard-server]
"""
import http.client
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

N = 10_000
binary = sys.argv[1] if len(sys.argv) > 1 else "/var/tmp/switchboard-target/release/switchboard-server"
port = 20000 + random.randrange(10000)
data = tempfile.mkdtemp(prefix="switchboard-abuse.")


def start(extra=()):
    proc = subprocess.Popen(
        [binary, "--data-dir", data, "--http", f"127.0.0.1:{port}", "--smtp-in", "off",
         "--trusted-proxy", "127.0.0.1/32", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    proc.stdout.readline()
    return proc


def size_kib():
    db = os.path.join(data, "switchboard.db")
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return sum(os.path.getsize(os.path.join(data, f)) for f in os.listdir(data)
               if f.startswith("switchboard.db")) / 1024


def post(conn, path, body, headers=None):
    conn.request("POST", path, json.dumps(body), {"content-type": "application/json", **(headers or {})})
    r = conn.getresponse()
    payload = r.read()
    return r.status, payload


def run(label, make_request):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    before = size_kib()
    statuses = {}
    t0 = time.time()
    for i in range(N):
        status, _ = make_request(conn, i)
        statuses[status] = statuses.get(status, 0) + 1
    after = size_kib()
    print(f"| {label} | {dict(sorted(statuses.items()))} | {after - before:+.0f} KiB | {time.time() - t0:.1f} s |")


server = start()
try:
    print(f"| {N:,} requests of | answers | database growth | time |")
    print("| --- | --- | --- | --- |")
    run("new widget sessions, one address",
        lambda c, i: post(c, "/api/v1/widget/session", {}))
    run("new widget sessions, 10,000 addresses (a botnet behind the proxy)",
        lambda c, i: post(c, "/api/v1/widget/session", {},
                          {"x-forwarded-for": f"10.{i // 65536}.{(i // 256) % 256}.{i % 256}"}))
    c = http.client.HTTPConnection("127.0.0.1", port)
    _, body = post(c, "/api/v1/widget/session", {}, {"x-forwarded-for": "192.0.2.200"})
    token = json.loads(body)["visitor_token"]
    run("messages from one visitor",
        lambda c, i: post(c, "/api/v1/widget/messages", {"body": "spam " * 20, "client_id": f"s{i}"},
                          {"x-visitor-token": token}))
finally:
    server.terminate()
    server.wait()
# The sweep runs at start: silent visitors older than 0 hours go.
before = size_kib()
server = start(["--silent-visitor-hours", "0"])
time.sleep(2)
server.terminate()
server.wait()
con = sqlite3.connect(os.path.join(data, "switchboard.db"))
con.execute("VACUUM")
left = con.execute("SELECT COUNT(*) FROM visitors").fetchone()[0]
con.close()
print(f"\nafter the retention sweep (and VACUUM): {size_kib() - before:+.0f} KiB, {left} visitor(s) left")
shutil.rmtree(data)
