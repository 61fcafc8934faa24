#!/usr/bin/env python3
"""Write the judge's input: one line of hex per test input, each the
``lz4_compress_prepend_size(data, literals_only=True)`` of logfile_journal
(run from the project's root, or with it on PYTHONPATH).

The inputs: every length that moves the token's literal length (0-15) and
its extension bytes (15 + 255k - 1 .. + 1), of zeros, log text and
seeded random bytes, and one of each kind at 4 KiB.
"""
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
import logfile_journal  # noqa: E402

LENGTHS = sorted({*range(17), 268, 269, 270, 271, 523, 524, 525, 526, 779, 780, 781, 4096})
TEXT = b"".join(b"INFO %5d request /api/v1/items/%d served in %d ms\n" % (i * 7919 % 99999,
                                                                          i * 104729, i % 500)
                for i in range(100))


def inputs():
    """(kind, data) of every test input, in order."""
    rng = random.Random(20261202)
    for n in LENGTHS:
        yield "zeros", bytes(n)
        yield "text", (TEXT * (n // len(TEXT) + 1))[:n]
        yield "random", rng.randbytes(n)


def main():
    for kind, data in inputs():
        block = logfile_journal.lz4_compress_prepend_size(data, literals_only=True)
        print("# %s, %d bytes" % (kind, len(data)))
        print(block.hex())


if __name__ == "__main__":
    main()
