#!/usr/bin/env python3
"""Writes a valid wasm command module of about SIZE megabytes (a `_start`
that does nothing and an incompressible data segment), for benchmarks."""
import os
import sys


def leb(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def section(sid, body):
    return bytes([sid]) + leb(len(body)) + body


def name(s):
    return leb(len(s)) + s.encode()


def module(size):
    data = os.urandom(size)
    pages = size // 65536 + 1
    return b"".join([
        b"\0asm\1\0\0\0",
        section(1, b"\x01\x60\x00\x00"),                     # type () -> ()
        section(3, b"\x01\x00"),                             # one function
        section(5, b"\x01\x00" + leb(pages)),                # memory
        section(7, b"\x02" + name("_start") + b"\x00\x00" + name("memory") + b"\x02\x00"),
        section(10, b"\x01\x02\x00\x0b"),                    # empty body
        section(11, b"\x01\x00\x41\x00\x0b" + leb(size) + data),
    ])


if __name__ == "__main__":
    megabytes, path = float(sys.argv[1]), sys.argv[2]
    with open(path, "wb") as f:
        f.write(module(int(megabytes * 1_000_000)))
