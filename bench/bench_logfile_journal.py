#!/usr/bin/env python3
"""Benchmark logfile_journal against standard-library (and optional) peers.

Every measure runs side by side in one process: each repetition runs every
contestant of a measure in turn, and the table reports the median of the
repetitions.  Workloads are generated here, deterministically:

  (a) small records  -- CreatePipeV1 / FileDescriptorSeekV1 / SocketSendV1
                        (64-byte payloads), round robin;
  (b) syscall mix    -- open (realistic paths), 1 KiB writes, seeks, socket
                        sends and closes, as a process would journal them
                        ("the mixed workload" of issue 9);
  (c) memory snapshot -- 64 KiB pages of memory-like data (zero pages,
                        repeated code-like bytes, random pages) for LZ4;
  (d) large payloads -- FileDescriptorWriteV1 records of 256 KiB;
  (e) file writes    -- FileDescriptorWriteV1 records of 400 bytes;
  (f) CreatePipeV1   -- CreatePipeV1 records only (16 bytes each), as
                        issue 9 measured them;
  (g) N pipes        -- existing journals of 10k, 1M and (full run only)
                        10M CreatePipeV1 records: one encoded record
                        repeated after the magic number (built untimed; the
                        smallest is read back to check it).

Sizes (quick / full): (a) 100k / 1M records, (b) 20k / 200k, (c) 8 / 64
MiB, (d) 64 / 256 records, (e) 1k / 10k, (f) 50k / 200k, (g) 10k and 1M /
10k, 1M and 10M records (1M and more: at most 3 repetitions).

Measures and their targets (ratio = our throughput / the peer's; "ratio
only": reported, not judged):

  write      LogFileJournal.write into a fresh file, open to close (the
             default mode and the faster modes the constructor offers, see
             below), and write_many in the default mode, vs pickle.dump of
             equivalent tuples to a file opened "ab":
               write_many   >= 1.0x on (f), >= 0.9x on (b);
               buffered write() (lock=thread,sync=never,buffer_size=65536)
                            >= 0.55x on (f);
               every other mode, and everything on (a): ratio only.
             On (b) and (f) also vs the buffered floor: the same records,
             encoded untimed (encode_record), appended to a bytearray and
             os.written every 64 KiB (ratio only, buffered write() and
             write_many);
  visible write
             on (f): one write() per record with lock="exclusive" (each
             record in the file when write() returns) into a journal
             holding only its magic number, vs one os.write per encoded
             record (the floor for a write visible on return): >= 0.45x.
             Timed from opening to the last write; close() (an fsync under
             the default sync) is not timed;
  read       iterate the journal (decode every record) vs a pickle.load
             loop over the pickle file: >= 1.0x on (f), >= 0.75x on (b),
             ratio only on (a); on (f) also a journal.read() loop (one
             LogReadResult at a time, until None): >= 1.0x;
  scan       count records by type with iter_records() over an mmap vs a
             bare struct.unpack_from loop over the same mmap: >= 0.5x on
             (a) and (b);
  lz4        lz4_compress_prepend_size >= 20 MB/s, and
             lz4_decompress_size_prepended >= 100 MB/s on (c), with the
             ratio against the ``lz4`` C package when it is installed;
  large      journal write of (d) within 3x of os.write of the same
             payload bytes (ratio >= 0.33x);
  export     the export command (JSON lines) on (e) within 3x of the
             inspect command's time (ratio >= 0.33x), and so export
             --lz4-literals-only (its entries checked to be the same);
             export's MB/s (of journal read) and import's (of JSON read)
             are reported, with json.dumps of the same dicts for scale;
  construct  on (f): CreatePipeV1(fd1, fd2), both fields checked, vs an
             unchecked typing.NamedTuple of the same fields (ratio only);
  open+write on (g): LogFileJournal(path) (default options) then one
             write(), timed -- opening for append walks every header to
             find the end -- vs opening, mmapping and walking the headers
             with a bare struct.unpack_from loop (the floor), and reading
             the file, for scale (ratios only).  The notes give each
             size's time per million records.

The floors' files and write_many's are checked against the journal's,
byte for byte.  records/s counts records (pages for LZ4); MB/s counts the
bytes each contestant writes or reads (the journal file, the pickle file,
the raw payloads; uncompressed bytes for LZ4).  MB = 10**6 bytes.  The
garbage collector is disabled while a contestant is timed, as timeit does;
each measure first runs every contestant once untimed (a warm-up), and
each timed run starts after an (untimed) os.sync, with nothing of earlier
runs left to write back.
The report ends with every target, met or missed, then every ratio
reported without one.

Usage:

    python3 bench/bench_logfile_journal.py            # full run, < 2 minutes
    python3 bench/bench_logfile_journal.py --quick    # < 20 seconds
    python3 bench/bench_logfile_journal.py --json     # the table, then JSON

Write modes: the default and the modes of WRITE_PRESETS the module
supports -- the fastest unbuffered one on (b) and (d), the fastest of all
everywhere; on (f) only the fastest (buffered) one.  ``--all-modes``
measures every mode, each option alone too, on every workload (slower).
``--write-option NAME=VALUE[,NAME=VALUE]`` adds a mode of your choice, and
``--module PATH`` benchmarks another copy of logfile_journal.py, to
compare a modified copy against the repository's; what that copy lacks
(write_many, encode_record, a write mode) is left out.
"""

import argparse
import ast
import filecmp
import gc
import importlib.util
import inspect
import json
import mmap
import os
import pickle
import platform
import random
import shutil
import statistics
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

try:
    import lz4.block as lz4_block
except ImportError:          # optional peer
    lz4_block = None

#: The module under test; set by load_module().
lj = None

MB = 1e6
PICKLE_PROTOCOL = pickle.HIGHEST_PROTOCOL
PAGE_SIZE = 64 << 10

#: Write modes besides the default, from the options the README documents
#: (each measured only if LogFileJournal accepts it): (kind, options).
#: "single" modes (one option alone) run with --all-modes only;
#: "unbuffered" is the fastest mode with one write per record, "fastest"
#: the fastest of all.
WRITE_PRESETS = (
    ("single", {"lock": "exclusive"}),   # flock held from open to close
    ("single", {"lock": "thread"}),      # no flock/fstat per record
    ("single", {"sync": "never"}),       # no fsync in flush()/close()
    ("unbuffered", {"lock": "thread", "sync": "never"}),
    ("fastest", {"lock": "thread", "sync": "never", "buffer_size": 1 << 16}),
)

#: Constructor parameters that do not change how fast records are written.
NON_WRITE_OPTIONS = {"path", "strict", "max_uncompressed_size", "on_torn_tail"}


# ---------------------------------------------------------------------------
# Sizes, module loading, machine
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Sizes:
    """How big each workload is."""
    small_records: int
    syscall_records: int
    snapshot_bytes: int
    large_records: int
    export_records: int
    pipe_records: int
    open_records: Tuple[int, ...]
    large_payload: int = 256 << 10


FULL = Sizes(small_records=1_000_000, syscall_records=200_000,
             snapshot_bytes=64 << 20, large_records=256, export_records=10_000,
             pipe_records=200_000, open_records=(10_000, 1_000_000, 10_000_000))
QUICK = Sizes(small_records=100_000, syscall_records=20_000,
              snapshot_bytes=8 << 20, large_records=64, export_records=1_000,
              pipe_records=50_000, open_records=(10_000, 1_000_000))

