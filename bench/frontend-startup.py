#!/usr/bin/env python3
"""Frontend start to its first gRPC call.

Starts the static wasmpack-frontend binary with pipes for stdin/stdout, the
way BuildKit does, plays the server's side of the HTTP/2 handshake (an
empty SETTINGS frame), and times from spawn until the HEADERS frame of the
first request (Ping) arrives. Prints the median and quartiles in ms.

With several binaries (a build before and after a change), runs alternate
between them, so that both see the same machine, and each line also gives
the binary's size and its median's ratio to the first binary's.

usage: frontend-startup.py BINARY [BINARY...] [RUNS]
"""
import os
import select
import statistics
import subprocess
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SERVER_SETTINGS = bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
HEADERS = 1


def first_call_ms(binary):
    start = time.perf_counter()
    proc = subprocess.Popen([binary], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    proc.stdin.write(SERVER_SETTINGS)
    proc.stdin.flush()
    out = proc.stdout.fileno()
    buf = b""
    deadline = start + 10
    try:
        while True:
            if time.perf_counter() > deadline:
                raise RuntimeError("no gRPC call within 10 s")
            ready, _, _ = select.select([out], [], [], 1)
            if not ready:
                continue
            chunk = os.read(out, 65536)
            if not chunk:
                raise RuntimeError("frontend closed stdout before its first call")
            buf += chunk
            if not buf.startswith(PREFACE[: len(buf)]):
                raise RuntimeError("no HTTP/2 client preface")
            frames = buf[len(PREFACE):]
            while len(frames) >= 9:
                length = int.from_bytes(frames[0:3], "big")
                if frames[3] == HEADERS:
                    return (time.perf_counter() - start) * 1000
                frames = frames[9 + length:]
    finally:
        proc.kill()
        proc.wait()


def main():
    args = sys.argv[1:]
    runs = int(args.pop()) if len(args) > 1 and args[-1].isdigit() else 50
    binaries = args
    for binary in binaries:
        first_call_ms(binary)  # warm the page cache
    times = {binary: [] for binary in binaries}
    for _ in range(runs):
        for binary in binaries:
            times[binary].append(first_call_ms(binary))
    base = statistics.median(times[binaries[0]])
    for binary in binaries:
        median = statistics.median(times[binary])
        q = statistics.quantiles(times[binary], n=4)
        line = f"runs={runs} median={median:.2f} ms q1={q[0]:.2f} ms q3={q[2]:.2f} ms"
        if len(binaries) > 1:
            size = os.path.getsize(binary)
            line = f"{binary}: size={size} bytes {line} ratio={median / base:.2f}"
        print(line)


if __name__ == "__main__":
    main()
