#!/usr/bin/env python3
"""Writes a valid wasm command module of about SIZE megabytes, for
benchmarks: by default a `_start` that does nothing and an incompressible
data segment (what packaging and transfer pay for); with --code, functions
of straight-line arithmetic that `_start` calls (what compiling pays for).

usage: make-module.py SIZE_MB OUT [--code]"""
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


def sleb(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        done = (n == 0 and not byte & 0x40) or (n == -1 and byte & 0x40)
        out.append(byte if done else byte | 0x80)
        if done:
            return bytes(out)


def section(sid, body):
    return bytes([sid]) + leb(len(body)) + body


def name(s):
    return leb(len(s)) + s.encode()


def vec(items):
    return leb(len(items)) + b"".join(items)


def data_module(size):
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


def code_module(size):
    per_function = 4000
    count = max(1, size // per_function)
    bodies = []
    for f in range(count):
        code = bytearray(b"\x41" + sleb(f))                  # i32.const f
        k = 0
        while len(code) < per_function - 8:
            # i32.const c; i32.add or i32.mul
            code += b"\x41" + sleb((f * 31 + k) % 100000) + (b"\x6a" if k % 3 else b"\x6c")
            k += 1
        body = b"\x00" + bytes(code) + b"\x0b"               # no locals, ..., end
        bodies.append(leb(len(body)) + body)
    start = b"\x00" + b"".join(b"\x10" + leb(f) + b"\x1a" for f in range(count)) + b"\x0b"  # call f; drop
    bodies.append(leb(len(start)) + start)
    return b"".join([
        b"\0asm\1\0\0\0",
        section(1, vec([b"\x60\x00\x01\x7f", b"\x60\x00\x00"])),  # () -> i32 workers, () -> () _start
        section(3, vec([leb(0)] * count + [leb(1)])),
        section(7, vec([name("_start") + b"\x00" + leb(count)])),
        section(10, vec(bodies)),
    ])


if __name__ == "__main__":
    megabytes, path = float(sys.argv[1]), sys.argv[2]
    make = code_module if sys.argv[3:] == ["--code"] else data_module
    with open(path, "wb") as f:
        f.write(make(int(megabytes * 1_000_000)))
