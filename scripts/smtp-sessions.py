#!/usr/bin/env python3
"""SMTP sessions held at once (BENCHMARKS.md, issue 11): opens N idle sessions
to the release server's SMTP listener, from many loopback addresses (20 per
address is the per-host cap), each greeted and past EHLO, then measures the
server's PSS growth per session and how long a real reply takes meanwhile.
Loopback only; bounded in count and time.

    python3 scripts/smtp-sessions.py [N] [path/to/switchboard-server]
"""
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
binary = sys.argv[2] if len(sys.argv) > 2 else "/var/tmp/switchboard-target/release/switchboard-server"
http_port = 21000 + random.randrange(1000)
smtp_port = http_port + 1000


def pss_kib(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


async def session(n):
    source = f"127.0.{1 + n // (20 * 250)}.{2 + (n // 20) % 250}"
    reader, writer = await asyncio.open_connection("127.0.0.1", smtp_port, local_addr=(source, 0))
    greeting = await reader.readline()
    assert greeting.startswith(b"220"), greeting
    writer.write(b"EHLO idle.test\r\n")
    await writer.drain()
    while True:
        line = await reader.readline()
        if line[3:4] != b"-":
            break
    return reader, writer


async def main():
    data = tempfile.mkdtemp(prefix="switchboard-smtp.")
    server = subprocess.Popen(
        [binary, "--data-dir", data, "--http", f"127.0.0.1:{http_port}",
         "--smtp-in", f"127.0.0.1:{smtp_port}", "--smtp-max-sessions", str(N + 100)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    server.stdout.readline()
    try:
        await asyncio.sleep(0.5)
        before = pss_kib(server.pid)
        started = time.time()
        held = []
        for chunk in range(0, N, 200):
            held += await asyncio.gather(*(session(n) for n in range(chunk, min(N, chunk + 200))))
        opened = time.time() - started
        await asyncio.sleep(0.5)
        after = pss_kib(server.pid)
        # A real session while they are all held: greeting to 250 after EHLO.
        t0 = time.time()
        r, w = await session(N + 1)
        real_ms = (time.time() - t0) * 1000
        w.close()
        print(f"{N} idle SMTP sessions held (opened in {opened:.1f} s): "
              f"server PSS {before / 1024:.1f} → {after / 1024:.1f} MB, "
              f"{(after - before) / N:.1f} KiB per session; "
              f"a new session meanwhile: greeted and past EHLO in {real_ms:.1f} ms")
        for _, writer in held:
            writer.close()
    finally:
        server.terminate()
        server.wait()


asyncio.run(main())