#: Journals of at least this many records are opened (g) only
#: OPEN_BIG_REPEAT times (or --repeat, if fewer): 10M records take seconds.
OPEN_BIG_RECORDS = 1_000_000
OPEN_BIG_REPEAT = 3


def load_module(path: Optional[str]):
    """Import logfile_journal from the repository root, or from ``path``."""
    if path is None:
        sys.path.insert(0, REPO_ROOT)
        import logfile_journal
        return logfile_journal
    spec = importlib.util.spec_from_file_location("logfile_journal", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["logfile_journal"] = module
    spec.loader.exec_module(module)
    return module


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or platform's guess)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_description() -> Dict[str, str]:
    """What the numbers were measured on."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu": cpu_model(),
        "cores": "%s (%s usable)" % (os.cpu_count(), usable),
        "python": "%s %s" % (platform.python_implementation(), platform.python_version()),
        "os": platform.platform(),
        "module": os.path.abspath(lj.__file__),
        "lz4 package": getattr(sys.modules.get("lz4"), "__version__", "not installed"),
    }


# ---------------------------------------------------------------------------
# Workloads
# ---------------------------------------------------------------------------

def payload_pool(rng: random.Random, size: int, count: int = 64) -> List[bytes]:
    """``count`` distinct random payloads of ``size`` bytes, reused round robin."""
    return [rng.randbytes(size) for _ in range(count)]


#: Distinct entries built per workload; longer workloads repeat them (the
#: codec does not cache anything per entry, and building a million entries
#: would take longer than some of the measures).
DISTINCT_ENTRIES = 6000


def cycled(pool: list, count: int) -> list:
    """``count`` items: ``pool`` repeated."""
    return [pool[i % len(pool)] for i in range(count)]


def small_records(count: int, rng: random.Random) -> list:
    """Workload (a): CreatePipeV1, FileDescriptorSeekV1, SocketSendV1 in turn."""
    payloads = payload_pool(rng, 64)
    pool = []
    for i in range(min(count, DISTINCT_ENTRIES)):
        kind = i % 3
        if kind == 0:
            pool.append(lj.CreatePipeV1(fd1=3 + i % 1000, fd2=4 + i % 1000))
        elif kind == 1:
            pool.append(lj.FileDescriptorSeekV1(fd=5 + i % 64, offset=i * 4096,
                                                whence=lj.Whence.Set))
        else:
            pool.append(lj.SocketSendV1(fd=7 + i % 16, data=payloads[i % len(payloads)],
                                        flags=0, is_64bit=False))
    return cycled(pool, count)


def pipe_records(count: int) -> list:
    """Workload (f): CreatePipeV1 only (fd pairs), the record issue 9 measured."""
    pool = [lj.CreatePipeV1(fd1=3 + 2 * (i % 500), fd2=4 + 2 * (i % 500))
            for i in range(min(count, DISTINCT_ENTRIES))]
    return cycled(pool, count)


PATHS = (
    "/home/user/project/src/main.rs",
    "/home/user/project/target/debug/build/output.log",
    "/usr/lib/python3.11/site-packages/requests/__init__.py",
    "/etc/ssl/certs/ca-certificates.crt",
    "/var/lib/app/data/cache/7f/3a9c1e2d4b5f60718293a4b5c6d7e8f9.bin",
    "/tmp/tmp8x2k_q1z/upload-chunk-000042.part",
    "/srv/www/static/assets/app.4f9c2b.min.js",
    "/proc/self/status",
)

#: WASI rights a libc path_open typically asks for (read, write, seek, ...).
RIGHTS_BASE = 0x000000001FFFFFFF
RIGHTS_INHERITING = 0x000000001FFFFFFF
O_CREAT_TRUNC = 0x1 | 0x8


def syscall_session(i: int, fd: int, path: str, chunk: bytes, message: bytes) -> list:
    """One file's life as a process journals it: open, writes, seek, send, close."""
    return [
        lj.OpenFileDescriptorV1(fd=fd, dirfd=3, dirflags=1, path=path, o_flags=O_CREAT_TRUNC,
                                fs_rights_base=RIGHTS_BASE,
                                fs_rights_inheriting=RIGHTS_INHERITING, fs_flags=0),
        lj.FileDescriptorWriteV1(fd=fd, offset=0, data=chunk, is_64bit=False),
        lj.FileDescriptorWriteV1(fd=fd, offset=1024, data=chunk, is_64bit=False),
        lj.FileDescriptorSeekV1(fd=fd, offset=-512, whence=lj.Whence.Cur),
        lj.FileDescriptorWriteV1(fd=fd, offset=1536, data=chunk, is_64bit=False),
        lj.SocketSendV1(fd=4, data=message, flags=0, is_64bit=False),
        lj.CloseFileDescriptorV1(fd=fd),
    ]


def syscall_mix(count: int, rng: random.Random) -> list:
    """Workload (b): ``count`` records of open/write/seek/send/close sessions."""
    chunks = payload_pool(rng, 1024)
    messages = payload_pool(rng, 128)
    pool = []
    i = 0
    while len(pool) < min(count, DISTINCT_ENTRIES):
        pool += syscall_session(i, 10 + i % 50, PATHS[i % len(PATHS)],
                                chunks[i % len(chunks)], messages[i % len(messages)])
        i += 1
    return cycled(pool, count)


# x86-64 instructions of a typical function; "????????" marks a rel32
# (call target, branch, RIP-relative displacement) that differs between
# copies of the code.
CODE_PIECES = (
    "55", "4889e5", "4157", "4156", "4155", "4154", "53", "4883ec38",
    "48897dc8", "488975c0", "8b4710", "85c0", "0f84????????",
    "488d3d????????", "e8????????", "4889c3", "4885c0", "7421",
    "488b4308", "488b7dc8", "ff5018", "8945d4", "837dd400", "7e0f",
    "8b45d4", "83e801", "8945d4", "e9????????", "488b05????????",
    "488b00", "4889c7", "e8????????", "31c0", "488d4dd0", "ba10000000",
    "4889ce", "bf01000000", "e8????????", "4883c438", "5b", "415c",
    "415d", "415e", "415f", "5d", "c3", "0f1f440000", "66662e0f1f840000000000",
)


def code_template() -> Tuple[bytes, Tuple[int, ...]]:
    """The bytes of CODE_PIECES (4 copies, ~ 400 bytes) and where the rel32s are."""
    template = bytearray()
    holes = []
    for _ in range(4):
        for piece in CODE_PIECES:
            hole = piece.find("?")
            if hole >= 0:
                holes.append(len(template) + hole // 2)
                piece = piece.replace("????????", "00000000")
            template += bytes.fromhex(piece)
    return bytes(template), tuple(holes)


#: How many rel32s change from one copy of the code to the next.
CODE_CHANGES_PER_COPY = 6


def code_page(rng: random.Random, template: bytes, holes: Sequence[int], size: int) -> bytes:
    """``size`` bytes of the template repeated; each copy has a few rel32s
    (CODE_CHANGES_PER_COPY) changed from the previous copy."""
    page = bytearray()
    copy = bytearray(template)
    while len(page) < size:
        for hole in rng.sample(holes, CODE_CHANGES_PER_COPY):
            copy[hole:hole + 4] = rng.getrandbits(20).to_bytes(4, "little")
        page += copy
    return bytes(page[:size])


SNAPSHOT_MIX = (("zero", 0.4), ("code", 0.4), ("random", 0.2))


def memory_pages(total: int, rng: random.Random) -> Tuple[List[bytes], Dict[str, int]]:
    """Workload (c): ``total`` bytes of 64 KiB pages, mixed as SNAPSHOT_MIX says."""
    template, holes = code_template()
    zero = bytes(PAGE_SIZE)
    kinds = [kind for kind, _ in SNAPSHOT_MIX]
    weights = [weight for _, weight in SNAPSHOT_MIX]
    pages = []
    counts = dict.fromkeys(kinds, 0)
    for _ in range(total // PAGE_SIZE):
        kind = rng.choices(kinds, weights)[0]
        counts[kind] += 1
        if kind == "zero":
            pages.append(zero)
        elif kind == "code":
            pages.append(code_page(rng, template, holes, PAGE_SIZE))
        else:
            pages.append(rng.randbytes(PAGE_SIZE))
    return pages, counts


def large_records(count: int, size: int, rng: random.Random) -> list:
    """Workload (d): FileDescriptorWriteV1 records of ``size`` bytes each."""
    payloads = payload_pool(rng, size, 4)
    return [lj.FileDescriptorWriteV1(fd=9, offset=i * size, data=payloads[i % len(payloads)],
                                     is_64bit=True) for i in range(count)]


def plain_value(value):
    """A field value as pickle's peer stores it: IntEnum members as plain ints."""
    if isinstance(value, int) and type(value) not in (int, bool):
        return int(value)
    return value


def plain_tuples(entries: list) -> List[tuple]:
    """The entries as tuples of the same field values: (record type, *fields).

    An entry that occurs several times gives the same tuple each time.
    """
    converted = {}
    tuples = []
    for entry in entries:
        item = converted.get(id(entry))
        if item is None:
            item = converted[id(entry)] = ((int(entry.record_type),)
                                           + tuple(map(plain_value, entry)))
        tuples.append(item)
    return tuples


def encoded_records(entries: list) -> List[bytes]:
    """Each entry's record (header and body) as a journal holds it, the
    first one right after the magic number, the next after it, and so on:
    the bytes the floors write (encoded untimed, by lj.encode_record).

    A body's padding depends only on its offset modulo 16 (rkyv aligns to
    16 at most), so an entry met again at the same phase reuses its bytes;
    the measures check the floors' files against the journal's, byte for
    byte.
    """
    encoded = {}
    records = []
    position = len(lj.JOURNAL_MAGIC_NUMBER_BYTES)
    for entry in entries:
        key = (id(entry), position & 15)
        record = encoded.get(key)
        if record is None:
            record = encoded[key] = lj.encode_record(entry, position)
        records.append(record)
        position += len(record)
    return records


# ---------------------------------------------------------------------------
# Measures and contestants
# ---------------------------------------------------------------------------

@dataclass
class Contestant:
    """One side of a measure: ``run()`` does its untimed setup, times its
    work and returns (seconds, bytes moved)."""
    label: str
    records: int
    run: Callable[[], Tuple[float, int]]
    seconds: List[float] = field(default_factory=list)
    nbytes: int = 0

    @property
    def median(self) -> float:
        """Median of the timed repetitions."""
        return statistics.median(self.seconds)

    @property
    def records_per_second(self) -> float:
        """Records per second at the median time."""
        return self.records / self.median

    @property
    def mb_per_second(self) -> float:
        """MB (10**6 bytes) per second at the median time."""
        return self.nbytes / self.median / MB


@dataclass
class Target:
    """A goal: ``label``'s throughput over ``peer``'s at least ``minimum``
    (a ratio), or, without a peer, ``label``'s MB/s at least ``minimum``.
    ``minimum`` None: the ratio is reported, nothing is judged."""
    label: str
    peer: Optional[str]
    minimum: Optional[float]
    value: Optional[float] = None

    @property
    def met(self) -> Optional[bool]:
        """Whether the target is met (None: nothing to judge)."""
        if self.minimum is None or self.value is None:
            return None
        return self.value >= self.minimum

    def describe(self, verdict: bool = True) -> str:
        """The value, and with ``verdict`` the target and whether it is met."""
        if self.peer is None:
            text = "%s: %.1f MB/s" % (self.label, self.value)
        else:
            text = "%s / %s: %.2fx" % (self.label, self.peer, self.value)
        if self.met is None or not verdict:
            return text
        return "%s  (target %s: %s)" % (text, self.goal, "met" if self.met else "MISSED")

    @property
    def goal(self) -> str:
        """The target as text."""
        if self.minimum is None:
            return ""
        if self.peer is None:
            return ">= %g MB/s" % self.minimum
        return ">= %.2fx" % self.minimum


@dataclass
class Measure:
    """Contestants timed side by side, and the targets judged on them."""
    workload: str
    name: str
    contestants: List[Contestant]
    targets: List[Target] = field(default_factory=list)

    def contestant(self, label: str) -> Contestant:
        """The contestant called ``label``."""
        return next(c for c in self.contestants if c.label == label)

    def judge(self) -> None:
        """Compute every target's value from the medians."""
        for target in self.targets:
            ours = self.contestant(target.label)
            if target.peer is None:
                target.value = ours.mb_per_second
            else:
                peer = self.contestant(target.peer)
                target.value = ours.records_per_second / peer.records_per_second


def run_measure(measure: Measure, repeat: int) -> None:
    """Time every contestant ``repeat`` times, interleaved, then judge.

    A first round is not counted (a warm-up, as pyperf does: the first
    run of each contestant creates its file and takes the page cache's
    first pages, which measured 1.5-2.5x slower than the next runs).
    Each run starts with nothing left to write back: os.sync (untimed)
    first writes out what earlier runs left dirty, so that an fsync (the
    default sync="flush" does one at close) waits for its own data only,
    and no run meets the kernel's 30 s writeback of another's.
    """
    for round_number in range(repeat + 1):
        for contestant in measure.contestants:
            if hasattr(os, "sync"):
                os.sync()
            gc.collect()
            gc.disable()
            try:
                seconds, nbytes = contestant.run()
            finally:
                gc.enable()
            if round_number:
                contestant.seconds.append(seconds)
            contestant.nbytes = nbytes
    measure.judge()


def remove(path: str) -> None:
    """Delete ``path`` if it exists."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def expect(what: str, got, wanted) -> None:
    """Stop the benchmark when a contestant did not do the whole job."""
    if got != wanted:
        raise SystemExit("benchmark error: %s gave %r, expected %r" % (what, got, wanted))


# -- write --------------------------------------------------------------

def journal_writer(entries: list, path: str, options: dict) -> Callable:
    """Write ``entries`` into a fresh journal at ``path`` (open to close)."""
    def run():
        remove(path)
        start = time.perf_counter()
        with lj.LogFileJournal(path, **options) as journal:
            write = journal.write
            for entry in entries:
                write(entry)
            journal.flush()
        return time.perf_counter() - start, os.path.getsize(path)
    return run


def journal_bulk_writer(entries: list, path: str, options: dict) -> Callable:
    """write_many ``entries`` into a fresh journal at ``path`` (open to close)."""
    def run():
        remove(path)
        start = time.perf_counter()
        with lj.LogFileJournal(path, **options) as journal:
            journal.write_many(entries)
            journal.flush()
        return time.perf_counter() - start, os.path.getsize(path)
    return run


def pickle_writer(tuples: List[tuple], path: str) -> Callable:
    """pickle.dump each tuple to ``path`` opened in append mode."""
    def run():
        remove(path)
        start = time.perf_counter()
        with open(path, "ab") as file:
            dump = pickle.dump
            for item in tuples:
                dump(item, file, PICKLE_PROTOCOL)
        return time.perf_counter() - start, os.path.getsize(path)
    return run


def raw_writer(payloads: List[bytes], path: str) -> Callable:
    """os.write each payload to a fresh file (the floor for large records)."""
    def run():
        remove(path)
        start = time.perf_counter()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            for payload in payloads:
                view = memoryview(payload)
                while view:
                    view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        return time.perf_counter() - start, os.path.getsize(path)
    return run


def write_all(fd: int, data) -> None:
    """os.write until all of ``data`` is written."""
    written = os.write(fd, data)
    while written < len(data):
        written += os.write(fd, data[written:])


#: How much the buffered floor collects before each os.write (the
#: buffered write mode's buffer_size).
FLOOR_BUFFER = 1 << 16


def buffered_raw_writer(records: List[bytes], path: str) -> Callable:
    """The magic number and ``records`` appended to a bytearray, written
    with os.write whenever FLOOR_BUFFER bytes are waiting, into a fresh
    file (open to close): the floor for buffered writing."""
    def run():
        remove(path)
        start = time.perf_counter()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            buffer = bytearray(lj.JOURNAL_MAGIC_NUMBER_BYTES)
            for record in records:
                buffer += record
                if len(buffer) >= FLOOR_BUFFER:
                    write_all(fd, buffer)
                    buffer.clear()
            write_all(fd, buffer)
        finally:
            os.close(fd)
        return time.perf_counter() - start, os.path.getsize(path)
    return run


def magic_only(path: str) -> None:
    """Make ``path`` a journal without records (its magic number only)."""
    with open(path, "wb") as file:
        file.write(lj.JOURNAL_MAGIC_NUMBER_BYTES)


def journal_visible_writer(entries: list, path: str, options: dict) -> Callable:
    """One write() per entry into a journal holding only its magic number
    (made untimed), timed from opening to the last write's return: every
    record is in the file when write() returns.  close() (an fsync under
    the default sync="flush") is not timed: the floor does not fsync."""
    def run():
        magic_only(path)
        start = time.perf_counter()
        journal = lj.LogFileJournal(path, **options)
        try:
            write = journal.write
            for entry in entries:
                write(entry)
            elapsed = time.perf_counter() - start
        finally:
            journal.close()
        return elapsed, os.path.getsize(path)
    return run


def raw_record_writer(records: List[bytes], path: str) -> Callable:
    """One os.write per pre-encoded record, appended to a file holding the
    magic number (made untimed; close untimed): the floor for a write
    visible on return."""
    def run():
        magic_only(path)
        start = time.perf_counter()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            write = os.write
            for record in records:
                write(fd, record)
            elapsed = time.perf_counter() - start
        finally:
            os.close(fd)
        return elapsed, os.path.getsize(path)
    return run


def same_file(what: str, path: str, reference: str) -> None:
    """Stop the benchmark unless ``path`` holds the bytes of ``reference``."""
    expect(what + " wrote the journal's bytes", filecmp.cmp(path, reference, shallow=False),
           True)


class WriteMode(NamedTuple):
    """Constructor options for LogFileJournal, with a label for the table.

    ``kind``: "default", one of WRITE_PRESETS' kinds, or "extra" (from
    --write-option).
    """
    label: str
    options: Dict[str, object]
    kind: str


def mode_is_supported(options: Dict[str, object], workdir: str) -> bool:
    """Whether LogFileJournal opens a journal with ``options``."""
    path = os.path.join(workdir, "mode-check.journal")
    try:
        lj.LogFileJournal(path, **options).close()
    except (TypeError, ValueError, lj.JournalError):
        return False
    finally:
        remove(path)
    return True


def write_modes(extra: Sequence[Dict[str, object]],
                workdir: str) -> Tuple[List[WriteMode], List[str]]:
    """The write modes to measure, and the constructor options left untried.

    The default, the WRITE_PRESETS this module supports, then the
    ``--write-option`` modes.
    """
    modes = [WriteMode("default", {}, "default")]
    modes += [WriteMode(options_label(options), options, kind)
              for kind, options in WRITE_PRESETS if mode_is_supported(options, workdir)]
    modes += [WriteMode(options_label(options), options, "extra") for options in extra]
    tried = {name for mode in modes for name in mode.options}
    untried = [name for name in inspect.signature(lj.LogFileJournal).parameters
               if name not in NON_WRITE_OPTIONS and name not in tried]
    return modes, untried


def options_label(options: Dict[str, object]) -> str:
    """``{"lock": "thread"}`` -> ``"lock=thread"``."""
    return ",".join("%s=%s" % item for item in options.items())


def modes_for(workload: str, modes: Sequence[WriteMode], all_modes: bool) -> List[WriteMode]:
    """The modes one workload measures, within the time budget.

    (a), a million records, measures the default and the fastest mode;
    (f) the fastest (buffered) mode only, as its visible write measure has
    lock=exclusive; the others the unbuffered fast mode too; --all-modes
    measures every mode everywhere.  Modes from --write-option are
    measured everywhere.
    """
    if all_modes:
        return list(modes)
    chosen = [mode for mode in modes if mode.kind in ("default", "unbuffered", "fastest")]
    if workload.startswith("(a)") and len(chosen) > 2:
        chosen = [chosen[0], chosen[-1]]
    if workload.startswith("(f)"):
        chosen = [mode for mode in chosen if mode.kind == "fastest"]
    return chosen + [mode for mode in modes if mode.kind == "extra"]


def journal_write_contestants(entries: list, path: str,
                              modes: Sequence[WriteMode]) -> List[Contestant]:
    """One LogFileJournal.write contestant per mode, all writing ``path``."""
    return [Contestant("LogFileJournal [%s]" % mode.label, len(entries),
                       journal_writer(entries, path, mode.options)) for mode in modes]


@dataclass(frozen=True)
class Goals:
    """What a record workload measures besides write and iterate, and the
    minimum ratios it is judged on (None: the ratio is only reported)."""
    write_many: Optional[float] = None   # write_many [default] / pickle.dump
    buffered: Optional[float] = None     # write() in the "fastest" mode / pickle.dump
    iterate: Optional[float] = None      # iterate / pickle.load loop
    read_loop: Optional[float] = None    # read() loop / pickle.load loop
    visible: Optional[float] = None      # write() [lock=exclusive] / os.write per record
    scan: Optional[float] = None         # iter_records / struct loop
    measure_read_loop: bool = False
    measure_visible: bool = False
    measure_scan: bool = True
    floors: bool = False                 # the bytearray floor in write


#: Issue 9 judges (f) and (b); (a) reports its ratios and keeps only the
#: header scan target.
GOALS = {
    "a": Goals(scan=0.5),
    "b": Goals(write_many=0.9, iterate=0.75, scan=0.5, floors=True),
    "f": Goals(write_many=1.0, buffered=0.55, iterate=1.0, read_loop=1.0, visible=0.45,
               measure_read_loop=True, measure_visible=True, measure_scan=False,
               floors=True),
}

#: The buffered floor's label.
BUFFERED_FLOOR = "bytearray + 64 KiB os.write (encoded)"


def write_measure(workload: str, entries: list, journal_path: str, pickle_path: str,
                  modes: Sequence[WriteMode], goals: Goals,
                  records: Optional[List[bytes]]) -> Measure:
    """Journal writes (each mode) and write_many vs pickle.dump, and, given
    the encoded ``records``, vs the buffered floor; the files stay for
    reading."""
    peer = "pickle.dump (file 'ab')"
    contestants = journal_write_contestants(entries, journal_path, modes)
    targets = [Target(c.label, peer, goals.buffered if mode.kind == "fastest" else None)
               for c, mode in zip(contestants, modes)]
    buffered = [c.label for c, mode in zip(contestants, modes) if mode.kind == "fastest"]
    if hasattr(lj.LogFileJournal, "write_many"):
        bulk = Contestant("LogFileJournal.write_many [default]", len(entries),
                          journal_bulk_writer(entries, journal_path + ".many", {}))
        contestants.append(bulk)
        targets.append(Target(bulk.label, peer, goals.write_many))
        buffered.append(bulk.label)
    contestants.append(Contestant(peer, len(entries),
                                  pickle_writer(plain_tuples(entries), pickle_path)))
    if records is not None:
        contestants.append(Contestant(BUFFERED_FLOOR, len(entries), buffered_raw_writer(
            records, journal_path + ".floor")))
        targets += [Target(label, BUFFERED_FLOOR, None) for label in buffered]
    return Measure(workload, "write", contestants, targets)


def visible_write_measure(workload: str, entries: list, records: List[bytes],
                          path: str, minimum: Optional[float]) -> Measure:
    """write() per record with lock="exclusive" (visible on return) vs one
    os.write per pre-encoded record."""
    ours = "LogFileJournal [lock=exclusive] write()"
    floor = "os.write per record (encoded)"
    return Measure(workload, "visible write", [
        Contestant(ours, len(entries), journal_visible_writer(entries, path,
                                                              {"lock": "exclusive"})),
        Contestant(floor, len(entries), raw_record_writer(records, path + ".raw")),
    ], [Target(ours, floor, minimum)])


def large_write_measure(workload: str, entries: list, workdir: str,
                        modes: Sequence[WriteMode]) -> Measure:
    """Journal writes of large records vs os.write of their payloads."""
    peer = "os.write (payload bytes)"
    contestants = journal_write_contestants(entries, os.path.join(workdir, "d.journal"),
                                            modes)
    targets = [Target(c.label, peer, 1 / 3) for c in contestants]
    contestants.append(Contestant(peer, len(entries), raw_writer(
        [entry.data for entry in entries], os.path.join(workdir, "d.raw"))))
    return Measure(workload, "write", contestants, targets)


# -- open for append ----------------------------------------------------

def pipe_entry():
    """The CreatePipeV1 entry (g)'s journals hold, over and over."""
    return lj.CreatePipeV1(fd1=3, fd2=4)


def pipe_record() -> bytes:
    """The encoded record of pipe_entry(), checked to be the same at every
    offset a journal of it puts it at (so that repeating it n times after
    the magic number makes a valid journal)."""
    magic = len(lj.JOURNAL_MAGIC_NUMBER_BYTES)
    record = lj.encode_record(pipe_entry(), magic)
    for copies in (1, 2, 3, 1001):
        expect("CreatePipeV1 record after %d of them" % copies,
               lj.encode_record(pipe_entry(), magic + copies * len(record)), record)
    return record


def repeated_journal(path: str, record: bytes, count: int) -> None:
    """The magic number, then ``record`` ``count`` times (64Ki at a write)."""
    chunk = 1 << 16
    block = record * min(count, chunk)
    with open(path, "wb") as file:
        file.write(lj.JOURNAL_MAGIC_NUMBER_BYTES)
        left = count
        while left >= chunk:
            file.write(block)
            left -= chunk
        file.write(record * left)


def check_repeated_journal(path: str, count: int) -> None:
    """Read the journal back: ``count`` records, every one pipe_entry()."""
    with lj.LogFileJournal.new_readonly(path) as journal:
        entries = list(journal)
        stop = journal.stop
    expect("records read back from a repeated-record journal", len(entries), count)
    expect("entries read back", set(entries), {pipe_entry()})
    expect("why reading stopped", stop, None)


def journal_appender(path: str, count: int, record_size: int) -> Callable:
    """LogFileJournal(path) then one write(), timed: opening for append
    walks every header to find the end.  close() and cutting the file back
    to its ``count`` records are not timed."""
    size = len(lj.JOURNAL_MAGIC_NUMBER_BYTES) + count * record_size
    def run():
        start = time.perf_counter()
        journal = lj.LogFileJournal(path)
        try:
            result = journal.write(pipe_entry())
            elapsed = time.perf_counter() - start
        finally:
            journal.close()
            os.truncate(path, size)
        expect("where the appended record went", result.record_start,
               size + lj.RECORD_HEADER_SIZE)
        return elapsed, size
    return run


def walk_headers(buffer) -> int:
    """How many records: a bare struct.unpack_from step over each header."""
    unpack = HEADER.unpack_from
    size = len(buffer)
    pos = 8                          # after the magic number
    records = 0
    while size - pos >= 8:
        _, high, low = unpack(buffer, pos)
        pos += 8 + (high << 32 | low)
        records += 1
    return records


def header_walker(path: str, count: int) -> Callable:
    """Open ``path``, mmap it and walk_headers() (timed, all of it): the
    floor for finding where to append."""
    def run():
        start = time.perf_counter()
        with open(path, "rb") as file, \
                mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as buffer:
            records = walk_headers(buffer)
            nbytes = len(buffer)
        elapsed = time.perf_counter() - start
        expect("header walk", records, count)
        return elapsed, nbytes
    return run


def file_reader(path: str) -> Callable:
    """Read the whole file into a bytearray (allocated untimed): what
    touching every byte once costs, for scale."""
    def run():
        buffer = bytearray(os.path.getsize(path))
        start = time.perf_counter()
        with open(path, "rb", buffering=0) as file:
            nbytes = file.readinto(buffer)
        elapsed = time.perf_counter() - start
        expect("bytes read", nbytes, len(buffer))
        return elapsed, nbytes
    return run


def open_label(count: int) -> str:
    """10_000 -> "10k", 10_000_000 -> "10M"."""
    for size, suffix in ((10 ** 6, "M"), (10 ** 3, "k")):
        if count >= size and count % size == 0:
            return "%d%s" % (count // size, suffix)
    return "%d" % count


def open_measures(counts: Sequence[int], workdir: str, repeat: int,
                  progress: Callable[[str], None]) -> Tuple[List[Measure], List[str]]:
    """(g): open journals of ``counts`` CreatePipeV1 records for append
    (and write one) vs a bare header walk and a read of the same file.

    Each file is built untimed from one encoded record, the smallest read
    back to check it, and deleted after its measure.
    """
    record = pipe_record()
    measures, notes = [], []
    ours = "LogFileJournal(path) + write()"
    walk = "struct.unpack_from walk (open+mmap)"
    read = "read the file (readinto)"
    for count in counts:
        progress("(g) open for append: %s records" % open_label(count))
        path = os.path.join(workdir, "g-%d.journal" % count)
        try:
            repeated_journal(path, record, count)
            if count == min(counts):
                check_repeated_journal(path, count)
            measure = Measure("(g) %s pipes" % open_label(count), "open+write", [
                Contestant(ours, count, journal_appender(path, count, len(record))),
                Contestant(walk, count, header_walker(path, count)),
                Contestant(read, count, file_reader(path)),
            ], [Target(ours, walk, None), Target(ours, read, None)])
            run_measure(measure, repeat if count < OPEN_BIG_RECORDS
                        else min(repeat, OPEN_BIG_REPEAT))
        finally:
            remove(path)
        seconds = measure.contestant(ours).median
        notes.append("open for append, %s records (%.1f MB): %.2f ms, %.0f us per "
                     "million records" % (open_label(count), measure.contestant(ours).nbytes
                                          / MB, seconds * 1e3, seconds * 1e12 / count))
        measures.append(measure)
    return measures, notes


# -- export -------------------------------------------------------------

def command_runner(argv: List[str], output: str, measured: str) -> Callable:
    """Run the command line ``argv`` in this process, its stdout into
    ``output`` (opened "w": truncated, never removed, as it may be
    /dev/null); the bytes moved are those of the file ``measured``."""
    def run():
        saved = sys.stdout, sys.stderr
        with open(output, "w", encoding="utf-8") as stream, \
                open(os.devnull, "w", encoding="utf-8") as quiet:
            sys.stdout, sys.stderr = stream, quiet            # "wrote N entries ..."
            try:
                start = time.perf_counter()
                status = lj.main(argv)
                elapsed = time.perf_counter() - start
            finally:
                sys.stdout, sys.stderr = saved
        expect(argv[0] + " command", status, 0)
        return elapsed, os.path.getsize(measured)
    return run


def json_dumper(dicts: List[dict], path: str) -> Callable:
    """json.dumps of the export's dicts, one per line, into a file."""
    def run():
        remove(path)
        start = time.perf_counter()
        with open(path, "w", encoding="utf-8") as stream:
            dumps = json.dumps
            for value in dicts:
                stream.write(dumps(value) + "\n")
        return time.perf_counter() - start, os.path.getsize(path)
    return run


def export_measure(workload: str, count: int, workdir: str) -> Measure:
    """export vs inspect (the target), json.dumps and import of (e)."""
    journal_path = os.path.join(workdir, "e.journal")
    rng = random.Random(20240602)
    pool = [b"".join(b"%s %5d request /api/v1/items/%d served in %d ms\n" % (
        rng.choice([b"INFO", b"WARN", b"DEBUG"]), rng.randrange(99999),
        rng.randrange(10 ** 6), rng.randrange(500)) for _ in range(12))[:400]
        for _ in range(64)]                                  # log lines, as programs write
    with lj.LogFileJournal(journal_path) as journal:
        write = journal.write_many if hasattr(journal, "write_many") else \
            (lambda entries: [journal.write(entry) for entry in entries])
        write(lj.FileDescriptorWriteV1(3 + i % 8, i * 400, data, False)
              for i, data in enumerate(cycled(pool, count)))
    jsonl = os.path.join(workdir, "e.jsonl")
    command_runner(["export", journal_path, "-o", jsonl, "--force"], os.devnull, jsonl)()
    with open(jsonl, encoding="utf-8") as stream:
        dicts = [json.loads(line) for line in stream]
    expect("export lines", len(dicts), count)
    peer = "inspect command (text)"
    export = "export command (JSON lines)"
    literals = "export --lz4-literals-only"
    contestants = [Contestant(export, count, command_runner(
        ["export", journal_path, "-o", jsonl, "--force"], os.devnull, journal_path))]
    targets = [Target(export, peer, 1 / 3), Target(export, None, None)]
    if "lz4_literals_only" in inspect.signature(lj.entry_to_json).parameters:
        fast_jsonl = os.path.join(workdir, "e.literals.jsonl")
        command_runner(["export", journal_path, "--lz4-literals-only", "-o", fast_jsonl,
                        "--force"], os.devnull, fast_jsonl)()
        with open(fast_jsonl, encoding="utf-8") as stream:
            expect("entries of export --lz4-literals-only",
                   [lj.entry_from_json(json.loads(line)) for line in stream],
                   [lj.entry_from_json(value) for value in dicts])
        contestants.append(Contestant(literals, count, command_runner(
            ["export", journal_path, "--lz4-literals-only", "-o", fast_jsonl, "--force"],
            os.devnull, journal_path)))
        targets += [Target(literals, peer, 1 / 3), Target(literals, None, None)]
    return Measure(workload, "export", contestants + [
        Contestant(peer, count, command_runner(
            ["inspect", journal_path], os.path.join(workdir, "e.txt"), journal_path)),
        Contestant("json.dumps of the same dicts", count, json_dumper(
            dicts, os.path.join(workdir, "e.dumps"))),
        Contestant("import command (JSON lines)", count, command_runner(
            ["import", jsonl, os.path.join(workdir, "e.imported"), "--force"], os.devnull,
            jsonl)),
    ], targets + [Target("import command (JSON lines)", None, None)])


# -- construct ----------------------------------------------------------

class PlainPipe(NamedTuple):
    """The peer of entry construction: a NamedTuple of the same fields, unchecked."""
    fd1: int
    fd2: int


def constructor(make: Callable, count: int) -> Callable:
    """Build ``count`` values with ``make(fd1, fd2)`` (positional ints)."""
    def run():
        numbers = range(3, 3 + count)
        start = time.perf_counter()
        for n in numbers:
            make(n, n + 1)
        return time.perf_counter() - start, 0
    return run


def construct_measure(workload: str, count: int) -> Measure:
    """CreatePipeV1(fd1, fd2), every field checked, vs an unchecked NamedTuple."""
    ours, peer = "CreatePipeV1(fd1, fd2)", "NamedTuple (fd1, fd2), unchecked"
    return Measure(workload, "construct", [
        Contestant(ours, count, constructor(lj.CreatePipeV1, count)),
        Contestant(peer, count, constructor(PlainPipe, count)),
    ], [Target(ours, peer, None)])


# -- read ---------------------------------------------------------------

def journal_reader(path: str, count: int) -> Callable:
    """Iterate a read-only journal, decoding every record."""
    def run():
        start = time.perf_counter()
        with lj.LogFileJournal.new_readonly(path) as journal:
            records = 0
            for _ in journal:
                records += 1
        elapsed = time.perf_counter() - start
        expect("journal read", records, count)
        return elapsed, os.path.getsize(path)
    return run


def pickle_reader(path: str, count: int) -> Callable:
    """pickle.load until the end of the file."""
    def run():
        start = time.perf_counter()
        records = 0
        with open(path, "rb") as file:
            load = pickle.load
            try:
                while True:
                    load(file)
                    records += 1
            except EOFError:
                pass
        elapsed = time.perf_counter() - start
        expect("pickle read", records, count)
        return elapsed, os.path.getsize(path)
    return run


def journal_read_loop(path: str, count: int) -> Callable:
    """journal.read() until None: one LogReadResult at a time."""
    def run():
        start = time.perf_counter()
        with lj.LogFileJournal.new_readonly(path) as journal:
            read = journal.read
            records = 0
            while read() is not None:
                records += 1
        elapsed = time.perf_counter() - start
        expect("journal read()", records, count)
        return elapsed, os.path.getsize(path)
    return run


def read_measure(workload: str, count: int, journal_path: str, pickle_path: str,
                 goals: Goals) -> Measure:
    """Iterate the journal (and a read() loop, if ``goals`` says) vs a
    pickle.load loop over the same records."""
    peer = "pickle.load loop"
    ours = "iterate LogFileJournal"
    contestants = [Contestant(ours, count, journal_reader(journal_path, count))]
    targets = [Target(ours, peer, goals.iterate)]
    if goals.measure_read_loop:
        loop = "LogFileJournal.read() loop"
        contestants.append(Contestant(loop, count, journal_read_loop(journal_path, count)))
        targets.append(Target(loop, peer, goals.read_loop))
    contestants.append(Contestant(peer, count, pickle_reader(pickle_path, count)))
    return Measure(workload, "read", contestants, targets)


# -- header scan ----------------------------------------------------------

def count_with_iter_records(buffer) -> Dict[int, int]:
    """Records by type, located by logfile_journal.iter_records."""
    counts = {}
    for info in lj.iter_records(buffer):
        code = info.record_type
        counts[code] = counts.get(code, 0) + 1
    return counts


HEADER = struct.Struct(">HHI")       # u16 type, u48 length as u16 + u32, big-endian


def count_with_struct(buffer) -> Dict[int, int]:
    """Records by type, located by a bare struct.unpack_from loop."""
    unpack = HEADER.unpack_from
    counts = {}
    size = len(buffer)
    pos = 8                          # after the magic number
    while size - pos >= 8:
        code, high, low = unpack(buffer, pos)
        counts[code] = counts.get(code, 0) + 1
        pos += 8 + (high << 32 | low)
    return counts


def scanner(path: str, count_records: Callable, count: int) -> Callable:
    """Time ``count_records`` over an mmap of ``path``."""
    def run():
        with open(path, "rb") as file, \
                mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as buffer:
            start = time.perf_counter()
            counts = count_records(buffer)
            elapsed = time.perf_counter() - start
            expect(count_records.__name__, sum(counts.values()), count)
            return elapsed, len(buffer)
    return run


def scan_measure(workload: str, count: int, journal_path: str,
                 minimum: Optional[float]) -> Measure:
    """iter_records vs a bare struct loop, both counting records by type."""
    ours, peer = "iter_records (mmap)", "struct.unpack_from loop (mmap)"
    return Measure(workload, "header scan", [
        Contestant(ours, count, scanner(journal_path, count_with_iter_records, count)),
        Contestant(peer, count, scanner(journal_path, count_with_struct, count)),
    ], [Target(ours, peer, minimum)])


# -- LZ4 ------------------------------------------------------------------

def page_codec(function: Callable, pages: List[bytes], nbytes: int,
               outputs: Optional[list] = None) -> Callable:
    """Apply ``function`` to every page; ``nbytes``: uncompressed bytes.

    The results of the last run are kept in ``outputs``, if given.
    """
    def run():
        results = []
        append = results.append
        start = time.perf_counter()
        for page in pages:
            append(function(page))
        elapsed = time.perf_counter() - start
        if outputs is not None:
            outputs[:] = results
        return elapsed, nbytes
    return run


def lz4_measures(pages: List[bytes], repeat: int) -> Tuple[List[Measure], List[str]]:
    """Compress the pages, then decompress our blocks; the lz4 C package
    (when installed) does the same as a peer."""
    workload = "(c) memory snapshot"
    total = sum(map(len, pages))
    ours_c, ours_d = "lz4_compress_prepend_size", "lz4_decompress_size_prepended"
    peer_c, peer_d = "lz4.block.compress (C)", "lz4.block.decompress (C)"
    ours_blocks, peer_blocks = [], []
    compress = Measure(workload, "lz4 compress", [Contestant(
        ours_c, len(pages), page_codec(lj.lz4_compress_prepend_size, pages, total,
                                       ours_blocks))],
        [Target(ours_c, None, 20.0)])
    if lz4_block is not None:
        compress.contestants.append(Contestant(
            peer_c, len(pages), page_codec(lz4_block.compress, pages, total, peer_blocks)))
        compress.targets.append(Target(ours_c, peer_c, None))
    run_measure(compress, repeat)

    decompressed = []
    decompress = Measure(workload, "lz4 decompress", [Contestant(
        ours_d, len(pages), page_codec(lj.lz4_decompress_size_prepended, ours_blocks, total,
                                       decompressed))],
        [Target(ours_d, None, 100.0)])
    if lz4_block is not None:       # the peer decompresses our blocks: the same input
        decompress.contestants.append(Contestant(
            peer_d, len(pages), page_codec(lz4_block.decompress, ours_blocks, total)))
        decompress.targets.append(Target(ours_d, peer_d, None))
    run_measure(decompress, repeat)
    expect("LZ4 round trip", decompressed == pages, True)

    notes = ["LZ4 ratio (ours, lz4_flex-compatible): %.3f (%d -> %d bytes)"
             % (sum(map(len, ours_blocks)) / total, total, sum(map(len, ours_blocks)))]
    if lz4_block is None:
        notes.append("lz4 C package not installed: no LZ4 peer (pip install lz4)")
    else:
        notes.append("LZ4 ratio (lz4 C package):            %.3f"
                     % (sum(map(len, peer_blocks)) / total))
    return [compress, decompress], notes


# ---------------------------------------------------------------------------
# The run and its report
# ---------------------------------------------------------------------------

def record_measures(workload: str, entries: list, workdir: str,
                    modes: Sequence[WriteMode], repeat: int) -> List[Measure]:
    """write (and the visible write), then read and header scan of the
    written files, of one workload, as GOALS says.

    The floors (when the module has encode_record) write the records the
    journal wrote: their files are checked against it, byte for byte.
    """
    key = workload[1]                        # "(a) small records" -> "a"
    goals = GOALS[key]
    journal_path = os.path.join(workdir, key + ".journal")
    pickle_path = os.path.join(workdir, key + ".pickle")
    records = None
    if hasattr(lj, "encode_record") and (goals.floors or goals.measure_visible):
        records = encoded_records(entries)
    write = write_measure(workload, entries, journal_path, pickle_path, modes, goals,
                          records if goals.floors else None)
    run_measure(write, repeat)
    if goals.floors and records is not None:
        same_file("the buffered floor", journal_path + ".floor", journal_path)
    if hasattr(lj.LogFileJournal, "write_many"):
        same_file("write_many", journal_path + ".many", journal_path)
    measures = [write]
    visible_path = os.path.join(workdir, key + ".visible.journal")
    if goals.measure_visible and records is not None and \
            mode_is_supported({"lock": "exclusive"}, workdir):
        visible = visible_write_measure(workload, entries, records, visible_path,
                                        goals.visible)
        run_measure(visible, repeat)
        same_file("os.write per record", visible_path + ".raw", visible_path)
        same_file("write() [lock=exclusive]", visible_path, journal_path)
        measures.append(visible)
    reads = [read_measure(workload, len(entries), journal_path, pickle_path, goals)]
    if goals.measure_scan:
        reads.append(scan_measure(workload, len(entries), journal_path, goals.scan))
    for measure in reads:
        run_measure(measure, repeat)
    return measures + reads


def run_all(sizes: Sizes, repeat: int, extra_modes: Sequence[dict], all_modes: bool,
            progress: Callable[[str], None]) -> Tuple[List[Measure], List[str]]:
    """Generate every workload and run every measure."""
    rng = random.Random(20240601)
    measures = []
    workdir = tempfile.mkdtemp(prefix="bench_logfile_journal.")
    try:
        modes, untried = write_modes(extra_modes, workdir)
        notes = ["write modes supported: %s%s" % (
            "; ".join(mode.label for mode in modes),
            "" if all_modes else " (single options: with --all-modes)")]
        if untried:
            notes.append("constructor options not benchmarked (use --write-option): %s"
                         % ", ".join(untried))
        progress("(a) small records: %d" % sizes.small_records)
        workload = "(a) small records"
        measures += record_measures(workload, small_records(sizes.small_records, rng),
                                    workdir, modes_for(workload, modes, all_modes), repeat)
        progress("(b) syscall mix: %d" % sizes.syscall_records)
        workload = "(b) syscall mix"
        measures += record_measures(workload, syscall_mix(sizes.syscall_records, rng),
                                    workdir, modes_for(workload, modes, all_modes), repeat)
        progress("(c) memory snapshot: %d MiB" % (sizes.snapshot_bytes >> 20))
        pages, mix = memory_pages(sizes.snapshot_bytes, rng)
        notes.append("snapshot pages: %s" % ", ".join("%d %s" % (n, kind)
                                                      for kind, n in mix.items()))
        lz4, lz4_notes = lz4_measures(pages, repeat)
        notes += lz4_notes
        measures += lz4
        del pages
        progress("(d) large payloads: %d x %d KiB" % (sizes.large_records,
                                                      sizes.large_payload >> 10))
        workload = "(d) large payloads"
        large = large_write_measure(
            workload, large_records(sizes.large_records, sizes.large_payload, rng), workdir,
            modes_for(workload, modes, all_modes))
        run_measure(large, repeat)
        measures.append(large)
        progress("(e) file writes: %d x 400 bytes" % sizes.export_records)
        export = export_measure("(e) file writes", sizes.export_records, workdir)
        run_measure(export, repeat)
        measures.append(export)
        progress("(f) CreatePipeV1 only: %d" % sizes.pipe_records)
        workload = "(f) CreatePipeV1"
        measures += record_measures(workload, pipe_records(sizes.pipe_records), workdir,
                                    modes_for(workload, modes, all_modes), repeat)
        if not hasattr(lj.LogFileJournal, "write_many"):
            notes.append("no write_many in this module: its measures and targets are left out")
        if not hasattr(lj, "encode_record"):
            notes.append("no encode_record in this module: no floors for (b), (f)")
        construct = construct_measure("(f) CreatePipeV1", sizes.pipe_records)
        run_measure(construct, repeat)
        measures.append(construct)
        opened, open_notes = open_measures(sizes.open_records, workdir, repeat, progress)
        measures += opened
        notes += open_notes
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return measures, notes


COLUMNS = (("workload", 20, "<"), ("measure", 14, "<"), ("contestant", 58, "<"),
           ("records", 9, ">"), ("median s", 9, ">"), ("records/s", 12, ">"),
           ("MB/s", 9, ">"))


def table_line(values: Sequence[str]) -> str:
    """One line of the table, aligned as COLUMNS says."""
    return "  ".join("%-*s" % (width, value) if align == "<" else "%*s" % (width, value)
                     for (_, width, align), value in zip(COLUMNS, values)).rstrip()


def format_report(machine: Dict[str, str], measures: List[Measure], notes: List[str],
                  repeat: int, elapsed: float) -> str:
    """The human-readable report: machine, table, ratios, targets."""
    lines = ["%-12s %s" % (key + ":", value) for key, value in machine.items()]
    lines.append("%-12s median of %d repetitions after a warm-up, interleaved" % ("timing:", repeat))
    lines.append("")
    lines.append(table_line([name for name, _, _ in COLUMNS]))
    lines.append("-" * len(lines[-1]))
    previous = None
    for measure in measures:
        workload = measure.workload if measure.workload != previous else ""
        previous = measure.workload
        for i, c in enumerate(measure.contestants):
            lines.append(table_line([workload if i == 0 else "", measure.name if i == 0 else "",
                                     c.label, "%d" % c.records, "%.3f" % c.median,
                                     "{:,.0f}".format(c.records_per_second),
                                     "%.1f" % c.mb_per_second]))
        for target in measure.targets:
            lines.append("%*s-> %s" % (37, "", target.describe()))
    lines.append("")
    lines += ["note: " + note for note in notes]
    judged = [(m, t) for m in measures for t in m.targets if t.met is not None]
    reported = [(m, t) for m in measures for t in m.targets if t.met is None]
    lines.append("")
    lines.append("targets: %d met, %d missed" % (sum(t.met for _, t in judged),
                                                 sum(not t.met for _, t in judged)))
    for measure, target in judged:
        lines.append("  %-6s %-20s %-14s %s (target %s)" % (
            "met" if target.met else "MISSED", measure.workload, measure.name,
            target.describe(verdict=False), target.goal))
    lines.append("reported, no target: %d" % len(reported))
    for measure, target in reported:
        lines.append("  %-6s %-20s %-14s %s" % ("-", measure.workload, measure.name,
                                                target.describe(verdict=False)))
    lines.append("total time: %.1f s" % elapsed)
    return "\n".join(lines)


def report_json(machine: Dict[str, str], measures: List[Measure], notes: List[str],
                repeat: int, quick: bool) -> dict:
    """Every number of the run, for tools."""
    return {
        "machine": machine,
        "quick": quick,
        "repeat": repeat,
        "notes": notes,
        "measures": [{
            "workload": m.workload,
            "measure": m.name,
            "contestants": [{
                "label": c.label, "records": c.records, "bytes": c.nbytes,
                "seconds": c.seconds, "median_seconds": c.median,
                "records_per_second": c.records_per_second,
                "mb_per_second": c.mb_per_second,
            } for c in m.contestants],
            "targets": [{
                "label": t.label, "peer": t.peer, "minimum": t.minimum,
                "value": t.value, "met": t.met,
            } for t in m.targets],
        } for m in measures],
    }


def parse_write_option(text: str) -> Dict[str, object]:
    """``NAME=VALUE[,NAME=VALUE]`` -> options; values are Python literals or text."""
    options = {}
    for item in text.split(","):
        name, _, value = item.partition("=")
        try:
            options[name.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            options[name.strip()] = value.strip()
    return options


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse the options, run every measure, print the report."""
    global lj
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller workloads (under 20 seconds)")
    parser.add_argument("--json", action="store_true",
                        help="print the results as JSON after the table")
    parser.add_argument("--repeat", type=int, default=5,
                        help="repetitions per contestant (default 5)")
    parser.add_argument("--all-modes", action="store_true",
                        help="measure every write mode on every workload (slower)")
    parser.add_argument("--module", metavar="PATH",
                        help="benchmark this logfile_journal.py instead of the repository's")
    parser.add_argument("--write-option", metavar="NAME=VALUE[,...]", action="append",
                        type=parse_write_option, default=[],
                        help="also measure writes with these constructor options")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    lj = load_module(args.module)
    started = time.perf_counter()
    machine = machine_description()

    def progress(message):
        print("... %s (%.0f s)" % (message, time.perf_counter() - started),
              file=sys.stderr, flush=True)

    measures, notes = run_all(QUICK if args.quick else FULL, args.repeat,
                              args.write_option, args.all_modes, progress)
    print(format_report(machine, measures, notes, args.repeat,
                        time.perf_counter() - started))
    if args.json:
        print(json.dumps(report_json(machine, measures, notes, args.repeat, args.quick),
                         indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
