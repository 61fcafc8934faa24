r"""logfile_journal -- read and write Wasmer journal files, byte for byte.

Wasmer records what a WASIX process does (module init, memory updates,
threads, file descriptors, sockets, snapshots, exit) into an append-only
journal file and can replay it to restore the process.  This module reads
and writes that file -- the ``LogFileJournal`` of the Rust crate
``wasmer-journal``, in the layout of every released wasmer from 4.2 to 7.x
(see LAYOUTS) -- with the standard library only.

The file is an 8-byte magic number followed by records.  Each record is an
8-byte header (big-endian u16 record type, big-endian u48 body length) and
a body: the rkyv archive of one ``JournalEntry*V1`` struct, serialized at
its absolute position in the file (alignment padding depends on it).

Write a journal:

    with LogFileJournal("app.journal") as journal:
        journal.write(CreatePipeV1(fd1=3, fd2=4))
        journal.write(SocketSendV1(fd=3, data=b"hello", flags=0, is_64bit=False))

Read it back:

    with LogFileJournal.new_readonly("app.journal") as journal:
        for entry in journal:
            print(entry)

Values use plain Python types: int, bool, bytes, str, IntEnum members,
``ipaddress`` objects for IP addresses, socket-module tuples for socket
addresses ``(host, port)`` / ``(host, port, flowinfo, scope_id)``, and int
nanoseconds for every time and duration.  Bad input raises a subclass of
:class:`JournalError` carrying the byte offset where it applies.

Sections, in the order data goes through them:

    Constants                 magic, record types, enums
    Exceptions                JournalError and its subclasses
    Supporting data types     ExitCode, WasiMemoryLayout, reports, ...
    LZ4 block format          lz4_flex-compatible compression
    Layouts                   the eras of the archive, and the registry
    Value forms               JSON and text pieces the field types use
    Archived field types      one _FieldType per kind of value
    Journal entries           one class per record type
    The archive codec         encode_entry, decode_entry, layout detection
    Reading                   iter_records, LogFileJournalRx
    Checking and repairing    check, repair, finding records past damage
    Writing                   LogFileJournalTx
    Journals                  LogFileJournal, RecombinedJournal, convert, load, open,
                              journal_stats
    JSON                      entry_to_json, entry_from_json
    wasmer's text             wasmer_text (what PrintingJournal prints)
    wasmer's tools            filtered_out (FilteredJournal), memory_image (MemFileJournal),
                              memory_pages (its map), extract_files (what mount
                              showed), compact (CompactingJournal)
    Command line              main()
"""

import base64
import binascii
import bisect
import collections.abc
import contextlib
import datetime
import enum
import errno
import functools
import heapq
import io
import ipaddress
import json
import mmap
import operator
import os
import re
import shutil
import stat
import struct
import sys
import tempfile
import threading
import time
import warnings
from array import array

try:
    import fcntl
except ImportError:          # not POSIX: no advisory locks between processes
    fcntl = None
from typing import (Any, BinaryIO, Callable, ClassVar, Dict, Iterable, Iterator, List,
                    NamedTuple, Optional, Sequence, Tuple, Union)

__all__ = [
    # constants and enums
    "JOURNAL_MAGIC_NUMBER", "JOURNAL_MAGIC_NUMBER_BYTES", "JournalEntryRecordType",
    "RECORD_HEADER_SIZE", "MAX_RECORD_SIZE", "DEFAULT_MAX_UNCOMPRESSED_SIZE",
    "Snapshot0Clockid", "Whence", "Advice", "SnapshotTrigger", "EpollCtl",
    "StreamSecurity", "Addressfamily", "Socktype", "Sockoption",
    "SocketOptTimeType", "SocketShutdownHow", "ExitCodeKind",
    "Oflags", "Fdflags", "Fdflagsext", "Fstflags", "Lookupflags", "Rights",
    # errors
    "JournalError", "InvalidMagicError", "TruncatedRecordError",
    "CorruptRecordError", "DecompressionError", "EntryValueError",
    "UnsupportedOperationError", "TornTailError", "UnknownRecordTypeError",
    "LayoutError",
    # layouts
    "Layout", "LAYOUTS", "DEFAULT_LAYOUT", "get_layout", "describe_layouts",
    # supporting types
    "ExitCode", "ThreadStartType", "WasiMemoryLayout", "MemoryRegion", "Tty",
    "EpollEventCtl", "IpCidr", "LogWriteResult", "LogWriteResults", "LogReadResult", "RecordInfo",
    "JournalStop", "JournalReport",
    # entries (the 59 classes are added where they are defined)
    "JournalEntry", "ENTRY_CLASSES",
    # codec and journals
    "encode_entry", "decode_entry", "encode_record", "iter_records",
    "lz4_compress_prepend_size", "lz4_decompress_size_prepended",
    "entry_to_json", "entry_from_json", "JSON_VARIANT_NAMES", "wasmer_text",
    "FILTER_CATEGORIES", "filter_category", "filtered_out", "memory_image",
    "MemoryPage", "memory_pages", "WASM_PAGE_SIZE",
    "extract_files", "FilesReport", "FileRefusal", "DEFAULT_MAX_FILE_SIZE", "MAX_TREE_DEPTH",
    "compact", "CompactReport", "COMPACT_RULES_VERSION",
    "LogFileJournal", "LogFileJournalTx", "LogFileJournalRx",
    "RecombinedJournal", "UnsupportedJournal", "check", "repair", "convert", "load", "open",
    "journal_stats",
    "main",
]

__version__ = "0.1.0"

# The built-in open(): this module's own open() (below) opens journals.
_open_file = open


# ---------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------

#: The 8 bytes at the start of every journal (u64, written big-endian).
JOURNAL_MAGIC_NUMBER = 0x310D6DD027362979
JOURNAL_MAGIC_NUMBER_BYTES = JOURNAL_MAGIC_NUMBER.to_bytes(8, "big")

#: Size of a record header: u16 BE record type + u48 BE body length.
RECORD_HEADER_SIZE = 8

#: Largest body length a header can express (48 bits).
MAX_RECORD_SIZE = (1 << 48) - 1

# The largest u64 (counts, offsets, times, rights bits all use it).
_U64_MAX = (1 << 64) - 1

#: Default bound on the uncompressed size an UpdateMemoryRegionV1 may claim.
DEFAULT_MAX_UNCOMPRESSED_SIZE = 1 << 30

_header_struct = struct.Struct(">HH I")           # type, size high 16, size low 32


class JournalEntryRecordType(enum.IntEnum):
    """The u16 record type in each record header (63 codes; 8 is unused).

    Types 61-64 exist only in the ``wasmer-6`` layout (see :data:`LAYOUTS`).
    """

    InitModuleV1 = 1
    ProcessExitV1 = 2
    SetThreadV1 = 3
    CloseThreadV1 = 4
    FileDescriptorSeekV1 = 5
    FileDescriptorWriteV1 = 6
    UpdateMemoryRegionV1 = 7
    SetClockTimeV1 = 9
    OpenFileDescriptorV1 = 10
    CloseFileDescriptorV1 = 11
    RenumberFileDescriptorV1 = 12
    DuplicateFileDescriptorV1 = 13
    CreateDirectoryV1 = 14
    RemoveDirectoryV1 = 15
    PathSetTimesV1 = 16
    FileDescriptorSetTimesV1 = 17
    FileDescriptorSetSizeV1 = 18
    FileDescriptorSetFlagsV1 = 19
    FileDescriptorSetRightsV1 = 20
    FileDescriptorAdviseV1 = 21
    FileDescriptorAllocateV1 = 22
    CreateHardLinkV1 = 23
    CreateSymbolicLinkV1 = 24
    UnlinkFileV1 = 25
    PathRenameV1 = 26
    ChangeDirectoryV1 = 27
    EpollCreateV1 = 28
    EpollCtlV1 = 29
    TtySetV1 = 30
    CreatePipeV1 = 31
    CreateEventV1 = 32
    PortAddAddrV1 = 33
    PortDelAddrV1 = 34
    PortAddrClearV1 = 35
    PortBridgeV1 = 36
    PortUnbridgeV1 = 37
    PortDhcpAcquireV1 = 38
    PortGatewaySetV1 = 39
    PortRouteAddV1 = 40
    PortRouteClearV1 = 41
    PortRouteDelV1 = 42
    SocketOpenV1 = 43
    SocketListenV1 = 44
    SocketBindV1 = 45
    SocketConnectedV1 = 46
    SocketAcceptedV1 = 47
    SocketJoinIpv4MulticastV1 = 48
    SocketJoinIpv6MulticastV1 = 49
    SocketLeaveIpv4MulticastV1 = 50
    SocketLeaveIpv6MulticastV1 = 51
    SocketSendFileV1 = 52
    SocketSendToV1 = 53
    SocketSendV1 = 54
    SocketSetOptFlagV1 = 55
    SocketSetOptSizeV1 = 56
    SocketSetOptTimeV1 = 57
    SocketShutdownV1 = 58
    SnapshotV1 = 59
    ClearEtherealV1 = 60
    # Record types of the rkyv 0.8 era (wasmer-journal 0.19.0 on, wasmer 6.0+).
    OpenFileDescriptorV2 = 61
    DuplicateFileDescriptorV2 = 62
    FileDescriptorSetFdFlagsV1 = 63
    SocketPairV1 = 64


class _NamedEnum(enum.IntEnum):
    """An IntEnum whose members print as their names (Python 3.11 made
    IntEnum print its value); numeric formats still give the number."""

    def __str__(self) -> str:
        return self.name

    def __format__(self, spec: str) -> str:
        return format(self.name, spec) if not spec or spec[-1] in "<>^s" \
            or spec[-1].isdigit() else int.__format__(self, spec)


# Archived enums are repr(u8).  The member values here are the variant
# *indexes*, which rkyv 0.7 stores; rkyv 0.8 stores an explicit
# ``Unknown = 255`` as 255 (the layout's field types translate).

class Snapshot0Clockid(_NamedEnum):
    """Clock of SetClockTimeV1 (archived JournalSnapshot0ClockidV1)."""
    Realtime = 0
    Monotonic = 1
    ProcessCputimeId = 2
    ThreadCputimeId = 3
    Unknown = 4


class Whence(_NamedEnum):
    """Seek origin of FileDescriptorSeekV1 (archived JournalWhenceV1)."""
    Set = 0
    Cur = 1
    End = 2
    Unknown = 3


class Advice(_NamedEnum):
    """fd_advise advice (archived JournalAdviceV1)."""
    Normal = 0
    Sequential = 1
    Random = 2
    Willneed = 3
    Dontneed = 4
    Noreuse = 5
    Unknown = 6


class SnapshotTrigger(_NamedEnum):
    """Why a snapshot was taken (archived JournalSnapshotTriggerV1).

    Member names are those of wasmer's ``SnapshotTrigger``; the archived
    names of four of them differ (Listen, Environ, Stdin, Timer), and are
    accepted as aliases.
    """
    Idle = 0
    FirstListen = 1
    FirstEnviron = 2
    FirstStdin = 3
    PeriodicInterval = 4
    Sigint = 5
    Sigalrm = 6
    Sigtstp = 7
    Sigstop = 8
    NonDeterministicCall = 9
    Bootstrap = 10           # wasmer-journal 0.1.2 on
    Transaction = 11         # wasmer-journal 0.5.0 on
    Explicit = 12            # wasmer-journal 0.19.0 on (wasmer 6.0)
    Listen = 1
    Environ = 2
    Stdin = 3
    Timer = 4


class EpollCtl(_NamedEnum):
    """epoll_ctl operation (archived JournalEpollCtlV1)."""
    Add = 0
    Mod = 1
    Del = 2
    Unknown = 3


class StreamSecurity(_NamedEnum):
    """Security of a bridged network (archived JournalStreamSecurityV1).

    ``AnyEncyption`` (sic, wasmer's spelling) is an alias of AnyEncryption.
    """
    Unencrypted = 0
    AnyEncryption = 1
    ClassicEncryption = 2
    DoubleEncryption = 3
    Unknown = 4
    AnyEncyption = 1


class Addressfamily(_NamedEnum):
    """Socket address family (archived JournalAddressfamilyV1)."""
    Unspec = 0
    Inet4 = 1
    Inet6 = 2
    Unix = 3


class Socktype(_NamedEnum):
    """Socket type (archived JournalSocktypeV1)."""
    Unknown = 0
    Stream = 1
    Dgram = 2
    Raw = 3
    Seqpacket = 4


class Sockoption(_NamedEnum):
    """Socket option (archived JournalSockoptionV1)."""
    Noop = 0
    ReusePort = 1
    ReuseAddr = 2
    NoDelay = 3
    DontRoute = 4
    OnlyV6 = 5
    Broadcast = 6
    MulticastLoopV4 = 7
    MulticastLoopV6 = 8
    Promiscuous = 9
    Listening = 10
    LastError = 11
    KeepAlive = 12
    Linger = 13
    OobInline = 14
    RecvBufSize = 15
    SendBufSize = 16
    RecvLowat = 17
    SendLowat = 18
    RecvTimeout = 19
    SendTimeout = 20
    ConnectTimeout = 21
    AcceptTimeout = 22
    Ttl = 23
    MulticastTtlV4 = 24
    Type = 25
    Proto = 26


class SocketOptTimeType(_NamedEnum):
    """Which socket timeout SocketSetOptTimeV1 sets (archived JournalTimeTypeV1)."""
    ReadTimeout = 0
    WriteTimeout = 1
    AcceptTimeout = 2
    ConnectTimeout = 3
    BindTimeout = 4
    Linger = 5


class SocketShutdownHow(_NamedEnum):
    """Direction of SocketShutdownV1 (archived JournalSocketShutdownV1)."""
    Read = 0
    Write = 1
    Both = 2


class ExitCodeKind(_NamedEnum):
    """Variant of an :class:`ExitCode` (archived JournalExitCodeV1)."""
    Errno = 0
    Other = 1


# WASI's bit sets.  Entries store them as plain ints (unknown bits kept, as
# read); these name the bits: ``Oflags.CREATE | Oflags.TRUNC``,
# ``Rights(entry.fs_rights_base)``.

class Oflags(enum.IntFlag):
    """path_open's open flags (OpenFileDescriptorV1/V2.o_flags)."""
    CREATE = 1 << 0
    DIRECTORY = 1 << 1
    EXCL = 1 << 2
    TRUNC = 1 << 3


class Fdflags(enum.IntFlag):
    """A descriptor's flags (fs_flags, FileDescriptorSetFlagsV1.flags, fd_flags)."""
    APPEND = 1 << 0
    DSYNC = 1 << 1
    NONBLOCK = 1 << 2
    RSYNC = 1 << 3
    SYNC = 1 << 4


class Fdflagsext(enum.IntFlag):
    """WASIX's extra descriptor flags (OpenFileDescriptorV2.fd_flags, FileDescriptorSetFdFlagsV1)."""
    CLOEXEC = 1 << 0


class Fstflags(enum.IntFlag):
    """Which times path_filestat_set_times / fd_filestat_set_times set (fst_flags)."""
    SET_ATIM = 1 << 0
    SET_ATIM_NOW = 1 << 1
    SET_MTIM = 1 << 2
    SET_MTIM_NOW = 1 << 3


class Lookupflags(enum.IntFlag):
    """Path lookup flags (dirflags, PathSetTimesV1.flags, CreateHardLinkV1.old_flags)."""
    SYMLINK_FOLLOW = 1 << 0


Rights = enum.IntFlag("Rights", [(name, 1 << bit) for bit, name in enumerate("""
    FD_DATASYNC FD_READ FD_SEEK FD_FDSTAT_SET_FLAGS FD_SYNC FD_TELL FD_WRITE FD_ADVISE
    FD_ALLOCATE PATH_CREATE_DIRECTORY PATH_CREATE_FILE PATH_LINK_SOURCE PATH_LINK_TARGET
    PATH_OPEN FD_READDIR PATH_READLINK PATH_RENAME_SOURCE PATH_RENAME_TARGET
    PATH_FILESTAT_GET PATH_FILESTAT_SET_SIZE PATH_FILESTAT_SET_TIMES FD_FILESTAT_GET
    FD_FILESTAT_SET_SIZE FD_FILESTAT_SET_TIMES PATH_SYMLINK PATH_REMOVE_DIRECTORY
    PATH_UNLINK_FILE POLL_FD_READWRITE SOCK_SHUTDOWN SOCK_ACCEPT SOCK_CONNECT SOCK_LISTEN
    SOCK_BIND SOCK_RECV SOCK_SEND SOCK_ADDR_LOCAL SOCK_ADDR_REMOTE SOCK_RECV_FROM
    SOCK_SEND_TO""".split())], module=__name__)
Rights.__doc__ = "A descriptor's rights (fs_rights_base, fs_rights_inheriting): 39 bits."


# ---------------------------------------------------------------------------
# Exceptions
# ---------------------------------------------------------------------------

class JournalError(Exception):
    """Base class of every error this module raises about a journal.

    ``offset`` is the byte offset in the file (or buffer) where the problem
    is -- for a record, the offset of its header -- or None.
    """

    def __init__(self, message: str, offset: Optional[int] = None) -> None:
        self.message = message
        self.offset = offset
        if offset is not None:
            message = "%s (at offset %d)" % (message, offset)
        super().__init__(message)

    def __reduce__(self):
        return (type(self), (self.message, self.offset))


class InvalidMagicError(JournalError):
    """The file does not start with JOURNAL_MAGIC_NUMBER_BYTES."""


class TruncatedRecordError(JournalError):
    """A record header or body runs past the end of the file."""


class CorruptRecordError(JournalError):
    """A record body does not hold a valid archive of its record type.

    ``field`` names the archived field at fault, when one is.
    """

    def __init__(self, message: str, offset: Optional[int] = None,
                 field: Optional[str] = None) -> None:
        self.field = field
        if field is not None:
            message = "%s: %s" % (field, message)
        super().__init__(message, offset)

    def __reduce__(self):
        return (CorruptRecordError._rebuild,
                (type(self), self.message, self.offset, self.field))

    @staticmethod
    def _rebuild(cls, message, offset, field):
        error = cls.__new__(cls)
        JournalError.__init__(error, message, offset)
        error.field = field
        return error


class DecompressionError(CorruptRecordError):
    """An LZ4 block is malformed, or claims more than the allowed size."""


class EntryValueError(JournalError, ValueError):
    """An entry field was given a value its archived type cannot hold."""


class LayoutError(JournalError, ValueError):
    """A journal is in another layout than the one asked for."""


class UnsupportedOperationError(JournalError):
    """The journal does not support this operation (e.g. writing to a buffer)."""


class TornTailError(JournalError):
    """The journal ends in a torn tail and ``on_torn_tail="error"`` was asked.

    ``report`` is the JournalReport that found it.
    """

    def __init__(self, message: str, offset: Optional[int] = None, report=None) -> None:
        super().__init__(message, offset)
        self.report = report


class UnknownRecordTypeError(JournalError):
    """A well-formed record of a type this module does not know stops the
    journal: records appended after it would be unreachable."""


# ---------------------------------------------------------------------------
# Supporting data types
# ---------------------------------------------------------------------------

class ExitCode(NamedTuple):
    """Exit status of a process or thread: a WASI errno or another code.

    Build one with ``ExitCode.errno(n)`` (u16) or ``ExitCode.other(n)`` (i32).
    """
    kind: ExitCodeKind
    value: int

    @classmethod
    def errno(cls, value: int) -> "ExitCode":
        """An exit caused by the WASI errno ``value``."""
        return cls(ExitCodeKind.Errno, value)

    @classmethod
    def other(cls, value: int) -> "ExitCode":
        """An exit with the status ``value`` (e.g. the argument of exit())."""
        return cls(ExitCodeKind.Other, value)


class ThreadStartType(NamedTuple):
    """How a thread started: the main thread, or spawned at ``start_ptr``.

    ``start_ptr`` is None for the main thread.
    """
    start_ptr: Optional[int] = None

    @classmethod
    def main_thread(cls) -> "ThreadStartType":
        """The process's main thread."""
        return cls(None)

    @classmethod
    def thread_spawn(cls, start_ptr: int) -> "ThreadStartType":
        """A thread spawned with the start argument at ``start_ptr``."""
        return cls(start_ptr)

    @property
    def is_main_thread(self) -> bool:
        """True for the main thread."""
        return self.start_ptr is None


class WasiMemoryLayout(NamedTuple):
    """Stack layout of a thread (SetThreadV1)."""
    stack_upper: int
    stack_lower: int
    guard_size: int
    stack_size: int


class MemoryRegion(NamedTuple):
    """A range ``start..end`` of linear memory (Rust ``Range<u64>``)."""
    start: int
    end: int


class Tty(NamedTuple):
    """Terminal state recorded by TtySetV1."""
    cols: int
    rows: int
    width: int
    height: int
    stdin_tty: bool
    stdout_tty: bool
    stderr_tty: bool
    echo: bool
    line_buffered: bool


class EpollEventCtl(NamedTuple):
    """The event registered by EpollCtlV1."""
    events: int
    ptr: int
    fd: int
    data1: int
    data2: int


class IpCidr(NamedTuple):
    """An IP address with a prefix length (host bits are kept as given)."""
    ip: Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
    prefix: int


class LogWriteResult(NamedTuple):
    """Where a written record's body landed: ``record_start..record_end``."""
    record_start: int
    record_end: int

    @property
    def record_size(self) -> int:
        """Length of the record body in bytes."""
        return self.record_end - self.record_start


class LogWriteResults(collections.abc.Sequence):
    """The LogWriteResult of each record one ``write_many`` call wrote, in
    order: a read-only sequence, made on access (building a tuple per
    record would cost the writer as much as encoding it).  It compares
    equal to a list or tuple of the same results, and ``+`` makes a list.
    """

    __slots__ = ("_first", "_ends")

    def __init__(self, first: int, ends: List[int]) -> None:
        self._first = first             # the first record's header offset
        self._ends = ends               # where each record's body ends

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self._ends)))]
        end = self._ends[index]
        index = operator.index(index) % len(self._ends)
        start = self._ends[index - 1] if index else self._first
        return _new_tuple(LogWriteResult, (start + RECORD_HEADER_SIZE, end))

    def __iter__(self):
        start = self._first
        for end in self._ends:
            yield _new_tuple(LogWriteResult, (start + RECORD_HEADER_SIZE, end))
            start = end

    def __eq__(self, other):
        if isinstance(other, (list, tuple, LogWriteResults)):
            return len(self) == len(other) and all(map(operator.eq, self, other))
        return NotImplemented

    __hash__ = None

    def __add__(self, other):
        if isinstance(other, (list, LogWriteResults)):
            return list(self) + list(other)
        return NotImplemented

    def __radd__(self, other):
        if isinstance(other, list):
            return other + list(self)
        return NotImplemented

    def __repr__(self):
        return repr(list(self))


class LogReadResult(NamedTuple):
    """A record read from a journal: its body offsets and its entry."""
    record_start: int
    record_end: int
    record: "JournalEntry"

    def into_inner(self) -> "JournalEntry":
        """The entry alone."""
        return self.record

    @property
    def header_offset(self) -> int:
        """Where the record's header starts (what inspect shows)."""
        return self.record_start - RECORD_HEADER_SIZE


class RecordInfo(NamedTuple):
    """A record located by a header scan, without decoding its body.

    ``record_type`` is the raw u16 (a JournalEntryRecordType for known
    types); ``segment_start`` is the offset of the magic number the record
    follows (0, or later in a concatenated journal).
    """
    header_offset: int
    record_type: int
    record_start: int
    record_end: int
    segment_start: int

    @property
    def record_size(self) -> int:
        """Length of the record body in bytes."""
        return self.record_end - self.record_start


class JournalStop(NamedTuple):
    """Why reading stopped before the end of the data.

    ``reason`` is one of:

    * ``"unknown-record-type"`` -- a header with a record type this module
      does not know (``record_type``); wasmer stops here too.  A zero header
      (a crash before the header was patched) is reported this way.
    * ``"truncated-header"`` -- fewer than 8 bytes remain after the last record.
    * ``"truncated-body"`` -- the last header claims more bytes than remain.

    ``offset`` is where the stopping header starts.
    """
    reason: str
    offset: int
    record_type: Optional[int] = None


class JournalReport(NamedTuple):
    """What check() found in a journal (and what repair() did).

    ``status`` is one of:

    * ``"ok"`` -- every byte belongs to a valid record;
    * ``"torn-tail"`` -- the journal ends in an incomplete last record (a
      crash during a write); ``end`` is where it starts and ``tail`` says
      why it is unreadable.  repair() cuts it off, keeping a copy.
    * ``"unknown-record-type"`` -- a well-formed record of a type this
      module does not know (a newer format?) stops the journal at ``end``;
    * ``"corrupt"`` -- an unreadable record is followed by valid ones:
      ``errors`` lists the bad records, ``unreachable_records`` counts the
      valid records found after the point where reading stops;
    * ``"invalid-magic"`` -- not a journal;
    * ``"non-canonical"`` (``check(strict=True)`` only) -- every record is
      valid, but the bodies at ``noncanonical`` (header offsets) hold bytes
      wasmer would not write (nonzero padding, bytes in an unused Option or
      address, a body on a field-less record): rewriting them changes them.

    ``records`` counts the valid records, ``size`` is the length of the
    data and ``saved_to`` names the copy of the bytes repair() cut off.
    """
    status: str
    size: int
    records: int
    end: int
    tail: Optional[str] = None
    errors: Tuple[JournalError, ...] = ()
    unreachable_records: int = 0
    saved_to: Optional[str] = None
    noncanonical: Tuple[int, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the journal has no problem at all."""
        return self.status == "ok"

    def __bool__(self) -> bool:
        """``bool(report)`` is ``report.ok`` (a tuple would always be true)."""
        return self.status == "ok"

    def describe(self) -> str:
        """One line of text for people."""
        text = "%s: %d records, %d bytes" % (self.status, self.records, self.size)
        if self.status == "torn-tail":
            text += "; torn tail (%s) of %d bytes at offset %d" % (
                self.tail, self.size - self.end, self.end)
        elif self.status == "unknown-record-type":
            text += "; reading stops at offset %d (%s)" % (self.end, self.tail)
        if self.errors:
            text += "; first error: %s" % self.errors[0]
        if self.unreachable_records:
            text += "; %d valid records after offset %d are unreachable" % (
                self.unreachable_records, self.end)
        if self.saved_to:
            text += "; the cut bytes were saved to %s" % self.saved_to
        if self.noncanonical:
            text += "; %d %s not as wasmer writes %s (first at offset %d)" % (
                len(self.noncanonical), "record is" if len(self.noncanonical) == 1
                else "records are", "it" if len(self.noncanonical) == 1 else "them",
                self.noncanonical[0])
        return text


# ---------------------------------------------------------------------------
# LZ4 block format (lz4_flex 0.11 compatible)
# ---------------------------------------------------------------------------
#
# UpdateMemoryRegionV1 stores memory as lz4_flex ``compress_prepend_size``
# output: the uncompressed length (u32 LE), then one LZ4 block.  The
# compressor below reproduces lz4_flex 0.11's output byte for byte; the
# decompressor accepts any valid LZ4 block and checks every length before
# copying, so it never produces more than the declared size.

_LZ4_MIN_MATCH = 4
_LZ4_MFLIMIT = 12              # the last match must start >= 12 bytes before end
_LZ4_END_OFFSET = 6            # lz4_flex stops matches 6 bytes before the end
_LZ4_MAX_DISTANCE = 0xFFFF
_LZ4_SKIP_SHIFT = 5            # lz4_flex INCREASE_STEPSIZE_BITSHIFT
_LZ4_PRIME4 = 2654435761       # hash of 4 bytes (inputs < 65535 bytes)
_LZ4_PRIME5 = 889523592379     # hash of 5 bytes (larger inputs)
_LZ4_FF_RUN = re.compile(b"\xff*")
_LZ4_SIZE = struct.Struct("<I")
class _LZ4Table(dict):
    """lz4_flex's 4096-entry hash table, all of whose entries start as
    ``missing``: filled as hashes come up, so a small input does not pay
    for 4096 entries (that was the fixed cost of every call)."""

    __slots__ = ("missing",)

    def __init__(self, missing):
        super().__init__()
        self.missing = missing

    def __missing__(self, key):
        return self.missing
# Inputs up to this size compress with every position hashed up front
# (_lz4_compress_small): 2-5x faster on text, where most positions are
# probed; larger ones (and repetitive ones, see _lz4_repetitive) are probed
# sparsely enough that hashing on demand wins.
_LZ4_SMALL_INPUT = 8192
# The 12-bit mask of each 64-bit lane, for _lz4_keys_small (one int for
# every size: ``&`` with a shorter int costs only that one's length).
_LZ4_HASH_LANES = int.from_bytes(b"\xff\x0f\x00\x00\x00\x00\x00\x00" * (_LZ4_SMALL_INPUT - 3),
                                 "little")
# 32 lanes of 128 bits: 12-bit hash field (shifted), low 32 bits.
_LZ4_LANE_MASK = sum(0xFFF << 128 * i for i in range(32))
_LZ4_LANE_U32 = sum(0xFFFFFFFF << 128 * i for i in range(32))
# Low 64-bit halves of the lanes in a native-order cast("Q") view.
_LZ4_LOW_LANES = slice(None, None, 2 if sys.byteorder == "little" else -2)


class _LZ4Error(ValueError):
    """Malformed LZ4 data; ``position``: offending offset in the block."""

    def __init__(self, message, position=None):
        self.message = message
        if position is not None:
            message = "%s (at byte %d)" % (message, position)
        super().__init__(message)
        self.position = position


def _as_bytes(data):
    """Return ``data`` (bytes-like) as an immutable ``bytes`` object."""
    return data if type(data) is bytes else bytes(data)


def _lz4_length_bytes(n):
    """Encode the extension of a length field (value already minus 15)."""
    return b"\xff" * (n // 255) + bytes((n % 255,))


def _lz4_word_views(src):
    """Four sequences giving the little-endian u32 at p as v[p & 3][p >> 2]."""
    views = []
    for a in range(4):
        end = a + (len(src) - a) // 4 * 4
        if sys.byteorder == "little":
            views.append(memoryview(src)[a:end].cast("I"))
        else:
            words = array("I", src[a:end])
            words.byteswap()
            views.append(words)
    return views


def _lz4_common_prefix(s, a, b, limit):
    """Length of the common prefix of s[a:a+limit] and s[b:b+limit]."""
    lo, size = 0, 64
    while True:
        hi = lo + size if lo + size < limit else limit
        x = (int.from_bytes(s[a + lo:a + hi], "little")
             ^ int.from_bytes(s[b + lo:b + hi], "little"))
        if x:
            return lo + (((x & -x).bit_length() - 1) >> 3)
        if hi == limit:
            return limit
        lo, size = hi, size << 1


def _lz4_common_suffix(s, a, b, limit):
    """Length of the common suffix of s[a-limit:a] and s[b-limit:b]."""
    lo, size = 0, 8
    while True:
        hi = min(lo + size, limit)
        x = (int.from_bytes(s[a - hi:a - lo], "big")
             ^ int.from_bytes(s[b - hi:b - lo], "big"))
        if x:
            return lo + (((x & -x).bit_length() - 1) >> 3)
        if hi == limit:
            return limit
        lo, size = hi, size << 1


def _lz4_sequence(out: bytearray, src: bytes, lit: int, p: int, distance: int,
                  mlen: int) -> None:
    """Append one sequence: the literals src[lit:p], then a match of
    ``mlen`` + 4 bytes ``distance`` back."""
    lit_len = p - lit
    if lit_len < 15:
        out.append(lit_len << 4 | (mlen if mlen < 15 else 15))
        if lit_len:
            out += src[lit:p]
    else:
        out.append(0xF0 | (mlen if mlen < 15 else 15))
        out += _lz4_length_bytes(lit_len - 15)
        out += src[lit:p]
    out.append(distance & 255)
    out.append(distance >> 8)
    if mlen >= 15:
        if mlen < 270:
            out.append(mlen - 15)
        else:
            out += _lz4_length_bytes(mlen - 15)


def _lz4_last_literals(out: bytearray, src: bytes, lit: int) -> None:
    """Append the last sequence: the literals from ``lit`` on, no match."""
    lit_len = len(src) - lit
    if lit_len < 15:
        out.append(lit_len << 4)
    else:
        out.append(0xF0)
        out += _lz4_length_bytes(lit_len - 15)
    out += src[lit:]


def _lz4_compress_block(data):
    """Compress ``data`` into a raw LZ4 block (no size prefix).

    Emulates ``lz4_flex::block::compress`` exactly: a 4096-entry hash table
    (4-byte hash for inputs shorter than 65535 bytes, 5-byte hash otherwise),
    skip acceleration after 32 misses, backward match extension, matches
    ending 6 bytes before the end and none starting in the last 12 bytes.
    (Inputs of 4 GiB or more would differ: lz4_flex truncates positions to
    32 bits there.)
    """
    src = _as_bytes(data)
    n = len(src)
    if _LZ4_MFLIMIT < n <= _LZ4_SMALL_INPUT and not _lz4_repetitive(src, n):
        return _lz4_compress_small(src, n)
    out = bytearray()
    lit = 0
    if n > _LZ4_MFLIMIT:
        words = _lz4_word_views(src)
        # Hash of the 4 (or 5) bytes at p: the 5th byte cannot change the
        # 4-byte hash, which only keeps bits 20..31 of the product.
        prime, shift = (_LZ4_PRIME4, 20) if n < 0xFFFF else (_LZ4_PRIME5, 28)
        end_check = n - _LZ4_MFLIMIT          # last position a match may start
        limit = n - _LZ4_END_OFFSET           # matches end before this position
        # Table: hash -> last position, and -> the u32 found there.
        tpos = _LZ4Table(0)
        tval = _LZ4Table(words[0][0])
        last_probe = end_check + 1
        cur = 1
        while True:
            # Search; positions not probed here are never hashed.
            p = cur
            if p > end_check:
                break
            v = words[p & 3][p >> 2]
            h = ((v | src[p + 4] << 32) * prime) >> shift & 4095
            c = tpos[h]
            tpos[h] = p
            if tval[h] != v or p - c > 0xFFFF:      # 0xFFFF: _LZ4_MAX_DISTANCE
                tval[h] = v
                for p in range(cur + 1, min(cur + 8, last_probe)):
                    v = words[p & 3][p >> 2]
                    h = ((v | src[p + 4] << 32) * prime) >> shift & 4095
                    c = tpos[h]
                    tpos[h] = p
                    if tval[h] == v and p - c <= 0xFFFF:
                        break
                    tval[h] = v
                else:
                    p, c = _lz4_search_batches(src, words, tpos, tval, prime,
                                               shift, cur + 8, cur, end_check)
                    if p < 0:
                        break
            # Extend the match backwards (rarely more than a byte or two).
            if c and p > lit and src[p - 1] == src[c - 1]:
                back = _lz4_common_suffix(src, p, c, min(c, p - lit))
                p -= back
                c -= back
            # Extend it forwards from p + 4, at most up to `limit`.
            cur = p + 4
            if cur + 64 <= limit:
                x = (int.from_bytes(src[cur:cur + 64], "little")
                     ^ int.from_bytes(src[c + 4:c + 68], "little"))
                if x:
                    mlen = ((x & -x).bit_length() - 1) >> 3
                else:
                    mlen = 64 + _lz4_common_prefix(src, cur + 64, c + 68,
                                                   limit - cur - 64)
            else:
                mlen = _lz4_common_prefix(src, cur, c + 4, limit - cur)
            _lz4_sequence(out, src, lit, p, p - c, mlen)
            lit = cur = cur + mlen
            p = cur - 2
            v = words[p & 3][p >> 2]
            h = ((v | src[p + 4] << 32) * prime) >> shift & 4095
            tpos[h] = p
            tval[h] = v
    # Last sequence: literals only.
    _lz4_last_literals(out, src, lit)
    return bytes(out)


def _lz4_repetitive(src, n):
    """Whether ``src`` looks mostly like long repeats (zeros, a pattern):
    32 samples of 8 bytes, fewer than half of them distinct.  Such input is
    5-10x faster to compress without hashing every position up front (its
    matches skip most of them); below 1 KiB the test would cost more than
    it saves."""
    if n < 1024:
        return False
    step = n // 32
    return len({src[i:i + 8] for i in range(0, n - 8, step)}) < 16


def _lz4_keys_small(src, m):
    """For each position 0..m-1 of ``src``: the little-endian u32 there,
    shifted left 12 bits, with its 4-byte hash (12 bits) below.  Two keys
    are equal when their u32s are; ``key & 4095`` is the hash.  All at
    once, one 64-bit lane per position of a big int (a lane's product with
    the prime stays below 2**64, so lanes never carry into each other)."""
    lanes = bytearray(m << 3)            # u32 at p: bytes 8p..8p+3
    for j in range(4):
        lanes[j::8] = src[j:j + m]
    x = int.from_bytes(lanes, "little")
    keys = (x << 12 | (x * _LZ4_PRIME4) >> 20 & _LZ4_HASH_LANES).to_bytes(m << 3, sys.byteorder)
    return memoryview(keys).cast("Q").tolist()


def _lz4_compress_small(src, n):
    """``_lz4_compress_block`` of an input of 13 to _LZ4_SMALL_INPUT bytes.

    The same search, but with every position's u32 and hash computed up
    front (small inputs are probed almost everywhere, see _lz4_keys_small)
    and the table a list of positions.  Small inputs use the 4-byte hash
    and are shorter than the 64 KiB match distance, so no candidate is
    ever too far.
    """
    keys = _lz4_keys_small(src, n - 3)
    table = [0] * 4096
    end_check = n - 12
    limit = n - 6
    out = bytearray()
    lit = 0
    cur = 1
    while cur <= end_check:
        # Probe cur, cur + 1, ... with the step growing every 32 probes.
        p = cur
        step = 1
        group_end = cur + 32
        stop = group_end if group_end <= end_check else end_check + 1
        while True:
            k = keys[p]
            c = table[k & 4095]
            table[k & 4095] = p
            if keys[c] == k:
                break
            p += 1
            if p == stop:
                break
        if p == group_end and p <= end_check:
            # 32 misses: the step grows; test each group of 32 probes at once.
            while True:
                step += 1
                group_end += step << 5
                stop = group_end if group_end <= end_check else end_check + 1
                ks = keys[p:stop:step]
                kset = set(ks)
                if len(kset) == len(ks) and kset.isdisjoint(
                        [keys[table[k & 4095]] for k in ks]):
                    for q in range(p, stop, step):
                        table[keys[q] & 4095] = q
                    p = group_end
                    if p > end_check:
                        break
                    continue
                for q in range(p, stop, step):
                    k = keys[q]
                    c = table[k & 4095]
                    table[k & 4095] = q
                    if keys[c] == k:
                        break
                else:
                    p = group_end
                    if p > end_check:
                        break
                    continue
                p = q
                break
        if p > end_check:
            break
        if c and p > lit and src[p - 1] == src[c - 1]:
            back = 1
            while back < c and p - back > lit and src[p - 1 - back] == src[c - 1 - back]:
                back += 1
            p -= back
            c -= back
        # Extend forwards from p + 4 up to ``limit``: a key (4 bytes) at a time,
        # then bytewise; past 16 bytes in blocks.
        cur = p + 4
        d = p - c
        end = cur
        while end + 4 <= limit and keys[end] == keys[end - d]:
            end += 4
            if end - cur == 16:             # a long match: compare growing blocks
                end += _lz4_common_prefix(src, end, end - d, limit - end)
                break
        else:
            while end < limit and src[end] == src[end - d]:
                end += 1
        mlen = end - cur
        if p - lit < 15 and mlen < 15:         # _lz4_sequence's usual case, inline
            out.append((p - lit) << 4 | mlen)
            out += src[lit:p]
            out.append(d & 255)
            out.append(d >> 8)
        else:
            _lz4_sequence(out, src, lit, p, d, mlen)
        lit = cur = end
        table[keys[cur - 2] & 4095] = cur - 2
    _lz4_last_literals(out, src, lit)
    return bytes(out)


def _lz4_search_batches(src, words, tpos, tval, prime, shift, p, cur, end_check):
    """Continue a match search at ``p`` (the search began at ``cur``).

    Probes come in groups of 32 with step 1, 2, 3, ...  A whole group is
    hashed at once with big-integer arithmetic on 128-bit lanes, each lane
    holding the 5 bytes at one probe.  When no probe of the group can match
    (no repeated 4-byte value, none equal to its table entry's) the table is
    updated in bulk.  Returns (position, candidate) of the first match, or
    (-1, -1) when the search reaches ``end_check``.
    """
    step = 1
    group_end = cur + (1 << _LZ4_SKIP_SHIFT)
    hash_mask = _LZ4_LANE_MASK << shift
    while p <= end_check:
        ps = range(p, min(group_end, end_check + 1), step)
        size = len(ps) << 4
        lanes = bytearray(size)
        for j in range(5):
            lanes[j::16] = src[p + j:p + j + step * len(ps):step]
        x = int.from_bytes(lanes, "little")
        hs = memoryview(((x * prime & hash_mask) >> shift).to_bytes(
            size, sys.byteorder)).cast("Q")[_LZ4_LOW_LANES].tolist()
        vs = memoryview((x & _LZ4_LANE_U32).to_bytes(
            size, sys.byteorder)).cast("Q")[_LZ4_LOW_LANES].tolist()
        vset = set(vs)
        if len(vset) == len(vs) and vset.isdisjoint(map(tval.__getitem__, hs)):
            tpos.update(zip(hs, ps))
            tval.update(zip(hs, vs))
        else:
            for q, h, v in zip(ps, hs, vs):
                c = tpos[h]
                tpos[h] = q
                if tval[h] == v and q - c <= _LZ4_MAX_DISTANCE:
                    return q, c
                tval[h] = v
        p = group_end
        step += 1
        group_end += step << _LZ4_SKIP_SHIFT
    return -1, -1


def _lz4_decompress_block(block, uncompressed_size):
    """Decompress a raw LZ4 block into exactly ``uncompressed_size`` bytes.

    Raises ``_LZ4Error`` for any malformed block: truncation, offset 0 or
    pointing before the start of the output, output longer or shorter than
    ``uncompressed_size``, or data after the final literals-only sequence.
    Lengths are checked before anything is copied, so the output never
    grows past ``uncompressed_size``.
    """
    src = _as_bytes(block)
    size = operator.index(uncompressed_size)
    if size < 0:
        raise _LZ4Error("negative uncompressed size")
    n = len(src)
    out = bytearray()
    ff_run = _LZ4_FF_RUN.match
    ip = pos = 0
    while ip < n:
        token = src[ip]
        ip += 1
        lit_len = token >> 4
        if lit_len:
            if lit_len == 15:
                j = ff_run(src, ip).end()
                if j >= n:
                    raise _LZ4Error("truncated literal length", n)
                lit_len += 255 * (j - ip) + src[j]
                ip = j + 1
            end = ip + lit_len
            if end > n:
                raise _LZ4Error("literals run past the end of the block", ip)
            pos += lit_len
            if pos > size:
                raise _LZ4Error("literals exceed the uncompressed size", ip)
            out += src[ip:end]
            ip = end
        if ip >= n:                             # final literals-only sequence
            if pos != size:
                raise _LZ4Error("block decodes to %d bytes, expected %d"
                                % (pos, size), ip)
            return bytes(out)
        if ip + 2 > n:
            raise _LZ4Error("truncated match offset", ip)
        offset = src[ip] | src[ip + 1] << 8
        if not 0 < offset <= pos:
            raise _LZ4Error("invalid match offset %d at output position %d"
                            % (offset, pos), ip)
        ip += 2
        mlen = (token & 15) + _LZ4_MIN_MATCH
        if mlen == 15 + _LZ4_MIN_MATCH:
            j = ff_run(src, ip).end()
            if j >= n:
                raise _LZ4Error("truncated match length", n)
            mlen += 255 * (j - ip) + src[j]
            ip = j + 1
        start = pos - offset
        pos += mlen
        if pos > size:
            raise _LZ4Error("match exceeds the uncompressed size", ip - 1)
        if mlen <= offset:
            out += out[start:start + mlen]
        else:                                   # overlapping: repeat pattern
            out += (out[start:] * (mlen // offset + 1))[:mlen]
    raise _LZ4Error("truncated block: expected a token", ip)


# Each byte of an LZ4 block yields at most 255 bytes of output (a match
# length extension byte), which bounds what a block can honestly claim.
_LZ4_MAX_EXPANSION = 255


def _lz4_literals_token(n: int) -> bytes:
    """The token (and length bytes) of an LZ4 block holding ``n`` bytes as
    literals only: one sequence, no match (what lz4_flex makes of inputs
    of 12 bytes or fewer)."""
    return bytes((n << 4,)) if n < 15 else b"\xf0" + _lz4_length_bytes(n - 15)


def lz4_compress_prepend_size(data, *, literals_only: bool = False) -> bytes:
    """``lz4_flex::block::compress_prepend_size``: the length of ``data``
    as a little-endian u32, then its LZ4 block (identical to lz4_flex's).

    ``literals_only=True`` makes a block of ``data``'s bytes as they are,
    at copying speed: valid LZ4 that every decoder (lz4_flex's, so
    wasmer's import) restores to ``data``, but neither lz4_flex's bytes
    (except for inputs it finds nothing to compress in) nor smaller than
    ``data``.
    """
    src = _as_bytes(data)
    if len(src) > 0xFFFFFFFF:
        raise EntryValueError("inputs of 4 GiB or more cannot be size-prefixed")
    if literals_only:
        return b"".join((_LZ4_SIZE.pack(len(src)), _lz4_literals_token(len(src)), src))
    return _LZ4_SIZE.pack(len(src)) + _lz4_compress_block(src)


def _lz4_decompress_prepended(buf, max_size):
    src = _as_bytes(buf)
    if len(src) < 4:
        raise _LZ4Error("missing the 4-byte size prefix", 0)
    size = _LZ4_SIZE.unpack_from(src)[0]
    if size > max_size:
        raise _LZ4Error("declared size %d exceeds the limit %d" % (size, max_size), 0)
    if size > (len(src) - 4) * _LZ4_MAX_EXPANSION + 15:
        raise _LZ4Error("declared size %d is more than %d bytes of LZ4 can hold"
                        % (size, len(src) - 4), 0)
    try:
        return _lz4_decompress_block(src[4:], size)
    except _LZ4Error as exc:     # count positions from the start of buf
        raise _LZ4Error(exc.message, None if exc.position is None else exc.position + 4) \
            from None


def lz4_decompress_size_prepended(buf, max_size: int = DEFAULT_MAX_UNCOMPRESSED_SIZE) -> bytes:
    """Inverse of lz4_compress_prepend_size, for any valid LZ4 block.

    A declared size above ``max_size`` (or above what the block could
    expand to) is refused before anything is allocated.  Raises
    DecompressionError, whose offset is the position in ``buf``.
    """
    try:
        return _lz4_decompress_prepended(buf, max_size)
    except _LZ4Error as exc:
        raise DecompressionError(exc.message, exc.position) from None


# ---------------------------------------------------------------------------
# Layouts: the eras of the archived format
# ---------------------------------------------------------------------------
#
# Every published wasmer-journal release frames records the same way, but
# the archived bodies come in four eras.  What tells them apart in a file:
#
#   InitModuleV1.wasm_hash  [u8; 8] inline (wasmer-4.2), else a Box<[u8]>
#                           (relative pointer + length, 8 or 32 bytes)
#   Unknown clock id, whence, advice
#                           stored as the variant index (rkyv 0.7) or as
#                           the explicit discriminant 255 (rkyv 0.8)
#   SnapshotV1 triggers     Transaction = 11 from wasmer-4.3's 0.5.0 on,
#                           Explicit = 12 in wasmer-6 only
#   record types 61-64      wasmer-6 only
#
# Where a file holds none of these, every layout reads it the same way and
# writes the same bytes: such a file is "compatible with" all of them.

class Layout:
    """One era of the archived record format, as published wasmer writes it.

    name          -- what ``layout=`` takes and ``journal.layout`` gives
    releases      -- the wasmer-journal (wasmer) releases that write it
    rkyv          -- "0.7" or "0.8"
    boxed_hash    -- InitModuleV1.wasm_hash is a Box<[u8]> (else [u8; 8])
    record_types  -- the record types it holds
    triggers      -- the SnapshotTrigger values it holds
    json_release  -- the wasmer-journal release whose JSON the layout's JSON
                     is (its newest final one), as a tuple: field types and
                     entry classes say which release changed their JSON form
    """

    __slots__ = ("name", "releases", "rkyv", "boxed_hash", "record_types",
                 "triggers", "json_release", "rank", "_codecs", "_by_code", "_types")

    def __init__(self, name, releases, rkyv, boxed_hash, last_type, last_trigger,
                 json_release, rank):
        self.name = name
        self.releases = releases
        self.rkyv = rkyv
        self.boxed_hash = boxed_hash
        self.record_types = frozenset(t for t in JournalEntryRecordType if t <= last_type)
        self.triggers = frozenset(range(last_trigger + 1))
        self.json_release = json_release
        self.rank = rank                 # order of the eras, oldest first
        self._codecs = {}                # entry class -> _Codec (see the codec)
        self._by_code = []               # raw record type -> _Codec or None
        self._types = []                 # raw record type -> JournalEntryRecordType or None

    def __repr__(self):
        return "<Layout %s: %s>" % (self.name, self.releases)

    def __str__(self):
        return self.name

    def __reduce__(self):
        return (get_layout, (self.name,))


_LAYOUTS: Dict[str, Layout] = {layout.name: layout for layout in (
    Layout("wasmer-4.2", "wasmer-journal 0.1.1 (wasmer 4.2.8) and lib/journal of "
           "February 2024", "0.7", False, 60, 9, (0, 1, 1), 0),
    Layout("wasmer-4.3", "wasmer-journal 0.2.0-0.10.0 (wasmer 4.3.0-4.4.0)",
           "0.7", True, 60, 11, (0, 10, 0), 1),
    Layout("wasmer-5", "wasmer-journal 0.11.0-0.18.0 (wasmer 5.0.0-rc.1-5.0.5)",
           "0.8", True, 60, 11, (0, 17, 0), 2),
    Layout("wasmer-6", "wasmer-journal 0.19.0-0.705.0 (wasmer 6.0-7.5)",
           "0.8", True, 64, 12, (0, 705, 0), 3),
)}

#: The names of the layouts, oldest first.
LAYOUTS: Tuple[str, ...] = tuple(_LAYOUTS)

#: What a new journal is written in unless ``layout=`` says otherwise: the
#: era of the seed's log_file.rs (wasmer-journal 0.5.0-0.7.0).
DEFAULT_LAYOUT = "wasmer-4.3"

# Other names users know the eras by.
_LAYOUT_ALIASES = {"2024-02": "wasmer-4.2", "rkyv-0.7": "wasmer-4.3",
                   "rkyv-0.8": "wasmer-6", "latest": "wasmer-6",
                   "wasmer-7": "wasmer-6", "seed": DEFAULT_LAYOUT}


def get_layout(layout: Union[str, Layout, None] = None) -> Layout:
    """The Layout named ``layout`` (a name from LAYOUTS or an alias such as
    ``"rkyv-0.7"``, ``"rkyv-0.8"``, ``"latest"``); None gives DEFAULT_LAYOUT."""
    if isinstance(layout, Layout):
        return layout
    if layout is None:
        layout = DEFAULT_LAYOUT
    found = _LAYOUTS.get(_LAYOUT_ALIASES.get(layout, layout))
    if found is None:
        raise ValueError("unknown layout %r (expected one of %s)"
                         % (layout, ", ".join(LAYOUTS + tuple(_LAYOUT_ALIASES))))
    return found


_ALL_LAYOUTS = frozenset(_LAYOUTS.values())


def describe_layouts(layouts: Sequence[str], segments: Sequence = ()) -> str:
    """One line saying which layouts a journal fits (its ``layouts``; with
    ``segments``, its ``segment_layouts``, for a journal that fits none)."""
    if len(layouts) == 1:
        return "%s (%s)" % (layouts[0], _LAYOUTS[layouts[0]].releases)
    if layouts:
        return "compatible with %s (nothing in the file tells them apart)" % ", ".join(layouts)
    return "mixed: " + "; ".join("%s at offset %d" % ("/".join(names), offset)
                                 for offset, names in segments)


def _newest(layouts) -> Layout:
    return max(layouts, key=operator.attrgetter("rank"))


# ---------------------------------------------------------------------------
# Value forms: the JSON and text of archived values
# ---------------------------------------------------------------------------
#
# ``wasmer journal export`` prints each entry as serde_json writes
# ``JournalEntry``: externally tagged with snake_case variant names, field
# names as in Rust, byte vectors as standard base64 of lz4_flex
# ``compress_prepend_size`` output, flags as ``{"bits": n}``, addresses as
# their Rust Display text.  Values that form cannot hold (an IPv6 flowinfo,
# an enum value wasmer has no name for) are written in an extended form
# that entry_from_json reads back exactly and wasmer's import rejects,
# rather than silently changed.  These are the pieces the field types
# below are made of; each field type names its own.

# wasix Errno names, by errno value (ExitCode::Errno).
_ERRNO_NAMES = """
    Success Toobig Access Addrinuse Addrnotavail Afnosupport Again Already Badf Badmsg
    Busy Canceled Child Connaborted Connrefused Connreset Deadlk Destaddrreq Dom Dquot
    Exist Fault Fbig Hostunreach Idrm Ilseq Inprogress Intr Inval Io Isconn Isdir Loop
    Mfile Mlink Msgsize Multihop Nametoolong Netdown Netreset Netunreach Nfile Nobufs
    Nodev Noent Noexec Nolck Nolink Nomem Nomsg Noprotoopt Nospc Nosys Notconn Notdir
    Notempty Notrecoverable Notsock Notsup Notty Nxio Overflow Ownerdead Perm Pipe Proto
    Protonosupport Prototype Range Rofs Spipe Srch Stale Timedout Txtbsy Xdev Notcapable
    Shutdown Memviolation Unknown
""".split()

# wasix SockProto names, by protocol number (SocketOpenV1.pt), typos included.
_SOCKPROTO_NAMES = """
    Ip Icmp Igmp ProtoThree Ipip ProtoFive Tcp ProtoSeven Egp ProtoNine ProtoTen
    ProtoEleven Pup ProtoThirteen ProtoFourteen ProtoFifteen ProtoSixteen Udp
    ProtoEighteen ProtoNineteen ProtoTwenty ProtoTwentyone Idp ProtoTwentythree
    ProtoTwentyfour ProtoTwentyfive ProtoTwentysix ProtoTwentyseven ProtoTwentyeight
    ProtoTp ProtoThirty ProtoThirtyone ProtoThirtytwo Dccp ProtoThirtyfour
    ProtoThirtyfive ProtoThirtysix ProtoThirtyseven ProtoThirtyeight ProtoThirtynine
    ProtoFourty Ipv6 ProtoFourtytwo Routing Fragment ProtoFourtyfive Rsvp Gre
    ProtoFourtyeight ProtoFourtynine Esp Ah ProtoFiftytwo ProtoFiftythree ProtoFiftyfour
    ProtoFiftyfive ProtoFiftysix ProtoFiftyseven Icmpv6 None Dstopts ProtoSixtyone
    ProtoSixtytwo ProtoSixtythree ProtoSixtyfour ProtoSixtyfive ProtoSixtysix
    ProtoSixtyseven ProtoSixtyeight ProtoSixtynine ProtoSeventy ProtoSeventyone
    ProtoSeventytwo ProtoSeventythree ProtoSeventyfour ProtoSeventyfive ProtoSeventysix
    ProtoSeventyseven ProtoSeventyeight ProtoSeventynine ProtoEighty ProtoEightyone
    ProtoEightytwo ProtoEightythree ProtoEightyfour ProtoEightyfive ProtoEightysix
    ProtoEightyseven ProtoEightyeight ProtoEightynine ProtoNinety ProtoNinetyone Mtp
    ProtoNinetythree Beetph ProtoNinetyfive ProtoNinetysix ProtoNineetyseven Encap
    ProtoNinetynine ProtoOnehundred ProtoOnehundredandone ProtoOnehundredandtwo Pim
    ProtoOnehundredandfour ProtoOnehundredandfive ProtoOnehundredandsix
    ProtoOnehundredandseven Comp ProtoOnehundredandnine ProtoOnehundredandten
    ProtoOnehundredandeleven ProtoOnehundredandtwelve ProtoOnehundredandthirteen
    ProtoOnehundredandfourteen ProtoOnehundredandfifteen ProtoOnehundredandsixteen
    ProtoOnehundredandseventeen ProtoOnehundredandeighteen ProtoOnehundredandnineteen
    ProtoOnehundredandtwenty ProtoOnehundredandtwentyone ProtoOnehundredandtwentytwo
    ProtoOnehundredandtwentythree ProtoOnehundredandtwentyfour
    ProtoOnehundredandtwentyfive ProtoOnehundredandtwentysix
    ProtoOnehundredandtwentyseven ProtoOnehundredandtwentyeight
    ProtoOnehundredandtwentynine ProtoOnehundredandthirty ProtoOnehundredandthirtyone
    Sctp ProtoOnehundredandthirtythree ProtoOnehundredandthirtyfour Mh Udplite Mpls
    ProtoOnehundredandthirtyeight ProtoOnehundredandthirtynine ProtoOnehundredandfourty
    ProtoOnehundredandfourtyone ProtoOnehundredandfourtytwo Ethernet
    ProtoOnehundredandfourtyfour ProtoOnehundredandfourtyfive
    ProtoOnehundredandfourtysix ProtoOnehundredandfourtyseven
    ProtoOnehundredandfourtyeight ProtoOnehundredandfourtynine ProtoOnehundredandfifty
    ProtoOnehundredandfiftyone ProtoOnehundredandfiftytwo ProtoOnehundredandfiftythree
    ProtoOnehundredandfiftyfour ProtoOnehundredandfiftyfive ProtoOnehundredandfiftysix
    ProtoOnehundredandfiftyseven ProtoOnehundredandfiftyeight
    ProtoOnehundredandfiftynine ProtoOnehundredandsixty ProtoOnehundredandsixtyone
    ProtoOnehundredandsixtytwo ProtoOnehundredandsixtythree ProtoOnehundredandsixtyfour
    ProtoOnehundredandsixtyfive ProtoOnehundredandsixtysix ProtoOnehundredandsixtyseven
    ProtoOnehundredandsixtyeight ProtoOnehundredandsixtynine ProtoOnehundredandseventy
    ProtoOnehundredandseventyone ProtoOnehundredandseventytwo
    ProtoOnehundredandseventythree ProtoOnehundredandseventyfour
    ProtoOnehundredandseventyfive ProtoOnehundredandseventysix
    ProtoOnehundredandseventyseven ProtoOnehundredandseventyeight
    ProtoOnehundredandseventynine ProtoOnehundredandeighty ProtoOnehundredandeightyone
    ProtoOnehundredandeightytwo ProtoOnehundredandeightythree
    ProtoOnehundredandeightyfour ProtoOnehundredandeightyfive
    ProtoOnehundredandeightysix ProtoOnehundredandeightyseven
    ProtoOnehundredandeightyeight ProtoOnehundredandeightynine ProtoOnehundredandninety
    ProtoOnehundredandninetyone ProtoOnehundredandninetytwo
    ProtoOnehundredandninetythree ProtoOnehundredandninetyfour
    ProtoOnehundredandninetyfive ProtoOnehundredandninetysix
    ProtoOnehundredandninetyseven ProtoOnehundredandninetyeight
    ProtoOnehundredandninetynine ProtoTwohundred ProtoTwohundredandone
    ProtoTwohundredandtwo ProtoTwohundredandthree ProtoTwohundredandfour
    ProtoTwohundredandfive ProtoTwohundredandsix ProtoTwohundredandseven
    ProtoTwohundredandeight ProtoTwohundredandnine ProtoTwohundredandten
    ProtoTwohundredandeleven ProtoTwohundredandtwelve ProtoTwohundredandthirteen
    ProtoTwohundredandfourteen ProtoTwohundredandfifteen ProtoTwohundredandsixteen
    ProtoTwohundredandseventeen ProtoTwohundredandeighteen ProtoTwohundredandnineteen
    ProtoTwohundredandtwenty ProtoTwohundredandtwentyone ProtoTwohundredandtwentytwo
    ProtoTwohundredandtwentythree ProtoTwohundredandtwentyfour
    ProtoTwohundredandtwentyfive ProtoTwohundredandtwentysix
    ProtoTwohundredandtwentyseven ProtoTwohundredandtwentyeight
    ProtoTwohundredandtwentynine ProtoTwohundredandthirty ProtoTwohundredandthirtyone
    ProtoTwohundredandthirtytwo ProtoTwohundredandthirtythree
    ProtoTwohundredandthirtyfour ProtoTwohundredandthirtyfive
    ProtoTwohundredandthirtysix ProtoTwohundredandthirtyseven
    ProtoTwohundredandthirtyeight ProtoTwohundredandthirtynine ProtoTwohundredandfourty
    ProtoTwohundredandfourtyone ProtoTwohundredandfourtytwo
    ProtoTwohundredandfourtythree ProtoTwohundredandfourtyfour
    ProtoTwohundredandfourtyfive ProtoTwohundredandfourtysix
    ProtoTwohundredandfourtyseven ProtoTwohundredandfourtyeight
    ProtoTwohundredandfourtynine ProtoTwohundredandfifty ProtoTwohundredandfiftyone
    ProtoTwohundredandfiftytwo ProtoTwohundredandfiftythree ProtoTwohundredandfiftyfour
    ProtoRaw ProtoTwohundredandfiftysix ProtoTwohundredandfiftyseven
    ProtoTwohundredandfiftyeight ProtoTwohundredandfiftynine ProtoTwohundredandsixty
    ProtoTwohundredandsixtyone Mptcp Max
""".split()


class _BadJson(Exception):
    """A JSON value does not have the form its field needs."""


def _json_int(value, low, high):
    if not isinstance(value, int) or isinstance(value, bool):
        raise _BadJson("expected an integer, got %s" % json.dumps(value)[:40])
    if not low <= value <= high:
        raise _BadJson("%s is out of range" % _int_text(value))
    return value


def _json_field(obj, name, optional=False):
    if not isinstance(obj, dict):
        raise _BadJson("expected an object, got %s" % json.dumps(obj)[:40])
    if name not in obj:
        if optional:
            return None
        raise _BadJson("missing field %r" % name)
    return obj[name]


def _json_bool(value):
    if not isinstance(value, bool):
        raise _BadJson("expected true or false, got %s" % json.dumps(value)[:40])
    return value


def _json_str(value):
    if not isinstance(value, str):
        raise _BadJson("expected a string, got %s" % json.dumps(value)[:40])
    return value


def _int_json(low, high):
    return (None, lambda value, limit: _json_int(value, low, high))


def _base64_lz4(data, literals_only=False):
    return base64.b64encode(lz4_compress_prepend_size(data, literals_only=literals_only)
                            ).decode("ascii")


def _base64_decode(value):
    try:
        return base64.b64decode(_json_str(value), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _BadJson("invalid base64: %s" % exc) from None


def _bytes_from_json(value, limit):
    try:
        return _lz4_decompress_prepended(_base64_decode(value), limit)
    except _LZ4Error as exc:
        raise _BadJson("a byte field holds the base64 of lz4 compress_prepend_size output "
                       "(a u32 LE length, then an LZ4 block), and this is not one: %s"
                       % exc) from None


def _hash_from_json(value, limit):
    if not isinstance(value, list):
        raise _BadJson("expected an array of bytes (8 for XXHash, 32 for SHA-256)")
    return bytes(_json_int(item, 0, 255) for item in value)


def _kebab_case(name: str) -> str:
    return "".join("-" + c.lower() if c.isupper() and i else c.lower()
                   for i, c in enumerate(name))


# SnapshotTrigger as wasmer-config names it (wasmer-journal 0.600.0 on).
_TRIGGER_KEBAB = {member.name: _kebab_case(member.name) for member in SnapshotTrigger}


def _enum_json(enum_class, names=None, also=()):
    """(to_json, from_json) of a unit enum: member names, or ``names``
    ({member name: JSON name}); from_json also reads the names of the
    ``also`` forms (other eras')."""
    names = names or {}
    to_name = {member: names.get(member.name, member.name) for member in enum_class}
    from_name = dict(enum_class.__members__)
    for extra in (names,) + tuple(also):
        from_name.update({name: enum_class[member] for member, name in extra.items()})

    def from_json(value, limit):
        try:
            return from_name[_json_str(value)]
        except KeyError:
            raise _BadJson("unknown %s %r" % (enum_class.__name__, value)) from None

    return (to_name.__getitem__, from_json)


def _bits_from_json(high):
    def from_json(value, limit):
        if type(value) is int:                  # the bits alone, as well as {"bits": n}
            return _json_int(value, 0, high)
        return _json_int(_json_field(value, "bits"), 0, high)
    return from_json


def _named_from_json(names, high):
    index = {name: number for number, name in enumerate(names)}

    def from_json(value, limit):
        if isinstance(value, str):
            try:
                return index[value]
            except KeyError:
                raise _BadJson("unknown name %r" % value) from None
        return _json_int(value, 0, high)

    return from_json


def _named_to_json(names):
    return lambda value: names[value] if value < len(names) else value


def _exit_code_to_json(value):
    if value is None:
        return None
    if value.kind is ExitCodeKind.Errno:
        return {"Errno": _named_to_json(_ERRNO_NAMES)(value.value)}
    return {"Other": value.value}


_errno_from_json = _named_from_json(_ERRNO_NAMES, 0xFFFF)


def _exit_code_from_json(value, limit):
    if value is None:
        return None
    if type(value) is int:                  # wasmer 5 on: ExitCode(u16), read as Other
        return ExitCode.other(_json_int(value, 0, 0xFFFF))
    if isinstance(value, dict) and len(value) == 1:
        if "Errno" in value:
            return ExitCode.errno(_errno_from_json(value["Errno"], limit))
        if "Other" in value:
            return ExitCode.other(_json_int(value["Other"], -(1 << 31), (1 << 31) - 1))
    raise _BadJson('expected a number, {"Errno": name} or {"Other": n}')


def _exit_code_number_to_json(value):
    """wasmer 5 on: an ExitCode is a number.  wasmer reads Other(n) as
    n % 256 (and an Errno likewise), so only Other(0..255) come back the
    same; the rest keep their tagged form."""
    if value is not None and value.kind is ExitCodeKind.Other and 0 <= value.value <= 0xFF:
        return value.value
    return _exit_code_to_json(value)


def _thread_start_to_json(value):
    if value.start_ptr is None:
        return "main_thread"
    return {"thread_spawn": {"start_ptr": value.start_ptr}}


def _thread_start_from_json(value, limit):
    if value == "main_thread":
        return ThreadStartType.main_thread()
    spawn = _json_field(value, "thread_spawn")
    return ThreadStartType.thread_spawn(
        _json_int(_json_field(spawn, "start_ptr"), 0, _U64_MAX))


def _struct_json(cls, converters):
    def to_json(value):
        return {name: convert(item) if convert else item
                for (name, convert, _), item in zip(converters, value)}

    def from_json(value, limit):
        return cls(*(parse(_json_field(value, name), limit) for name, _, parse in converters))

    return (to_json, from_json)


def _u64_field(name):
    return (name, None, lambda value, limit: _json_int(value, 0, _U64_MAX))


def _u32_field(name):
    return (name, None, lambda value, limit: _json_int(value, 0, 0xFFFFFFFF))


def _bool_field(name):
    return (name, None, lambda value, limit: _json_bool(value))


def _ip_from_json(value, limit):
    try:
        return _check_ip(_json_str(value))
    except EntryValueError as exc:
        raise _BadJson(str(exc)) from None


def _sockaddr_to_json(value):
    if len(value) == 2:
        return "%s:%d" % value
    host, port, flowinfo, scope_id = value
    if flowinfo:
        return {"ip": host, "port": port, "flowinfo": flowinfo, "scope_id": scope_id}
    if scope_id:
        return "[%s%%%d]:%d" % (host, scope_id, port)
    return "[%s]:%d" % (host, port)


def _sockaddr_exact(value):
    """Rust's Display of a SocketAddr, which has no room for flowinfo."""
    if len(value) == 4 and value[2]:
        value = value[:2] + (0,) + value[3:]
    return _sockaddr_to_json(value)


def _decimal(text, high):
    if not (text.isascii() and text.isdigit()) or int(text) > high:
        raise _BadJson("invalid socket address syntax")
    return int(text)


def _sockaddr_from_json(value, limit):
    if isinstance(value, dict):                     # our extended form
        host = _ip_from_json(_json_field(value, "ip"), limit)
        port = _json_int(_json_field(value, "port"), 0, 0xFFFF)
        if host.version == 4:
            return (str(host), port)
        return (_ipv6_text(host), port,
                _json_int(_json_field(value, "flowinfo", True) or 0, 0, 0xFFFFFFFF),
                _json_int(_json_field(value, "scope_id", True) or 0, 0, 0xFFFFFFFF))
    text = _json_str(value)
    try:
        if text.startswith("["):
            host, _, port = text[1:].partition("]:")
            host, percent, scope = host.partition("%")
            address = ipaddress.IPv6Address(host)
            scope_id = _decimal(scope, 0xFFFFFFFF) if percent else 0
            return (_ipv6_text(address), _decimal(port, 0xFFFF), 0, scope_id)
        host, _, port = text.rpartition(":")
        return (str(ipaddress.IPv4Address(host)), _decimal(port, 0xFFFF))
    except ValueError:
        raise _BadJson("invalid socket address syntax: %r" % text) from None


def _duration_to_json(value):
    if value is None:
        return None
    secs, nanos = divmod(value, _NANOS_PER_SEC)
    return {"secs": secs, "nanos": nanos}


def _duration_from_json(value, limit):
    if value is None:
        return None
    secs = _json_int(_json_field(value, "secs"), 0, _U64_MAX)
    nanos = _json_int(_json_field(value, "nanos"), 0, 0xFFFFFFFF)
    try:
        return _duration_nanos(secs, nanos)
    except _Invalid as exc:
        raise _BadJson(str(exc)) from None


def _system_time_to_json(value):
    secs, nanos = divmod(max(value, 0), _NANOS_PER_SEC)
    return {"secs_since_epoch": secs, "nanos_since_epoch": nanos}


def _system_time_from_json(value, limit):
    secs = _json_int(_json_field(value, "secs_since_epoch"), 0, _U64_MAX)
    nanos = _json_int(_json_field(value, "nanos_since_epoch"), 0, 0xFFFFFFFF)
    return secs * _NANOS_PER_SEC + nanos


_epoll_event_json = _struct_json(EpollEventCtl, [
    ("events", lambda bits: {"bits": bits}, _bits_from_json(0xFFFFFFFF)),
    _u64_field("ptr"), _u32_field("fd"), _u32_field("data1"), _u64_field("data2")])


def _region_from_json(value, limit):
    if isinstance(value, list) and len(value) == 2:       # serde accepts [start, end]
        value = {"start": value[0], "end": value[1]}
    return MemoryRegion(_json_int(_json_field(value, "start"), 0, _U64_MAX),
                        _json_int(_json_field(value, "end"), 0, _U64_MAX))


def _optional(converter):
    to_json, from_json = converter
    return (lambda value: None if value is None else to_json(value),
            lambda value, limit: None if value is None else from_json(value, limit))


def _bits_json(high):
    return (lambda bits: {"bits": bits}, _bits_from_json(high))


# JSON that changed between releases: json_era(layout) -> changed attributes.

def _exit_code_era(layout):
    """From wasmer-journal 0.12.0 an exit code is a number (wasix ExitCode(u16))."""
    if layout.json_release >= (0, 12, 0):
        return {"to_json": _exit_code_number_to_json, "exact_json": _exit_code_mod_256}
    return None


def _memory_layout_era(layout):
    """From 0.601.0 WasiMemoryLayout has a ``tls_base`` (never archived: null)."""
    if layout.json_release < (0, 601, 0):
        return None
    to_json = MEMORY_LAYOUT.to_json
    return {"to_json": lambda value: dict(to_json(value), tls_base=None)}


# What wasmer itself prints where its reading loses something (exact_json).

def _bits_exact(known):
    """bitflags drops the bits it has no name for when wasmer reads them."""
    return lambda bits: {"bits": bits & known}


def _exit_code_mod_256(value):
    """wasmer 5 on reads an exit code as ``(n % 256) as u16`` (Rust's %)."""
    if value is None:
        return None
    number = value.value
    remainder = abs(number) % 256 * (-1 if number < 0 else 1)
    return remainder & 0xFFFF


def _ipv6_text(address: ipaddress.IPv6Address) -> str:
    """An IPv6 address as Rust's Display writes it (IPv4-mapped as dotted quad)."""
    mapped = address.ipv4_mapped
    if mapped is not None:
        return "::ffff:%s" % mapped
    return address.compressed


def _ip_text(address) -> str:
    if address.version == 6:
        return _ipv6_text(address)
    return str(address)


# Text of values, for inspect.

def _format_bytes(data, whole: bool = False) -> str:
    """``27B 474554202f204854…``: the length and the first 8 bytes in hex."""
    data = bytes(data)
    if whole:
        return data.hex()
    text = "%dB" % len(data)
    if data:
        text += " " + data[:8].hex() + ("\u2026" if len(data) > 8 else "")
    return text


def _format_time(nanos: int) -> str:
    """Nanoseconds since the Unix epoch as UTC ISO 8601 text."""
    secs, rest = divmod(nanos, 1_000_000_000)
    try:
        moment = datetime.datetime.fromtimestamp(secs, datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return str(nanos)
    return "%s.%09dZ" % (moment.strftime("%Y-%m-%dT%H:%M:%S"), rest)


def _format_sockaddr(value: tuple) -> str:
    if len(value) == 2:
        return "%s:%d" % value
    host, port, flowinfo, scope_id = value
    text = "[%s%s]:%d" % (host, "%%%d" % scope_id if scope_id else "", port)
    return text + ("(flowinfo=%d)" % flowinfo if flowinfo else "")


def _text_bool(value) -> str:
    return "true" if value else "false"


def _text_fields(*texts):
    """``(name=value,...)`` of a named tuple, each item by its own text."""
    def text(value):
        return "(%s)" % ",".join("%s=%s" % (name, to_text(item)) for name, to_text, item
                                 in zip(value._fields, texts, value))
    return text


def _text_exit_code(value) -> str:
    number = value.value
    if value.kind is ExitCodeKind.Errno and 0 <= number < len(_ERRNO_NAMES):
        number = _ERRNO_NAMES[number]
    return "%s(%s)" % (value.kind.name, number)


def _text_thread_start(value) -> str:
    return "main_thread" if value.is_main_thread else "thread_spawn(%#x)" % value.start_ptr


# ---------------------------------------------------------------------------
# Archived field types
# ---------------------------------------------------------------------------
#
# Each record body is rkyv's archive of one repr(C), align(8) struct (rkyv
# 0.7 and 0.8 lay these types out alike, but for what Layouts lists).  A
# _FieldType says how one field of such a struct is stored (its struct
# format inside the root), what Python value it holds, and its JSON and
# text.  Composite types (IpAddr, SocketAddr, Option<...>, ...) are unpacked
# as raw bytes and converted by their own precompiled Struct.

class _Invalid(Exception):
    """A field's bytes are not a valid archive (becomes CorruptRecordError)."""


class _FieldType:
    """Everything about one kind of archived value, in one place.

    fmt     -- struct format of the field inside the root struct
    decode  -- raw unpacked value -> Python value (None: used as is)
    encode  -- Python value -> raw value for struct.pack (None: as is)
    check   -- user value -> normalized Python value (raises on bad values)
    vector  -- out-of-line data (i32 offset + u32 len): "bytes", "str" or
               "lz4" (the entry holds the data uncompressed)
    align   -- alignment of that data (16 for AlignedCowVec, 1 for Box<[u8]>)
    to_json -- Python value -> the JSON wasmer's serde writes (None: as is),
               or an extended form where that would lose something
    from_json -- (JSON value, decompression limit) -> Python value, reading
               every era's form; raises _BadJson
    exact_json -- what wasmer itself prints where to_json keeps more
    text    -- Python value (not None) -> compact human text (``inspect``)

    A type whose archive or JSON form differs between layouts answers
    ``for_layout(layout)`` with the form that layout's wasmer uses:
    ``by_layout(layout)`` gives the archive form, ``json_era(layout)``
    the JSON attributes that era changes.
    """

    __slots__ = ("name", "fmt", "size", "decode", "encode", "check", "vector",
                 "align", "to_json", "from_json", "exact_json", "text",
                 "_by_layout", "_json_era", "_per_layout")

    def __init__(self, name, fmt, check, decode=None, encode=None, vector=None,
                 align=16, by_layout=None, json=(None, None), exact=None, text=str,
                 json_era=None):
        self.name = name
        self.fmt = fmt
        self.size = struct.calcsize("<" + fmt)
        self.check = check
        self.decode = decode
        self.encode = encode
        self.vector = vector
        self.align = align
        self.to_json, self.from_json = json
        self.exact_json = exact or self.to_json
        self.text = text
        self._by_layout = by_layout
        self._json_era = json_era
        self._per_layout = {}

    def for_layout(self, layout: "Layout") -> "_FieldType":
        """This type as ``layout`` archives it, with that era's JSON."""
        found = self._per_layout.get(layout)
        if found is None:
            found = self if self._by_layout is None else self._by_layout(layout)
            changes = self._json_era(layout) if self._json_era else None
            if changes:
                found = found.replace(**changes)
            self._per_layout[layout] = found
        return found

    def replace(self, **changes) -> "_FieldType":
        """A copy with some attributes changed (``exact_json`` follows a
        changed ``to_json`` unless given)."""
        copy = object.__new__(_FieldType)
        for name in self.__slots__:
            setattr(copy, name, getattr(self, name))
        if "to_json" in changes and "exact_json" not in changes \
                and self.exact_json is self.to_json:
            changes["exact_json"] = changes["to_json"]
        for name, value in changes.items():
            setattr(copy, name, value)
        copy._by_layout = copy._json_era = None
        copy._per_layout = {}
        return copy

    def __repr__(self):
        return "<field type %s>" % self.name


def _int_text(number: int) -> str:
    """An int for a message: in full, or its size when Python will not print
    it (over 4,300 digits)."""
    if number.bit_length() > 4000:
        return "an integer of %d bits" % number.bit_length()
    return "%d" % number


def _fail(message: str) -> "EntryValueError":
    return EntryValueError(message)


# A check may carry ``fast``: (template, object), a Python expression
# (``{0}`` the value, ``{1}`` the object's name) true of values it would
# return unchanged.  The generated entry constructors test it inline and
# call the check only where it is false (see _constructor_source).

def _int_checker(low: int, high: int, what: str) -> Callable[[Any], int]:
    def check(value):
        try:
            number = operator.index(value)
        except TypeError:
            raise TypeError("expected an int for %s, got %s"
                            % (what, type(value).__name__)) from None
        if not low <= number <= high:
            raise _fail("%s does not fit in %s" % (_int_text(number), what))
        return number
    check.fast = ("type({0}) is int and %d <= {0} <= %d" % (low, high), None)
    return check


def _check_bool(value):
    if value is True or value is False:
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise TypeError("expected a bool, got %r" % (value,))


_check_bool.fast = ("{0} is True or {0} is False", None)


_BOOL_VALUES = {0: False, 1: True}


def _decode_bool(raw):
    try:
        return _BOOL_VALUES[raw]
    except KeyError:
        raise _Invalid("bool byte is %d, not 0 or 1" % raw) from None


_decode_bool.accepts = frozenset(_BOOL_VALUES)      # the bytes it decodes (see _EVIDENCE)
_decode_bool.table = _BOOL_VALUES                   # (the generated decoders look up)


def _check_bytes(value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError("expected bytes, got %s" % type(value).__name__)


_check_bytes.fast = ("type({0}) is bytes", None)


def _check_str(value):
    if not isinstance(value, str):
        raise TypeError("expected a str, got %s" % type(value).__name__)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _fail("string is not encodable as UTF-8: %s" % exc) from None
    return value


_check_str.fast = ("type({0}) is str and {0}.isascii()", None)     # ASCII encodes


def _decode_utf8(raw):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Invalid("invalid UTF-8 at byte %d of the string" % exc.start) from None


def _encode_hash8(value):
    if len(value) != 8:
        raise _fail("a wasm_hash of %d bytes cannot be stored in layout wasmer-4.2 "
                    "([u8; 8]); later layouts hold any length" % len(value))
    return value


def _member_name(member) -> str:
    return member.name


def _enum_type(enum_class, explicit=None, allowed=None, json=None, exact=None,
               json_era=None):
    """The field type of a repr(u8) archived enum.

    ``explicit`` maps members to the explicit discriminant rkyv 0.8 stores
    for them (rkyv 0.7 stores every variant's index); ``allowed(layout)``
    gives the values a layout holds (default: all).  ``json`` defaults to
    the member names; ``exact`` and ``json_era`` are as for _FieldType.
    """
    json = json or _enum_json(enum_class)
    forms = dict(json=json, exact=exact, text=_member_name, json_era=json_era)

    def check(value):
        if isinstance(value, enum_class):
            return value
        if isinstance(value, str):
            try:
                return enum_class[value]
            except KeyError:
                raise _fail("%r is not a %s name" % (value, enum_class.__name__)) from None
        try:
            return enum_class(operator.index(value))
        except (TypeError, ValueError):
            raise _fail("%r is not a %s" % (value, enum_class.__name__)) from None
    check.fast = ("type({0}) is {1}", enum_class)

    def by_layout(layout):
        values = allowed(layout) if allowed else None
        stored = {}
        for member in enum_class:                   # aliases are not iterated
            if values is not None and member.value not in values:
                continue                            # not in this era
            raw = explicit.get(member.name, member.value) if (
                explicit and layout.rkyv == "0.8") else member.value
            stored[member] = raw
        members = {raw: member for member, raw in stored.items()}

        def decode(raw):
            try:
                return members[raw]
            except KeyError:
                raise _Invalid("%d is not a %s in layout %s"
                               % (raw, enum_class.__name__, layout.name)) from None
        decode.accepts = frozenset(members)
        decode.table = members                      # (the generated decoders look up)

        if len(stored) == len(enum_class) and all(
                member.value == raw for member, raw in stored.items()):
            encode = int                            # packs as it is
        else:
            def encode(member):
                try:
                    return stored[member]
                except KeyError:
                    raise EntryValueError("%s.%s cannot be stored in layout %s (%s)"
                                          % (enum_class.__name__, member.name,
                                             layout.name, layout.releases)) from None
        return _FieldType(enum_class.__name__, "B", check, decode, encode, json=json,
                          exact=exact, text=_member_name)

    return _FieldType(enum_class.__name__, "B", check, by_layout=by_layout, **forms)


U8 = _FieldType("u8", "B", _int_checker(0, 0xFF, "u8"),
                json=_int_json(0, 0xFF))
U16 = _FieldType("u16", "H", _int_checker(0, 0xFFFF, "u16"),
                 json=_int_json(0, 0xFFFF))
U32 = _FieldType("u32", "I", _int_checker(0, 0xFFFFFFFF, "u32"),
                 json=_int_json(0, 0xFFFFFFFF))
U64 = _FieldType("u64", "Q", _int_checker(0, _U64_MAX, "u64"),
                 json=_int_json(0, _U64_MAX))
I32 = _FieldType("i32", "i", _int_checker(-(1 << 31), (1 << 31) - 1, "i32"),
                 json=_int_json(-(1 << 31), (1 << 31) - 1))
I64 = _FieldType("i64", "q", _int_checker(-(1 << 63), (1 << 63) - 1, "i64"),
                 json=_int_json(-(1 << 63), (1 << 63) - 1))
BOOL = _FieldType("bool", "B", _check_bool, _decode_bool, int,
                  json=(None, lambda value, limit: _json_bool(value)), text=_text_bool)
HASH8 = _FieldType("[u8; 8]", "8s", _check_bytes, encode=_encode_hash8,
                   json=(list, _hash_from_json), text=bytes.hex)
BOXED_HASH = _FieldType("Box<[u8]>", "iI", _check_bytes, vector="bytes", align=1,
                        json=(list, _hash_from_json), text=bytes.hex)
# InitModuleV1.wasm_hash: inline in wasmer-4.2, boxed (8 or 32 bytes) after.
WASM_HASH = _FieldType("[u8; 8] or Box<[u8]>", "iI", _check_bytes,
                       by_layout=lambda layout: BOXED_HASH if layout.boxed_hash else HASH8,
                       json=(list, _hash_from_json), text=bytes.hex)
BYTES = _FieldType("AlignedCowVec<u8>", "iI", _check_bytes, vector="bytes",
                   json=(_base64_lz4, _bytes_from_json), text=_format_bytes)
STR = _FieldType("AlignedCowStr", "iI", _check_str, _decode_utf8, vector="str",
                 json=(None, lambda value, limit: _json_str(value)), text=repr)

# Bit sets and protocol numbers are stored as plain integers; their own
# types differ in their JSON and text (hex) forms.
OFLAGS = _FieldType("Oflags (u16 bits)", "H", U16.check,
                    json=_bits_json(0xFFFF), exact=_bits_exact(0xF), text=hex)
FDFLAGS = _FieldType("Fdflags (u16 bits)", "H", U16.check,
                     json=_bits_json(0xFFFF), exact=_bits_exact(0x1F), text=hex)
LOOKUPFLAGS = _FieldType("LookupFlags (u32 bits)", "I", U32.check,
                         json=_int_json(0, 0xFFFFFFFF), text=hex)
SIFLAGS = _FieldType("SiFlags (u16 bits)", "H", U16.check, json=_int_json(0, 0xFFFF),
                     text=hex)
EVENTFDFLAGS = _FieldType("EventFdFlags (u16 bits)", "H", U16.check,
                          json=_int_json(0, 0xFFFF), text=hex)
FDFLAGSEXT = _FieldType("Fdflagsext (u16 bits)", "H", U16.check,
                        json=_bits_json(0xFFFF), exact=_bits_exact(0x1), text=hex)
FSTFLAGS = _FieldType("Fstflags (u16 bits)", "H", U16.check,
                      json=_bits_json(0xFFFF), exact=_bits_exact(0xF), text=hex)
RIGHTS = _FieldType("Rights (u64 bits)", "Q", U64.check, json=_bits_json(_U64_MAX),
                    exact=_bits_exact((1 << 39) - 1), text=hex)
SOCKPROTO = _FieldType("SockProto (u16)", "H", U16.check,
                       json=(_named_to_json(_SOCKPROTO_NAMES),
                             _named_from_json(_SOCKPROTO_NAMES, 0xFFFF)))

_check_u16 = U16.check
_check_u32 = U32.check
_check_u64 = U64.check
_check_i32 = I32.check
_check_u8 = U8.check

# -- Option<JournalExitCodeV1>: tag u8, payload at +4 (tag u8, Errno u16 @+2
#    or Other i32 @+4); 12 bytes.
_exit_errno_struct = struct.Struct("<B3xBxH4x")
_exit_other_struct = struct.Struct("<B3xB3xi")
_NONE_12 = bytes(12)


def _check_exit_code(value):
    if value is None:
        return None
    try:
        kind, number = value
    except (TypeError, ValueError):
        raise TypeError("expected an ExitCode or None, got %r" % (value,)) from None
    kind = _EXIT_KIND.check(kind)
    if kind is ExitCodeKind.Errno:
        return ExitCode(kind, _check_u16(number))
    return ExitCode(kind, _check_i32(number))


def _decode_exit_code(raw):
    tag = raw[0]
    if tag == 0:
        return None
    if tag != 1:
        raise _Invalid("Option tag is %d" % tag)
    kind = raw[4]
    if kind == 0:
        return ExitCode(ExitCodeKind.Errno, _exit_errno_struct.unpack(raw)[2])
    if kind == 1:
        return ExitCode(ExitCodeKind.Other, _exit_other_struct.unpack(raw)[2])
    raise _Invalid("JournalExitCodeV1 tag is %d" % kind)


def _encode_exit_code(value):
    if value is None:
        return _NONE_12
    if value.kind is ExitCodeKind.Errno:
        return _exit_errno_struct.pack(1, 0, value.value)
    return _exit_other_struct.pack(1, 1, value.value)


_EXIT_KIND = _enum_type(ExitCodeKind)
EXIT_CODE_OPT = _FieldType("Option<JournalExitCodeV1>", "12s", _check_exit_code,
                           _decode_exit_code, _encode_exit_code,
                           json=(_exit_code_to_json, _exit_code_from_json),
                           text=_text_exit_code, json_era=_exit_code_era)

# -- JournalThreadStartTypeV1: tag u8, ThreadSpawn start_ptr u64 @+8; 16 bytes.
_thread_spawn_struct = struct.Struct("<B7xQ")
_NONE_16 = bytes(16)


def _check_thread_start(value):
    if isinstance(value, ThreadStartType):
        start_ptr = value.start_ptr
    elif value is None:
        start_ptr = None
    else:
        raise TypeError("expected a ThreadStartType, got %r" % (value,))
    if start_ptr is None:
        return ThreadStartType(None)
    return ThreadStartType(_check_u64(start_ptr))


_MAIN_THREAD = ThreadStartType(None)


def _decode_thread_start(raw):
    tag, start_ptr = _thread_spawn_struct.unpack(raw)
    if tag == 0:
        return _MAIN_THREAD
    if tag == 1:
        return ThreadStartType(start_ptr)
    raise _Invalid("JournalThreadStartTypeV1 tag is %d" % tag)


def _encode_thread_start(value):
    if value.start_ptr is None:
        return _NONE_16
    return _thread_spawn_struct.pack(1, value.start_ptr)


THREAD_START = _FieldType("JournalThreadStartTypeV1", "16s", _check_thread_start,
                          _decode_thread_start, _encode_thread_start,
                          json=(_thread_start_to_json, _thread_start_from_json),
                          text=_text_thread_start)

# -- JournalWasiMemoryLayout: four u64; 32 bytes.
_memory_layout_struct = struct.Struct("<4Q")


def _check_memory_layout(value):
    try:
        fields = tuple(value)
    except TypeError:
        raise TypeError("expected a WasiMemoryLayout, got %r" % (value,)) from None
    if len(fields) != 4:
        raise TypeError("expected a WasiMemoryLayout, got %r" % (value,))
    return WasiMemoryLayout(*map(_check_u64, fields))


MEMORY_LAYOUT = _FieldType(
    "JournalWasiMemoryLayout", "32s", _check_memory_layout,
    lambda raw: WasiMemoryLayout._make(_memory_layout_struct.unpack(raw)),
    lambda value: _memory_layout_struct.pack(*value),
    json=_struct_json(WasiMemoryLayout, [_u64_field(name) for name in WasiMemoryLayout._fields]),
    text=_text_fields(str, str, str, str), json_era=_memory_layout_era)

# -- IP addresses: Ipv4Addr = 4 octets, Ipv6Addr = 16 octets (network order);
#    IpAddr = tag u8 (V4 0, V6 1) + octets at +1, 17 bytes.
_IPV4_TAIL = bytes(12)


def _check_ip(value):
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        address = value
    else:
        try:
            address = ipaddress.ip_address(value)
        except ValueError as exc:
            raise _fail(str(exc)) from None
    if getattr(address, "scope_id", None):
        raise _fail("IP address %s has a scope; archived addresses have none" % address)
    return address


def _check_ipv4(value):
    address = _check_ip(value)
    if address.version != 4:
        raise _fail("%s is not an IPv4 address" % address)
    return address


def _check_ipv6(value):
    address = _check_ip(value)
    if address.version != 6:
        raise _fail("%s is not an IPv6 address" % address)
    return address


def _decode_ip(raw):
    tag = raw[0]
    if tag == 0:
        return ipaddress.IPv4Address(raw[1:5])
    if tag == 1:
        return ipaddress.IPv6Address(raw[1:17])
    raise _Invalid("IpAddr tag is %d" % tag)


def _encode_ip(address):
    if address.version == 4:
        return b"\x00" + address.packed + _IPV4_TAIL
    return b"\x01" + address.packed


IPV4 = _FieldType("Ipv4Addr", "4s", _check_ipv4, ipaddress.IPv4Address,
                  operator.attrgetter("packed"),
                  json=(str, _ip_from_json), text=_ip_text)
IPV6 = _FieldType("Ipv6Addr", "16s", _check_ipv6, ipaddress.IPv6Address,
                  operator.attrgetter("packed"),
                  json=(_ipv6_text, _ip_from_json), text=_ip_text)
IPADDR = _FieldType("IpAddr", "17s", _check_ip, _decode_ip, _encode_ip,
                    json=(_ip_text, _ip_from_json), text=_ip_text)


def _check_cidr(value):
    try:
        ip, prefix = value
    except (TypeError, ValueError):
        raise TypeError("expected an IpCidr (ip, prefix), got %r" % (value,)) from None
    return IpCidr(_check_ip(ip), _check_u8(prefix))


IPCIDR = _FieldType("JournalIpCidrV1", "18s", _check_cidr,
                    lambda raw: IpCidr(_decode_ip(raw), raw[17]),
                    lambda value: _encode_ip(value.ip) + bytes((value.prefix,)),
                    json=_struct_json(IpCidr, [
                        ("ip", _ip_text, _ip_from_json),
                        ("prefix", None, lambda v, limit: _json_int(v, 0, 0xFF))]),
                    text=lambda value: "%s/%d" % (_ip_text(value.ip), value.prefix))


# -- SocketAddr: tag u8; V4 {ip[4] @+2, port u16 @+6};
#    V6 {ip[16] @+4, port u16 @+20, flowinfo u32 @+24, scope_id u32 @+28}; 32 bytes.
_sockaddr_v4_struct = struct.Struct("<Bx4sH24x")
_sockaddr_v6_struct = struct.Struct("<B3x16sH2xII")


def _check_sockaddr(value):
    if not isinstance(value, tuple) or len(value) not in (2, 4):
        raise TypeError("expected a socket address (host, port) or "
                        "(host, port, flowinfo, scope_id), got %r" % (value,))
    address = _check_ip(value[0])
    port = _check_u16(value[1])
    if address.version == 4:
        if len(value) == 4:
            raise _fail("an IPv4 socket address has no flowinfo or scope_id: %r" % (value,))
        return (str(address), port)
    if len(value) == 4:
        flowinfo, scope_id = _check_u32(value[2]), _check_u32(value[3])
    else:
        flowinfo = scope_id = 0
    return (_ipv6_text(address), port, flowinfo, scope_id)


def _decode_sockaddr(raw):
    tag = raw[0]
    if tag == 0:
        _, ip, port = _sockaddr_v4_struct.unpack(raw)
        return (str(ipaddress.IPv4Address(ip)), port)
    if tag == 1:
        _, ip, port, flowinfo, scope_id = _sockaddr_v6_struct.unpack(raw)
        return (_ipv6_text(ipaddress.IPv6Address(ip)), port, flowinfo, scope_id)
    raise _Invalid("SocketAddr tag is %d" % tag)


def _encode_sockaddr(value):
    if len(value) == 2:
        return _sockaddr_v4_struct.pack(0, ipaddress.IPv4Address(value[0]).packed, value[1])
    return _sockaddr_v6_struct.pack(1, ipaddress.IPv6Address(value[0]).packed,
                                    value[1], value[2], value[3])


SOCKADDR = _FieldType("SocketAddr", "32s", _check_sockaddr, _decode_sockaddr,
                      _encode_sockaddr,
                      json=(_sockaddr_to_json, _sockaddr_from_json), exact=_sockaddr_exact,
                      text=_format_sockaddr)

# -- Durations and times, as int nanoseconds.  Duration = {secs u64, nanos
#    u32, pad 4}, 16 bytes; Option<Duration> = tag u8 + Duration @+8, 24 bytes.
_NANOS_PER_SEC = 1_000_000_000
_MAX_DURATION_NS = (_U64_MAX + 1) * _NANOS_PER_SEC - 1
_duration_struct = struct.Struct("<QI4x")
_duration_opt_struct = struct.Struct("<B7xQI4x")
_NONE_24 = bytes(24)
_UNIX_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def _timedelta_nanos(value) -> Optional[int]:
    if not isinstance(value, datetime.timedelta):
        return None
    return ((value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds) * 1000


def _check_duration(value):
    nanos = _timedelta_nanos(value)
    if nanos is None:
        try:
            nanos = operator.index(value)
        except TypeError:
            raise TypeError("expected a duration in int nanoseconds, got %r"
                            % (value,)) from None
    if not 0 <= nanos <= _MAX_DURATION_NS:
        raise _fail("duration %s ns is out of range" % _int_text(nanos))
    return nanos


def _check_duration_opt(value):
    return None if value is None else _check_duration(value)


def _duration_nanos(secs, nanos):
    # Duration::new normalizes nanos >= 1e9 into seconds, as wasmer does.
    total = secs * _NANOS_PER_SEC + nanos
    if total > _MAX_DURATION_NS:
        raise _Invalid("Duration overflows (secs %d, nanos %d)" % (secs, nanos))
    return total


def _decode_duration_opt(raw):
    tag, secs, nanos = _duration_opt_struct.unpack(raw)
    if tag == 0:
        return None
    if tag != 1:
        raise _Invalid("Option tag is %d" % tag)
    return _duration_nanos(secs, nanos)


def _encode_duration_opt(value):
    if value is None:
        return _NONE_24
    secs, nanos = divmod(value, _NANOS_PER_SEC)
    return _duration_opt_struct.pack(1, secs, nanos)


DURATION_OPT = _FieldType("Option<Duration>", "24s", _check_duration_opt,
                          _decode_duration_opt, _encode_duration_opt,
                          json=(_duration_to_json, _duration_from_json))


def _check_system_time(value):
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            raise _fail("a datetime for SnapshotV1.when must be timezone-aware")
        return _timedelta_nanos(value - _UNIX_EPOCH)
    try:
        nanos = operator.index(value)
    except TypeError:
        raise TypeError("expected int nanoseconds since the Unix epoch, got %r"
                        % (value,)) from None
    if nanos > _MAX_DURATION_NS:
        raise _fail("time %s ns is out of range" % _int_text(nanos))
    return nanos


def _decode_system_time(raw):
    secs, nanos = _duration_struct.unpack(raw)
    return _duration_nanos(secs, nanos)


def _encode_system_time(value):
    # SystemTime before the epoch is stored as 0, as wasmer does.
    secs, nanos = divmod(max(value, 0), _NANOS_PER_SEC)
    return _duration_struct.pack(secs, nanos)


SYSTEM_TIME = _FieldType("Duration (since the Unix epoch)", "16s", _check_system_time,
                         _decode_system_time, _encode_system_time,
                         json=(_system_time_to_json, _system_time_from_json), text=_format_time)

# -- Option<JournalEpollEventCtlV1>: tag u8, payload @+8 {events u32,
#    ptr u64 @+8, fd u32 @+16, data1 u32 @+20, data2 u64 @+24}; 40 bytes.
_epoll_event_struct = struct.Struct("<B7xI4xQIIQ")
_NONE_40 = bytes(40)


def _check_epoll_event(value):
    if value is None:
        return None
    try:
        events, ptr, fd, data1, data2 = value
    except (TypeError, ValueError):
        raise TypeError("expected an EpollEventCtl or None, got %r" % (value,)) from None
    return EpollEventCtl(_check_u32(events), _check_u64(ptr), _check_u32(fd),
                         _check_u32(data1), _check_u64(data2))


def _decode_epoll_event(raw):
    tag, events, ptr, fd, data1, data2 = _epoll_event_struct.unpack(raw)
    if tag == 0:
        return None
    if tag != 1:
        raise _Invalid("Option tag is %d" % tag)
    return EpollEventCtl(events, ptr, fd, data1, data2)


def _encode_epoll_event(value):
    if value is None:
        return _NONE_40
    return _epoll_event_struct.pack(1, *value)


EPOLL_EVENT_OPT = _FieldType("Option<JournalEpollEventCtlV1>", "40s", _check_epoll_event,
                             _decode_epoll_event, _encode_epoll_event,
                             json=_optional(_epoll_event_json),
                             text=_text_fields(hex, str, str, str, str))

# -- TtySetV1 keeps the Tty fields flat in the archive: 4 x u32, 5 x bool.
_tty_struct = struct.Struct("<4I5B")


def _check_tty(value):
    try:
        fields = tuple(value)
    except TypeError:
        raise TypeError("expected a Tty, got %r" % (value,)) from None
    if len(fields) != 9:
        raise TypeError("expected a Tty (9 fields), got %r" % (value,))
    return Tty(*map(_check_u32, fields[:4]), *map(_check_bool, fields[4:]))


def _decode_tty(raw):
    fields = _tty_struct.unpack(raw)
    return Tty(*fields[:4], *map(_decode_bool, fields[4:]))


TTY = _FieldType("Tty (cols..line_buffered)", "21s", _check_tty, _decode_tty,
                 lambda value: _tty_struct.pack(*value),
                 json=_struct_json(Tty, [_u32_field(name) for name in Tty._fields[:4]]
                                    + [_bool_field(name) for name in Tty._fields[4:]]),
                 text=_text_fields(str, str, str, str, _text_bool, _text_bool, _text_bool,
                                   _text_bool, _text_bool))

# -- UpdateMemoryRegionV1 keeps Range<u64> as two u64: start, end.
_region_struct = struct.Struct("<QQ")


def _check_region(value):
    if isinstance(value, range):
        if value.step != 1:
            raise _fail("a memory region must have step 1")
        value = (value.start, value.stop)
    try:
        start, end = value
    except (TypeError, ValueError):
        raise TypeError("expected a MemoryRegion (start, end), got %r" % (value,)) from None
    return MemoryRegion(_check_u64(start), _check_u64(end))


REGION = _FieldType("Range<u64>", "16s", _check_region,
                    lambda raw: MemoryRegion._make(_region_struct.unpack(raw)),
                    lambda value: _region_struct.pack(*value),
                    json=(lambda region: {"start": region.start, "end": region.end},
                          _region_from_json),
                    text=lambda region: "%#x..%#x" % region)

# -- The compressed memory of UpdateMemoryRegionV1 (an AlignedCowVec<u8>
#    holding lz4_flex compress_prepend_size output); the entry keeps the
#    uncompressed bytes.
LZ4_BYTES = _FieldType("AlignedCowVec<u8> (LZ4)", "iI", _check_bytes, vector="lz4",
                       json=(lambda compressed: base64.b64encode(compressed).decode("ascii"),
                             lambda value, limit: _base64_decode(value)),
                       text=lambda data: "%dB" % len(data))

_UNKNOWN_255 = {"Unknown": 255}
WHENCE = _enum_type(Whence, _UNKNOWN_255)
CLOCKID = _enum_type(Snapshot0Clockid, _UNKNOWN_255)
ADVICE = _enum_type(Advice, _UNKNOWN_255)


def _trigger_era(layout):
    """From wasmer-journal 0.600.0 triggers are wasmer-config's kebab-case names."""
    if layout.json_release >= (0, 600, 0):
        return {"to_json": _enum_json(SnapshotTrigger, _TRIGGER_KEBAB)[0]}
    return None


TRIGGER = _enum_type(SnapshotTrigger, allowed=operator.attrgetter("triggers"),
                     json=_enum_json(SnapshotTrigger, also=[_TRIGGER_KEBAB]),
                     json_era=_trigger_era)
EPOLL_CTL = _enum_type(EpollCtl)

# virtual-net spelled AnyEncryption "AnyEncyption" before wasmer-journal 0.703.0,
# and wasmer reads an archived Unknown as AnyEncryption.
_SECURITY_TYPO = {"AnyEncryption": "AnyEncyption"}
_SECURITY_RIGHT = {"AnyEncryption": "AnyEncryption"}


def _security_exact(to_json):
    def exact(member):
        return to_json(StreamSecurity.AnyEncryption if member is StreamSecurity.Unknown
                       else member)
    return exact


def _security_era(layout):
    if layout.json_release >= (0, 703, 0):
        to_json = _enum_json(StreamSecurity)[0]
        return {"to_json": to_json, "exact_json": _security_exact(to_json)}
    return None


_SECURITY_JSON = _enum_json(StreamSecurity, _SECURITY_TYPO, also=[_SECURITY_RIGHT])
SECURITY = _enum_type(StreamSecurity, json=_SECURITY_JSON,
                      exact=_security_exact(_SECURITY_JSON[0]), json_era=_security_era)
ADDRESS_FAMILY = _enum_type(Addressfamily)
SOCKTYPE = _enum_type(Socktype)
SOCKOPTION = _enum_type(Sockoption)
TIME_TYPE = _enum_type(SocketOptTimeType, json=_enum_json(SocketOptTimeType, {
    "ReadTimeout": "read_timeout", "WriteTimeout": "write_timeout",
    "AcceptTimeout": "accept_timeout", "ConnectTimeout": "connect_timeout",
    "BindTimeout": "bind_timeout", "Linger": "linger"}))
SHUTDOWN_HOW = _enum_type(SocketShutdownHow, json=_enum_json(SocketShutdownHow, {
    "Read": "read", "Write": "write", "Both": "both"}))


# ---------------------------------------------------------------------------
# Journal entries
# ---------------------------------------------------------------------------

class _ArchivedField(NamedTuple):
    offset: int
    type: _FieldType
    name: str              # the JournalEntry field it holds
    archived_name: str     # the field's name in the archived struct


class _Archive:
    """The archived struct of one record type: size and fields by offset.

    Each field is ``(offset, field type, entry field name)``, with the
    archived struct's own field name as a fourth item where it differs.
    Fields are listed in declaration order, which is also the order their
    out-of-line data is written in.  The layout-specific form is a _Codec.
    """

    def __init__(self, name: str, size: int, *fields: tuple) -> None:
        self.name = name
        self.size = size
        self.fields = tuple(_ArchivedField(f[0], f[1], f[2], f[-1]) for f in fields)


class _Codec:
    """One entry class compiled for one layout: its root struct and the
    steps that encode and decode it (see encode_entry and _decode_body)."""

    __slots__ = ("cls", "layout", "unit", "name", "size", "fields", "root",
                 "value_index", "vectors", "plain", "encoders",
                 "decode_getter", "decoders", "lz4_index", "encode_record",
                 "encoder_source", "append_record", "appender_source", "decode",
                 "decoder_source", "run_struct", "run_new")

    def __init__(self, cls, layout: Layout) -> None:
        archive = cls.archive
        self.cls = cls
        self.layout = layout
        # The field-less records are serialized as () and read as the unit entry.
        self.unit = None if archive is not None else tuple.__new__(cls, ())
        if archive is None:
            archive = _Archive("()", 0)
        self.name = archive.name
        self.size = archive.size
        self.fields = fields = tuple(field._replace(type=field.type.for_layout(layout))
                                     for field in archive.fields)
        by_name = {field.name: field for field in fields}
        fmt = ["<"]
        position = 0
        self.value_index = {}
        values = 0
        for field in sorted(fields, key=operator.attrgetter("offset")):
            if field.offset < position:
                raise AssertionError("%s.%s overlaps" % (self.name, field.name))
            if field.offset > position:
                fmt.append("%dx" % (field.offset - position))
            fmt.append(field.type.fmt)
            position = field.offset + field.type.size
            self.value_index[field.name] = values
            values += len(struct.unpack("<" + field.type.fmt, bytes(field.type.size)))
        if position > self.size:
            raise AssertionError("%s fields overrun its size" % self.name)
        fmt.append("%dx" % (self.size - position) if self.size > position else "")
        self.root = struct.Struct("".join(fmt))
        assert self.root.size == self.size, self.name
        # Out-of-line data, in declaration order: (value index, offset, field).
        self.vectors = tuple((self.value_index[field.name], field.offset, field)
                             for field in fields if field.type.vector)
        # Enums and bools whose stored value is their int value pack as they are.
        self.encoders = tuple((self.value_index[f.name], f.type.encode)
                              for f in fields if f.type.encode not in (None, int))
        # Entry index of each root value, for decoding; a plain struct's
        # root values are its fields, in order, with nothing to decode.
        indexes = [self.value_index[name] for name in cls.fields]
        self.plain = (not self.vectors and values == len(cls.fields)
                      and indexes == list(range(len(indexes)))
                      and all(by_name[name].type.decode is None for name in cls.fields))
        if len(indexes) > 1:
            self.decode_getter = operator.itemgetter(*indexes)
        else:       # a slice, so that it too returns a sequence: of 1 (or 0) values
            self.decode_getter = operator.itemgetter(slice(0, len(indexes)))
            assert indexes in ([], [0])
        self.decoders = tuple((position, by_name[name].type.decode)
                              for position, name in enumerate(cls.fields)
                              if by_name[name].type.decode is not None)
        # The entry field held LZ4-compressed (decoded entries keep the stored form).
        self.lz4_index = next((cls.fields.index(f.name) for f in fields
                               if f.type.vector == "lz4"), None)
        # A run of records of a plain struct (no padding, every byte valid)
        # decodes at once: each record is its header, skipped, and its root.
        self.run_struct = (struct.Struct("<%dx" % RECORD_HEADER_SIZE + self.root.format[1:])
                           if self.plain else None)
        self.run_new = functools.partial(tuple.__new__, cls)
        # ``encode_record(entry, position)``: header + body, the header at
        # ``position``.  Compiled on first use (see _compile_encoder).
        self.encode_record = self._compile_and_encode
        self.encoder_source = None
        # ``append_record(entry, position, out)``: the same bytes appended
        # to the bytearray ``out``; returns their length (write_many).
        self.append_record = None
        self.appender_source = None
        # ``decode(buf, start, end, base, max_uncompressed)``: what
        # _decode_body does, generated (see _compile_decoder).
        self.decode = self._compile_and_decode
        self.decoder_source = None

    def _compile_and_decode(self, buf, start, end, base, max_uncompressed):
        self.decode = _compile_decoder(self)
        return self.decode(buf, start, end, base, max_uncompressed)

    def _compile_and_encode(self, entry, position):
        return self.encoder()(entry, position)

    def encoder(self):
        """``encode_record``, compiled (a function to keep and call)."""
        if self.encoder_source is None:
            self.encode_record = _compile_encoder(self)
        return self.encode_record

    def appender(self):
        """``append_record``, compiled."""
        if self.appender_source is None:
            self.append_record = _compile_encoder(self, append=True)
        return self.append_record


# Entry constructors: one generated __new__ per entry class, taking the
# fields by position or name.  A value its field's check carries a fast
# form for (see _int_checker) is tested inline; anything else -- other
# types, aliases, missing or extra fields -- goes through the same checks
# and errors as JournalEntry.__new__.

_MISSING = object()


def _construct(cls, given, more, named):
    """A generated constructor's way out: JournalEntry.__new__'s, with the
    arguments as it would have had them."""
    if more:
        return JournalEntry.__new__(cls, *given, *more, **named)
    fields = dict(zip(cls.fields, given))
    for name, value in list(fields.items()):
        if value is _MISSING:
            del fields[name]
    return JournalEntry.__new__(cls, **fields, **named)


def _constructor_source(cls) -> Tuple[str, dict]:
    """The source of ``cls.__new__``, and its globals."""
    names = [name + "_" if name in ("cls", "more", "named") else name
             for name in cls.fields]
    namespace = {"_MISSING": _MISSING, "_construct": _construct, "_new": tuple.__new__}
    values = ", ".join(names) + ("," if len(names) == 1 else "")
    lines = ["def __new__(cls, %s, *more, **named):"
             % ", ".join("%s=_MISSING" % name for name in names),
             "    if more or named or %s:" % " or ".join("%s is _MISSING" % name
                                                       for name in names),
             "        return _construct(cls, (%s), more, named)" % values]
    for name, check in zip(names, cls._checks):
        namespace["_check_" + name] = check
        fast = getattr(check, "fast", None)
        if fast is None:
            lines.append("    %s = _check_%s(%s)" % (name, name, name))
            continue
        template, constant = fast
        if constant is not None:
            namespace["_fast_" + name] = constant
        lines += ["    if not (%s):" % template.format(name, "_fast_" + name),
                  "        %s = _check_%s(%s)" % (name, name, name)]
    lines.append("    return _new(cls, (%s))" % values)
    return "\n".join(lines) + "\n", namespace


def _compile_constructor(cls):
    """``cls.__new__``, compiled from _constructor_source."""
    source, namespace = _constructor_source(cls)
    exec(compile(source, "<constructor of %s>" % cls.__name__, "exec"), namespace)
    constructor = namespace["__new__"]
    constructor.__qualname__ = "%s.__new__" % cls.__name__
    constructor.source = source
    return constructor


def _compile_on_first_call(cls, *args, **kwargs):
    # The class whose fields these are (a user subclass inherits them).
    owner = next(klass for klass in cls.__mro__ if "record_type" in klass.__dict__)
    owner.__new__ = _compile_constructor(owner)
    return owner.__new__(cls, *args, **kwargs)


class JournalEntry(tuple):
    """Base class of the entries: immutable, one subclass per record type.

    Fields are attributes in the order of wasmer's ``JournalEntry`` variant
    (``fields``); entries compare equal only to entries of the same type.
    ``archive`` describes the archived struct the entry is stored as (None
    for the field-less records stored as ``()``); each layout compiles it.
    """

    __slots__ = ()

    record_type: ClassVar[JournalEntryRecordType]
    fields: ClassVar[Tuple[str, ...]] = ()
    archive: ClassVar[Optional[_Archive]] = None

    # Other keyword names of fields (wasmer renamed some): alias -> field.
    _aliases: ClassVar[Dict[str, str]] = {}
    # JSON names wasmer gave fields later: field -> (release, JSON name).
    _json_renames: ClassVar[Dict[str, Tuple[tuple, str]]] = {}
    # Derived from ``archive`` and ``fields`` by __init_subclass__.
    _checks: ClassVar[tuple] = ()
    _field_types: ClassVar[tuple] = ()      # the _ArchivedField of each field

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "record_type" not in cls.__dict__:
            return                      # a user subclass inherits everything
        archive = cls.__dict__.get("archive")
        by_name = {f.name: f for f in archive.fields} if archive else {}
        if set(by_name) != set(cls.fields):
            raise AssertionError("%s: fields and archive differ" % cls.__name__)
        for index, name in enumerate(cls.fields):
            setattr(cls, name, property(operator.itemgetter(index),
                                        doc="%s (%s)" % (name, by_name[name].type.name)))
        cls._checks = tuple(by_name[name].type.check for name in cls.fields)
        cls._field_types = tuple(by_name[name] for name in cls.fields)
        if cls.fields:
            cls.__new__ = _compile_on_first_call

    def __new__(cls, *args, **kwargs):
        fields = cls.fields
        if kwargs and cls._aliases:
            for alias, name in cls._aliases.items():
                if alias in kwargs:
                    if name in kwargs:
                        raise TypeError("%s got both %r and %r"
                                        % (cls.__name__, name, alias))
                    kwargs[name] = kwargs.pop(alias)
        if len(args) > len(fields):
            raise TypeError("%s takes %d fields, got %d"
                            % (cls.__name__, len(fields), len(args)))
        values = list(args)
        for name in fields[len(args):]:
            try:
                values.append(kwargs.pop(name))
            except KeyError:
                raise TypeError("%s missing field %r" % (cls.__name__, name)) from None
        if kwargs:
            raise TypeError("%s has no field %r" % (cls.__name__, next(iter(kwargs))))
        return tuple.__new__(cls, [check(value) for check, value in zip(cls._checks, values)])

    def __getnewargs__(self):
        return tuple(self)

    def __setattr__(self, name, value):
        raise AttributeError("journal entries are immutable")

    __delattr__ = __setattr__

    def __eq__(self, other):
        return type(self) is type(other) and tuple.__eq__(self, other)

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash((self.record_type, tuple.__hash__(self)))

    # Ordering of tuples makes no sense across entry types.
    __lt__ = __le__ = __gt__ = __ge__ = lambda self, other: NotImplemented

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__, ", ".join(
            "%s=%r" % item for item in zip(self.fields, self)))

    def _asdict(self) -> Dict[str, Any]:
        """The fields as a dict, in order."""
        return dict(zip(self.fields, self))

    def _replace(self, **changes) -> "JournalEntry":
        """A copy with some fields replaced."""
        values = self._asdict()
        values.update(changes)
        return type(self)(**values)


class InitModuleV1(JournalEntry):
    """The module whose hash is ``wasm_hash`` was initialized.

    The hash is 8 bytes (XXHash) or 32 (SHA-256); the wasmer-4.2 layout
    holds exactly 8, the later ones any number (an empty one, which the
    crate allows and wasmer's runtime never writes, reads back as 8 zero
    bytes of wasmer-4.2 in a journal with nothing else telling its layout).
    """
    __slots__ = ()
    record_type = JournalEntryRecordType.InitModuleV1
    fields = ("wasm_hash",)
    archive = _Archive("JournalEntryInitModuleV1", 8,
                       (0, WASM_HASH, "wasm_hash"))


class ClearEtherealV1(JournalEntry):
    """Ethereal (non-replayed) events before this point can be dropped."""
    __slots__ = ()
    record_type = JournalEntryRecordType.ClearEtherealV1
    archive = _Archive("JournalEntryClearEtherealV1", 0)


class UpdateMemoryRegionV1(JournalEntry):
    """Linear memory ``region`` now holds ``data`` (stored LZ4-compressed).

    A decoded entry remembers the compressed bytes it was read from, so it
    re-encodes to the same bytes whichever LZ4 encoder wrote them.
    """
    record_type = JournalEntryRecordType.UpdateMemoryRegionV1
    fields = ("region", "data")
    # From wasmer-journal 0.4.0 wasmer's entry holds the compressed bytes.
    _json_renames = {"data": ((0, 4, 0), "compressed_data")}
    archive = _Archive("JournalEntryUpdateMemoryRegionV1", 24,
                       (0, LZ4_BYTES, "data", "compressed_data"),
                       (8, REGION, "region", "start..end"))

    @property
    def compressed_data(self) -> bytes:
        """The stored form of ``data``: u32 LE length + LZ4 block."""
        compressed = self.__dict__.get("_compressed")
        if compressed is None:
            compressed = lz4_compress_prepend_size(self[1])
            object.__setattr__(self, "_compressed", compressed)
        return compressed


class ProcessExitV1(JournalEntry):
    """The process exited."""
    __slots__ = ()
    record_type = JournalEntryRecordType.ProcessExitV1
    fields = ("exit_code",)
    archive = _Archive("JournalEntryProcessExitV1", 16,
                       (0, EXIT_CODE_OPT, "exit_code"))


class SetThreadV1(JournalEntry):
    """A thread's stacks and state (``id`` is the WASIX thread id)."""
    __slots__ = ()
    record_type = JournalEntryRecordType.SetThreadV1
    fields = ("id", "call_stack", "memory_stack", "store_data", "start", "layout",
              "is_64bit")
    archive = _Archive("JournalEntrySetThreadV1", 88,
                       (0, U32, "id"),
                       (4, BYTES, "call_stack"),
                       (12, BYTES, "memory_stack"),
                       (20, BYTES, "store_data"),
                       (32, THREAD_START, "start"),
                       (48, MEMORY_LAYOUT, "layout"),
                       (80, BOOL, "is_64bit"))


class CloseThreadV1(JournalEntry):
    """A thread exited."""
    __slots__ = ()
    record_type = JournalEntryRecordType.CloseThreadV1
    fields = ("id", "exit_code")
    archive = _Archive("JournalEntryCloseThreadV1", 16,
                       (0, U32, "id"),
                       (4, EXIT_CODE_OPT, "exit_code"))


class FileDescriptorSeekV1(JournalEntry):
    """fd_seek."""
    __slots__ = ()
    record_type = JournalEntryRecordType.FileDescriptorSeekV1
    fields = ("fd", "offset", "whence")
    archive = _Archive("JournalEntryFileDescriptorSeekV1", 16,
                       (0, U32, "fd"),
                       (4, WHENCE, "whence"),
                       (8, I64, "offset"))


class FileDescriptorWriteV1(JournalEntry):
    """fd_write / fd_pwrite of ``data`` at ``offset``."""
    __slots__ = ()
    record_type = JournalEntryRecordType.FileDescriptorWriteV1
    fields = ("fd", "offset", "data", "is_64bit")
    archive = _Archive("JournalEntryFileDescriptorWriteV1", 24,
                       (0, BYTES, "data"),
                       (8, U64, "offset"),
                       (16, U32, "fd"),
                       (20, BOOL, "is_64bit"))


class SetClockTimeV1(JournalEntry):
    """clock_time_set; ``time`` in nanoseconds."""
    __slots__ = ()
    record_type = JournalEntryRecordType.SetClockTimeV1
    fields = ("clock_id", "time")
    archive = _Archive("JournalEntrySetClockTimeV1", 16,
                       (0, CLOCKID, "clock_id"),
                       (8, U64, "time"))


class OpenFileDescriptorV1(JournalEntry):
    """path_open; flags and rights are the raw WASI bit sets."""
    __slots__ = ()
    record_type = JournalEntryRecordType.OpenFileDescriptorV1
    fields = ("fd", "dirfd", "dirflags", "path", "o_flags", "fs_rights_base",
              "fs_rights_inheriting", "fs_flags")
    archive = _Archive("JournalEntryOpenFileDescriptorV1", 40,
                       (0, U32, "fd"),
                       (4, U32, "dirfd"),
                       (8, LOOKUPFLAGS, "dirflags"),
                       (12, FDFLAGS, "fs_flags"),
                       (14, OFLAGS, "o_flags"),
                       (16, RIGHTS, "fs_rights_base"),
                       (24, RIGHTS, "fs_rights_inheriting"),
                       (32, STR, "path"))


class CloseFileDescriptorV1(JournalEntry):
    """fd_close."""
    __slots__ = ()
    record_type = JournalEntryRecordType.CloseFileDescriptorV1
    fields = ("fd",)
    archive = _Archive("JournalEntryCloseFileDescriptorV1", 8,
                       (0, U32, "fd"))


class RenumberFileDescriptorV1(JournalEntry):
    """fd_renumber."""
    __slots__ = ()
    record_type = JournalEntryRecordType.RenumberFileDescriptorV1
    fields = ("old_fd", "new_fd")
    archive = _Archive("JournalEntryRenumberFileDescriptorV1", 8,
                       (0, U32, "old_fd"),
                       (4, U32, "new_fd"))


class DuplicateFileDescriptorV1(JournalEntry):
    """fd_dup."""
    __slots__ = ()
    record_type = JournalEntryRecordType.DuplicateFileDescriptorV1
    fields = ("original_fd", "copied_fd")
    archive = _Archive("JournalEntryDuplicateFileDescriptorV1", 8,
                       (0, U32, "original_fd"),
                       (4, U32, "copied_fd"))


class CreateDirectoryV1(JournalEntry):
    """path_create_directory."""
    __slots__ = ()
    record_type = JournalEntryRecordType.CreateDirectoryV1
    fields = ("fd", "path")
    archive = _Archive("JournalEntryCreateDirectoryV1", 16,
                       (0, U32, "fd"),
                       (4, STR, "path"))


class RemoveDirectoryV1(JournalEntry):
    """path_remove_directory."""
    __slots__ = ()
    record_type = JournalEntryRecordType.RemoveDirectoryV1
    fields = ("fd", "path")
    archive = _Archive("JournalEntryRemoveDirectoryV1", 16,
                       (0, U32, "fd"),
                       (4, STR, "path"))


class PathSetTimesV1(JournalEntry):
    """path_filestat_set_times; times in nanoseconds."""
    __slots__ = ()
    record_type = JournalEntryRecordType.PathSetTimesV1
    fields = ("fd", "flags", "path", "st_atim", "st_mtim", "fst_flags")
    archive = _Archive("JournalEntryPathSetTimesV1", 40,
                       (0, U32, "fd"),
                       (4, LOOKUPFLAGS, "flags"),
                       (8, STR, "path"),
                       (16, U64, "st_atim"),
                       (24, U64, "st_mtim"),
                       (32, FSTFLAGS, "fst_flags"))


class FileDescriptorSetTimesV1(JournalEntry):
    """fd_filestat_set_times; times in nanoseconds."""
    __slots__ = ()
    record_type = JournalEntryRecordType.FileDescriptorSetTimesV1
    fields = ("fd", "st_atim", "st_mtim", "fst_flags")
    archive = _Archive("JournalEntryFileDescriptorSetTimesV1", 24,
                       (0, U32, "fd"),
                       (4, FSTFLAGS, "fst_flags"),
                       (8, U64, "st_atim"),
                       (16, U64, "st_mtim"))


class FileDescriptorSetSizeV1(JournalEntry):
    """fd_filestat_set_size."""
    __slots__ = ()
    record_type = JournalEntryRecordType.FileDescriptorSetSizeV1
    fields = ("fd", "st_size")
    archive = _Archive("JournalEntryFileDescriptorSetSizeV1", 16,
                       (0, U32, "fd"),
                       (8, U64, "st_size"))


class FileDescriptorSetFlagsV1(JournalEntry):
    """fd_fdstat_set_flags; ``flags`` is the raw Fdflags bit set."""
    __slots__ = ()
    record_type = JournalEntryRecordType.FileDescriptorSetFlagsV1
    fields = ("fd", "flags")
    archive = _Archive("JournalEntryFileDescriptorSetFlagsV1", 8,
                       (0, U32, "fd"),
                       (4, FDFLAGS, "flags"))


class FileDescriptorSetRightsV1(JournalEntry):
    """fd_fdstat_set_rights."""
    __slots__ = ()
    record_type = JournalEntryRecordType.FileDescriptorSetRightsV1
    fields = ("fd", "fs_rights_base", "fs_rights_inheriting")
    archive = _Archive("JournalEntryFileDescriptorSetRightsV1", 24,
                       (0, U32, "fd"),
                       (8, RIGHTS, "fs_rights_base"),
                       (16, RIGHTS, "fs_rights_inheriting"))


class FileDescriptorAdviseV1(JournalEntry):
    """fd_advise."""
    __slots__ = ()
    record_type = JournalEntryRecordType.FileDescriptorAdviseV1
    fields = ("fd", "offset", "len", "advice")
    archive = _Archive("JournalEntryFileDescriptorAdviseV1", 32,
                       (0, U32, "fd"),
                       (8, U64, "offset"),
                       (16, U64, "len"),
                       (24, ADVICE, "advice"))


class FileDescriptorAllocateV1(JournalEntry):
    """fd_allocate."""
    __slots__ = ()
    record_type = JournalEntryRecordType.FileDescriptorAllocateV1
    fields = ("fd", "offset", "len")
    archive = _Archive("JournalEntryFileDescriptorAllocateV1", 24,
                       (0, U32, "fd"),
                       (8, U64, "offset"),
                       (16, U64, "len"))


class CreateHardLinkV1(JournalEntry):
    """path_link."""
    __slots__ = ()
    record_type = JournalEntryRecordType.CreateHardLinkV1
    fields = ("old_fd", "old_path", "old_flags", "new_fd", "new_path")
    archive = _Archive("JournalEntryCreateHardLinkV1", 32,
                       (0, U32, "old_fd"),
                       (4, STR, "old_path"),
                       (12, LOOKUPFLAGS, "old_flags"),
                       (16, U32, "new_fd"),
                       (20, STR, "new_path"))


class CreateSymbolicLinkV1(JournalEntry):
    """path_symlink."""
    __slots__ = ()
    record_type = JournalEntryRecordType.CreateSymbolicLinkV1
    fields = ("old_path", "fd", "new_path")
    archive = _Archive("JournalEntryCreateSymbolicLinkV1", 24,
                       (0, U32, "fd"),
                       (4, STR, "old_path"),
                       (12, STR, "new_path"))


class UnlinkFileV1(JournalEntry):
    """path_unlink_file."""
    __slots__ = ()
    record_type = JournalEntryRecordType.UnlinkFileV1
    fields = ("fd", "path")
    archive = _Archive("JournalEntryUnlinkFileV1", 16,
                       (0, U32, "fd"),
                       (4, STR, "path"))


class PathRenameV1(JournalEntry):
    """path_rename."""
    __slots__ = ()
    record_type = JournalEntryRecordType.PathRenameV1
    fields = ("old_fd", "old_path", "new_fd", "new_path")
    archive = _Archive("JournalEntryPathRenameV1", 24,
                       (0, U32, "old_fd"),
                       (4, STR, "old_path"),
                       (12, U32, "new_fd"),
                       (16, STR, "new_path"))


class ChangeDirectoryV1(JournalEntry):
    """chdir."""
    __slots__ = ()
    record_type = JournalEntryRecordType.ChangeDirectoryV1
    fields = ("path",)
    archive = _Archive("JournalEntryChangeDirectoryV1", 8,
                       (0, STR, "path"))


class EpollCreateV1(JournalEntry):
    """epoll_create."""
    __slots__ = ()
    record_type = JournalEntryRecordType.EpollCreateV1
    fields = ("fd",)
    archive = _Archive("JournalEntryEpollCreateV1", 8,
                       (0, U32, "fd"))


class EpollCtlV1(JournalEntry):
    """epoll_ctl."""
    __slots__ = ()
    record_type = JournalEntryRecordType.EpollCtlV1
    fields = ("epfd", "op", "fd", "event")
    archive = _Archive("JournalEntryEpollCtlV1", 56,
                       (0, U32, "epfd"),
                       (4, EPOLL_CTL, "op"),
                       (8, U32, "fd"),
                       (16, EPOLL_EVENT_OPT, "event"))


class TtySetV1(JournalEntry):
    """tty_set (the archive stores the Tty fields flat, then line_feeds)."""
    __slots__ = ()
    record_type = JournalEntryRecordType.TtySetV1
    fields = ("tty", "line_feeds")
    archive = _Archive("JournalEntryTtySetV1", 24,
                       (0, TTY, "tty", "cols..line_buffered"),
                       (21, BOOL, "line_feeds"))


class CreatePipeV1(JournalEntry):
    """fd_pipe: ``fd1`` reads, ``fd2`` writes.

    wasmer 6 names them ``read_fd`` and ``write_fd``: both names work, as
    keywords and as attributes.
    """
    __slots__ = ()
    record_type = JournalEntryRecordType.CreatePipeV1
    fields = ("fd1", "fd2")
    _aliases = {"read_fd": "fd1", "write_fd": "fd2"}
    _json_renames = {"fd1": ((0, 19, 0), "read_fd"), "fd2": ((0, 19, 0), "write_fd")}
    archive = _Archive("JournalEntryCreatePipeV1", 8,
                       (0, U32, "fd1"),
                       (4, U32, "fd2"))
    read_fd = property(operator.itemgetter(0), doc="fd1, by wasmer 6's name")
    write_fd = property(operator.itemgetter(1), doc="fd2, by wasmer 6's name")


class CreateEventV1(JournalEntry):
    """fd_event; ``flags`` is the raw EventFdFlags bit set."""
    __slots__ = ()
    record_type = JournalEntryRecordType.CreateEventV1
    fields = ("initial_val", "flags", "fd")
    archive = _Archive("JournalEntryCreateEventV1", 16,
                       (0, U64, "initial_val"),
                       (8, EVENTFDFLAGS, "flags"),
                       (12, U32, "fd"))


class PortAddAddrV1(JournalEntry):
    """port_addr_add."""
    __slots__ = ()
    record_type = JournalEntryRecordType.PortAddAddrV1
    fields = ("cidr",)
    archive = _Archive("JournalEntryPortAddAddrV1", 24,
                       (0, IPCIDR, "cidr"))


class PortDelAddrV1(JournalEntry):
    """port_addr_remove."""
    __slots__ = ()
    record_type = JournalEntryRecordType.PortDelAddrV1
    fields = ("addr",)
    archive = _Archive("JournalEntryPortDelAddrV1", 24,
                       (0, IPADDR, "addr"))


class PortAddrClearV1(JournalEntry):
    """port_addr_clear (stored as ``()``: an empty body)."""
    __slots__ = ()
    record_type = JournalEntryRecordType.PortAddrClearV1


class PortBridgeV1(JournalEntry):
    """port_bridge."""
    __slots__ = ()
    record_type = JournalEntryRecordType.PortBridgeV1
    fields = ("network", "token", "security")
    archive = _Archive("JournalEntryPortBridgeV1", 24,
                       (0, STR, "network"),
                       (8, STR, "token"),
                       (16, SECURITY, "security"))


class PortUnbridgeV1(JournalEntry):
    """port_unbridge (stored as ``()``: an empty body)."""
    __slots__ = ()
    record_type = JournalEntryRecordType.PortUnbridgeV1


class PortDhcpAcquireV1(JournalEntry):
    """port_dhcp_acquire (stored as ``()``: an empty body)."""
    __slots__ = ()
    record_type = JournalEntryRecordType.PortDhcpAcquireV1


class PortGatewaySetV1(JournalEntry):
    """port_gateway_set."""
    __slots__ = ()
    record_type = JournalEntryRecordType.PortGatewaySetV1
    fields = ("ip",)
    archive = _Archive("JournalEntryPortGatewaySetV1", 24,
                       (0, IPADDR, "ip"))


class PortRouteAddV1(JournalEntry):
    """port_route_add; the optional times are int nanoseconds."""
    __slots__ = ()
    record_type = JournalEntryRecordType.PortRouteAddV1
    fields = ("cidr", "via_router", "preferred_until", "expires_at")
    archive = _Archive("JournalEntryPortRouteAddV1", 88,
                       (0, IPCIDR, "cidr"),
                       (18, IPADDR, "via_router"),
                       (40, DURATION_OPT, "preferred_until"),
                       (64, DURATION_OPT, "expires_at"))


class PortRouteClearV1(JournalEntry):
    """port_route_clear (stored as ``()``: an empty body)."""
    __slots__ = ()
    record_type = JournalEntryRecordType.PortRouteClearV1


class PortRouteDelV1(JournalEntry):
    """port_route_remove."""
    __slots__ = ()
    record_type = JournalEntryRecordType.PortRouteDelV1
    fields = ("ip",)
    archive = _Archive("JournalEntryPortRouteDelV1", 24,
                       (0, IPADDR, "ip"))


class SocketOpenV1(JournalEntry):
    """sock_open; ``pt`` is the raw SockProto number."""
    __slots__ = ()
    record_type = JournalEntryRecordType.SocketOpenV1
    fields = ("af", "ty", "pt", "fd")
    archive = _Archive("JournalEntrySocketOpenV1", 8,
                       (0, ADDRESS_FAMILY, "af"),
                       (1, SOCKTYPE, "ty"),
                       (2, SOCKPROTO, "pt"),
                       (4, U32, "fd"))


class SocketListenV1(JournalEntry):
    """sock_listen."""
    __slots__ = ()
    record_type = JournalEntryRecordType.SocketListenV1
    fields = ("fd", "backlog")
    archive = _Archive("JournalEntrySocketListenV1", 8,
                       (0, U32, "fd"),
                       (4, U32, "backlog"))


class SocketBindV1(JournalEntry):
    """sock_bind."""
    __slots__ = ()
    record_type = JournalEntryRecordType.SocketBindV1
    fields = ("fd", "addr")
    archive = _Archive("JournalEntrySocketBindV1", 40,
                       (0, U32, "fd"),
                       (4, SOCKADDR, "addr"))


class SocketConnectedV1(JournalEntry):
    """sock_connect completed."""
    __slots__ = ()
    record_type = JournalEntryRecordType.SocketConnectedV1
    fields = ("fd", "local_addr", "peer_addr")
    archive = _Archive("JournalEntrySocketConnectedV1", 72,
                       (0, U32, "fd"),
                       (4, SOCKADDR, "local_addr"),
                       (36, SOCKADDR, "peer_addr"))


class SocketAcceptedV1(JournalEntry):
    """sock_accept returned ``fd``."""
    __slots__ = ()
    record_type = JournalEntryRecordType.SocketAcceptedV1
    fields = ("listen_fd", "fd", "local_addr", "peer_addr", "fd_flags", "non_blocking")
    archive = _Archive("JournalEntrySocketAcceptedV1", 80,
                       (0, U32, "listen_fd"),
                       (4, U32, "fd"),
                       (8, SOCKADDR, "local_addr"),
                       (40, SOCKADDR, "peer_addr"),
                       (72, FDFLAGS, "fd_flags"),
                       (74, BOOL, "non_blocking", "nonblocking"))


class SocketJoinIpv4MulticastV1(JournalEntry):
    """sock_join_multicast_v4."""
    __slots__ = ()
    record_type = JournalEntryRecordType.SocketJoinIpv4MulticastV1
    fields = ("fd", "multiaddr", "iface")
    archive = _Archive("JournalEntrySocketJoinIpv4MulticastV1", 16,
                       (0, U32, "fd"),
                       (4, IPV4, "multiaddr"),
                       (8, IPV4, "iface"))


class SocketJoinIpv6MulticastV1(JournalEntry):
    """sock_join_multicast_v6."""
    __slots__ = ()
    record_type = JournalEntryRecordType.SocketJoinIpv6MulticastV1
    fields = ("fd", "multi_addr", "iface")
    archive = _Archive("JournalEntrySocketJoinIpv6MulticastV1", 24,
                       (0, U32, "fd"),
                       (4, IPV6, "multi_addr", "multiaddr"),
                       (20, U32, "iface"))


class SocketLeaveIpv4MulticastV1(JournalEntry):
    """sock_leave_multicast_v4."""
    __slots__ = ()
    record_type = JournalEntryRecordType.SocketLeaveIpv4MulticastV1
    fields = ("fd", "multi_addr", "iface")
    archive = _Archive("JournalEntrySocketLeaveIpv4MulticastV1", 16,
                       (0, U32, "fd"),
                       (4, IPV4, "multi_addr", "multiaddr"),
                       (8, IPV4, "iface"))


class SocketLeaveIpv6MulticastV1(JournalEntry):
    """sock_leave_multicast_v6."""
    __slots__ = ()
    record_type = JournalEntryRecordType.SocketLeaveIpv6MulticastV1
    fields = ("fd", "multi_addr", "iface")
    archive = _Archive("JournalEntrySocketLeaveIpv6MulticastV1", 24,
                       (0, U32, "fd"),
                       (4, IPV6, "multi_addr", "multiaddr"),
                       (20, U32, "iface"))


class SocketSendFileV1(JournalEntry):
    """sock_send_file."""
    __slots__ = ()
    record_type = JournalEntryRecordType.SocketSendFileV1
    fields = ("socket_fd", "file_fd", "offset", "count")
    archive = _Archive("JournalEntrySocketSendFileV1", 24,
                       (0, U32, "socket_fd"),
                       (4, U32, "file_fd"),
                       (8, U64, "offset"),
                       (16, U64, "count"))


class SocketSendToV1(JournalEntry):
    """sock_send_to; ``flags`` is the raw SiFlags bit set."""
    __slots__ = ()
    record_type = JournalEntryRecordType.SocketSendToV1
    fields = ("fd", "data", "flags", "addr", "is_64bit")
    archive = _Archive("JournalEntrySocketSendToV1", 56,
                       (0, U32, "fd"),
                       (4, BYTES, "data"),
                       (12, SIFLAGS, "flags"),
                       (16, SOCKADDR, "addr"),
                       (48, BOOL, "is_64bit"))


class SocketSendV1(JournalEntry):
    """sock_send; ``flags`` is the raw SiFlags bit set."""
    __slots__ = ()
    record_type = JournalEntryRecordType.SocketSendV1
    fields = ("fd", "data", "flags", "is_64bit")
    archive = _Archive("JournalEntrySocketSendV1", 16,
                       (0, U32, "fd"),
                       (4, BYTES, "data"),
                       (12, SIFLAGS, "flags"),
                       (14, BOOL, "is_64bit"))


class SocketSetOptFlagV1(JournalEntry):
    """sock_set_opt_flag."""
    __slots__ = ()
    record_type = JournalEntryRecordType.SocketSetOptFlagV1
    fields = ("fd", "opt", "flag")
    archive = _Archive("JournalEntrySocketSetOptFlagV1", 8,
                       (0, U32, "fd"),
                       (4, SOCKOPTION, "opt"),
                       (5, BOOL, "flag"))


class SocketSetOptSizeV1(JournalEntry):
    """sock_set_opt_size."""
    __slots__ = ()
    record_type = JournalEntryRecordType.SocketSetOptSizeV1
    fields = ("fd", "opt", "size")
    archive = _Archive("JournalEntrySocketSetOptSizeV1", 16,
                       (0, U32, "fd"),
                       (4, SOCKOPTION, "opt"),
                       (8, U64, "size"))


class SocketSetOptTimeV1(JournalEntry):
    """sock_set_opt_time; ``time`` is int nanoseconds or None."""
    __slots__ = ()
    record_type = JournalEntryRecordType.SocketSetOptTimeV1
    fields = ("fd", "ty", "time")
    archive = _Archive("JournalEntrySocketSetOptTimeV1", 32,
                       (0, U32, "fd"),
                       (4, TIME_TYPE, "ty"),
                       (8, DURATION_OPT, "time"))


class SocketShutdownV1(JournalEntry):
    """sock_shutdown."""
    __slots__ = ()
    record_type = JournalEntryRecordType.SocketShutdownV1
    fields = ("fd", "how")
    archive = _Archive("JournalEntrySocketShutdownV1", 8,
                       (0, U32, "fd"),
                       (4, SHUTDOWN_HOW, "how"))


class SnapshotV1(JournalEntry):
    """A snapshot ends here; ``when`` is int nanoseconds since the Unix epoch.

    Times before 1970 are stored as the epoch itself, as wasmer does.
    """
    __slots__ = ()
    record_type = JournalEntryRecordType.SnapshotV1
    fields = ("when", "trigger")
    archive = _Archive("JournalEntrySnapshotV1", 24,
                       (0, SYSTEM_TIME, "when", "since_epoch"),
                       (16, TRIGGER, "trigger"))


class OpenFileDescriptorV2(JournalEntry):
    """path_open with the descriptor's own flags (wasmer-6 layout only).

    ``fd_flags`` is the raw Fdflagsext bit set (CLOEXEC = 1).
    """
    __slots__ = ()
    record_type = JournalEntryRecordType.OpenFileDescriptorV2
    fields = ("fd", "dirfd", "dirflags", "path", "o_flags", "fs_rights_base",
              "fs_rights_inheriting", "fs_flags", "fd_flags")
    archive = _Archive("JournalEntryOpenFileDescriptorV2", 48,
                       (0, U32, "fd"),
                       (4, U32, "dirfd"),
                       (8, LOOKUPFLAGS, "dirflags"),
                       (12, FDFLAGS, "fs_flags"),
                       (14, FDFLAGSEXT, "fd_flags"),
                       (16, OFLAGS, "o_flags"),
                       (24, RIGHTS, "fs_rights_base"),
                       (32, RIGHTS, "fs_rights_inheriting"),
                       (40, STR, "path"))


class DuplicateFileDescriptorV2(JournalEntry):
    """fd_dup2 with close-on-exec (wasmer-6 layout only)."""
    __slots__ = ()
    record_type = JournalEntryRecordType.DuplicateFileDescriptorV2
    fields = ("original_fd", "copied_fd", "cloexec")
    archive = _Archive("JournalEntryDuplicateFileDescriptorV2", 16,
                       (0, U32, "original_fd"),
                       (4, U32, "copied_fd"),
                       (8, BOOL, "cloexec"))


class FileDescriptorSetFdFlagsV1(JournalEntry):
    """fd_fdflags_set; ``flags`` is the raw Fdflagsext bit set (wasmer-6 only)."""
    __slots__ = ()
    record_type = JournalEntryRecordType.FileDescriptorSetFdFlagsV1
    fields = ("fd", "flags")
    archive = _Archive("JournalEntryFileDescriptorSetFdFlagsV1", 8,
                       (0, U32, "fd"),
                       (4, FDFLAGSEXT, "flags"))


class SocketPairV1(JournalEntry):
    """sock_pair: two connected sockets (wasmer-6 layout only)."""
    __slots__ = ()
    record_type = JournalEntryRecordType.SocketPairV1
    fields = ("fd1", "fd2")
    archive = _Archive("JournalEntrySocketPairV1", 8,
                       (0, U32, "fd1"),
                       (4, U32, "fd2"))


#: The entry class of every record type, by record type.
ENTRY_CLASSES: Dict[JournalEntryRecordType, type] = {
    cls.record_type: cls for cls in JournalEntry.__subclasses__()}
assert len(ENTRY_CLASSES) == len(JournalEntryRecordType)
__all__ += [cls.__name__ for cls in ENTRY_CLASSES.values()]

# Indexed by the raw u16 record type for the hot read loop.
_CLASS_BY_CODE: List[Optional[type]] = [None] * (max(JournalEntryRecordType) + 1)
for _cls in ENTRY_CLASSES.values():
    _CLASS_BY_CODE[_cls.record_type] = _cls
del _cls


# ---------------------------------------------------------------------------
# The archive codec
# ---------------------------------------------------------------------------

# Builds a named tuple from its fields without the keyword handling of its
# constructor (LogReadResult, LogWriteResult, RecordInfo: hot paths).
_new_tuple = tuple.__new__

for _layout in _LAYOUTS.values():
    _layout._codecs = {cls: _Codec(cls, _layout) for cls in ENTRY_CLASSES.values()
                       if cls.record_type in _layout.record_types}
    _layout._by_code = [None] * len(_CLASS_BY_CODE)
    for _cls, _codec in _layout._codecs.items():
        _layout._by_code[_cls.record_type] = _codec
    _layout._types = [codec and codec.cls.record_type for codec in _layout._by_code]
del _layout, _cls, _codec
_DEFAULT_LAYOUT = get_layout(DEFAULT_LAYOUT)


def _record_layouts(code, buffer, start, end) -> Optional[frozenset]:
    """The layouts that can hold the record ``buffer[start:end]`` of raw
    type ``code``, judged by its bytes alone; None where all of them can."""
    rule = _EVIDENCE.get(code)
    if rule is None:
        return None
    layouts, size, bytes_at, boxed = rule
    if end - start < size:
        return layouts                  # too short for any: let decoding say why
    root = end - size
    for offset, table in bytes_at:
        found = table.get(buffer[root + offset])
        if found is not None:
            layouts = found if layouts is None else layouts & found
    if boxed:
        # A [u8; 8] hash is the whole (8-aligned) body; a Box<[u8]> puts its
        # 8 or 32 bytes before the 8-byte root.  An empty Box (which wasmer's
        # runtime never writes) is 8 zero bytes too: it reads as one only
        # where earlier records said the layout is boxed.
        layouts = _BOXED_HASH_LAYOUTS if end - start > 8 else _INLINE_HASH_LAYOUTS
    return layouts


def _build_evidence():
    """For each record type whose bytes differ between layouts: the layouts
    that hold the type, its root size, {root offset: {byte: layouts}}, and
    whether the InitModuleV1 hash rule applies."""
    evidence = {}
    for cls in ENTRY_CLASSES.values():
        holders = frozenset(layout for layout in _ALL_LAYOUTS
                            if cls.record_type in layout.record_types)
        codecs = [layout._codecs[cls] for layout in holders]
        bytes_at = []
        for position, field in enumerate(cls.archive.fields if cls.archive else ()):
            if field.type.vector or field.type.fmt != "B":
                continue
            if any(codec.fields[position].type.decode is None for codec in codecs):
                continue                            # every byte is valid everywhere
            tables = {}
            for codec in codecs:
                decode = codec.fields[position].type.decode
                for raw in decode.accepts:          # the bytes a u8 field's decode takes
                    tables.setdefault(raw, set()).add(codec.layout)
            if any(layouts != holders for layouts in tables.values()):
                bytes_at.append((field.offset, {raw: frozenset(layouts)
                                                for raw, layouts in tables.items()}))
        boxed = cls is InitModuleV1
        if holders != _ALL_LAYOUTS or bytes_at or boxed:
            evidence[cls.record_type] = (None if holders == _ALL_LAYOUTS else holders,
                                         cls.archive.size if cls.archive else 0,
                                         tuple(bytes_at), boxed)
    return evidence


_BOXED_HASH_LAYOUTS = frozenset(l for l in _ALL_LAYOUTS if l.boxed_hash)
_INLINE_HASH_LAYOUTS = _ALL_LAYOUTS - _BOXED_HASH_LAYOUTS
_EVIDENCE = _build_evidence()
#: Raw record types whose bytes can tell layouts apart (the read loops
#: test membership before looking).
_EVIDENCE_CODES = frozenset(_EVIDENCE)
# The rules that are one byte of a type every layout holds (whence, clock
# id, advice, trigger), as (root size, its offset, {byte: layouts}) with only
# the bytes that narrow: a seek's usual whence says nothing, quickly.
_EVIDENCE_BYTE = {code: (size, bytes_at[0][0], {
    raw: layouts for raw, layouts in bytes_at[0][1].items() if layouts != _ALL_LAYOUTS})
    for code, (holders, size, bytes_at, boxed) in _EVIDENCE.items()
    if holders is None and len(bytes_at) == 1 and not boxed}

# The same rules for a loop's quick test, as (root size - offset, the
# bytes that narrow): a record shorter than its root is no evidence either.
_EVIDENCE_QUIET = {code: (size - offset, frozenset(table))
                   for code, (size, offset, table) in _EVIDENCE_BYTE.items()}


class _LayoutTracker:
    """The layouts a journal segment can be in, narrowed record by record.

    ``codecs`` are those of the newest candidate: every candidate decodes
    what has been seen the same way, and a record only one era can hold
    narrows the candidates before it is decoded.
    """

    __slots__ = ("start", "layouts", "codecs", "types", "narrowing", "scan")

    def __init__(self, layouts=_ALL_LAYOUTS):
        self.start = layouts
        self.reset()

    def reset(self):
        """A new segment (a magic number): every candidate again."""
        self._narrow_to(self.start)

    def _narrow_to(self, layouts):
        self.layouts = layouts
        newest = _newest(layouts)
        self.codecs = newest._by_code
        self.types = newest._types
        self.narrowing, self.scan = _scan_types(layouts)

    def see(self, code, buffer, start, end):
        """Narrow by the record of raw type ``code`` at ``buffer[start:end]``."""
        rule = _EVIDENCE_BYTE.get(code)
        if rule is not None:
            size, offset, table = rule
            found = table.get(buffer[end - size + offset]) if end - start >= size else None
        else:
            found = _record_layouts(code, buffer, start, end)
        if found is not None:
            narrowed = self.layouts & found
            if narrowed and narrowed != self.layouts:
                self._narrow_to(narrowed)

    def types_at(self, code, buffer, start, end):
        """The record types after seeing the record of raw type ``code``
        at ``buffer[start:end]`` (a header scan's slow path, where
        ``scan[code]`` is None): ``types`` after see(), for a type the
        layouts hold whose body is in the buffer."""
        types = self.types
        if code < len(types) and types[code] is not None and end <= len(buffer):
            self.see(code, buffer, start, end)
            types = self.types
        return types


_SCAN_TYPES = {}


def _scan_types(layouts) -> Tuple[frozenset, list]:
    """The raw types whose records can still narrow ``layouts``, and the
    list raw type -> JournalEntryRecordType of the newest of them with None
    for those and for the types it lacks (so that a header scan tests one
    list)."""
    found = _SCAN_TYPES.get(layouts)
    if found is None:
        narrowing = _EVIDENCE_CODES if len(layouts) > 1 else frozenset()
        found = _SCAN_TYPES[layouts] = (narrowing, [
            None if code in narrowing else record_type
            for code, record_type in enumerate(_newest(layouts)._types)])
    return found


class _FieldInvalid(_Invalid):
    def __init__(self, message, field):
        super().__init__(message)
        self.field = field


class _LZ4Invalid(_FieldInvalid):
    """The compressed memory of an UpdateMemoryRegionV1 does not decode."""


def _codec_for(entry, layout: Layout) -> _Codec:
    """The codec of ``entry``'s class in ``layout``, or a clear error."""
    codec = layout._codecs.get(type(entry))
    if codec is not None:
        return codec
    if not isinstance(entry, JournalEntry) or type(entry) is JournalEntry:
        raise TypeError("expected a journal entry, got %s" % type(entry).__name__)
    cls = ENTRY_CLASSES.get(entry.record_type)
    codec = layout._codecs.get(cls)
    if codec is None:
        raise EntryValueError("%s cannot be stored in layout %s (%s): it has no "
                              "record type %d" % (cls.__name__, layout.name,
                                                  layout.releases, entry.record_type))
    return codec


# Record encoders: one generated function per codec, ``encode(entry,
# position) -> header + body`` with the header at ``position`` (the
# writers' hot path).  ``_Codec.encoder_source`` holds the code; for a
# struct without out-of-line data it is one Struct.pack per alignment
# phase, header and padding included as a constant prefix.  Its twin
# ``append(entry, position, out) -> length`` (``appender_source``) appends
# the same bytes to a bytearray: for records with out-of-line data that
# saves joining them first: write_many, which appends to its chunk, went
# 20 % faster on a mix of 1 KiB writes and paths.  (An appender that
# raises may leave part of a record behind: write_many drops its chunk.)

# A record whose root starts this far after it (or less) has every
# relative pointer in reach (they reach 2 GiB back, and a root is short).
_LARGE_ROOT = (1 << 31) - 4096
# Zero padding, by length (up to an alignment of 16).
_PADS = tuple(bytes(n) for n in range(16))


def _too_large(cls, name, size):
    return EntryValueError("%s.%s is too large to archive (%d bytes)"
                           % (cls.__name__, name, size))


# Names the generated encoders and decoders use themselves (a field of
# that name is renamed with a trailing "_").
_RESERVED_NAMES = frozenset(("entry", "position", "here", "root", "size", "pad", "cls",
                             "buf", "start", "end", "base", "max_uncompressed", "out",
                             "record", "tail", "head", "pack", "prefix", "len"))


def _encoder_source(codec, append: bool = False) -> Tuple[str, dict]:
    """The source of ``codec``'s record encoder (or appender), and its globals."""
    cls = codec.cls
    names = {name: (name + "_" if name in _RESERVED_NAMES else name) for name in cls.fields}
    namespace = {"_too_large": _too_large, "cls": cls}
    header = _header_struct.pack
    lines = [("def append_%s(entry, position, out):" if append
              else "def encode_%s(entry, position):") % cls.__name__]
    if codec.unit is not None:                  # no body at all
        namespace["_RECORD"] = header(cls.record_type, 0, 0)
        lines += ["    out += _RECORD", "    return 8"] if append else ["    return _RECORD"]
        return "\n".join(lines) + "\n", namespace
    if cls.fields:
        lines.append("    %s%s = entry" % (", ".join(names[name] for name in cls.fields),
                                            "," if len(cls.fields) == 1 else ""))
    encode = {index: function for index, function in codec.encoders}
    values = []                                  # root values, in root order
    vectors = []
    for field in sorted(codec.fields, key=operator.attrgetter("offset")):
        var = names[field.name]
        index = codec.value_index[field.name]
        if field.type.vector:
            vectors.append((var, field))
            values += [var + "_at", var + "_len"]
        elif index in encode:
            namespace["_encode_" + var] = encode[index]
            values.append("_encode_%s(%s)" % (var, var))
        else:
            values.append(var)
    if not vectors:
        # The body is padding to 8 and the root: constant per phase.
        phases = []
        for phase in range(8):
            pad = -(phase + RECORD_HEADER_SIZE) & 7
            prefix = header(cls.record_type, 0, pad + codec.size) + bytes(pad)
            phases.append((struct.Struct("<%ds" % len(prefix) + codec.root.format[1:]).pack,
                           prefix))
        namespace["_PHASES"] = tuple(phases)
        lines.append("    pack, prefix = _PHASES[position & 7]")
        if append:
            lines.append("    record = pack(prefix, %s)" % ", ".join(values))
            lines += ["    out += record", "    return len(record)"]
        else:
            lines.append("    return pack(prefix, %s)" % ", ".join(values))
        return "\n".join(lines) + "\n", namespace
    # Out-of-line data first, each padded to its alignment, in field order;
    # then the root, padded to 8, pointing back at them.  Offsets are from
    # ``position``: the header and the first padding are one pack per
    # phase, the last padding and the root one pack per padding.
    first = vectors[0][1]
    heads = []
    for phase in range(16):
        pad = -(phase + RECORD_HEADER_SIZE) & (first.type.align - 1)
        heads.append((struct.Struct(">Q%dx" % pad).pack, RECORD_HEADER_SIZE + pad))
    namespace["_HEADS"] = tuple(heads)
    namespace["_ROOTS"] = tuple(struct.Struct("<%dx" % pad + codec.root.format[1:]).pack
                                for pad in range(8))
    namespace["_PADS"] = _PADS
    pieces = []
    relative = {}
    for number, (var, field) in enumerate(vectors):
        kind = field.type.vector
        if kind == "str":
            lines.append("    %s = %s.encode('utf-8')" % (var, var))
        elif kind == "lz4":
            lines.append("    %s = entry.compressed_data" % var)
        if not number:
            lines.append("    head, %s_at = _HEADS[position & 15]" % var)
        elif field.type.align > 1:
            lines.append("    %s_pad = -(position + here) & %d" % (var, field.type.align - 1))
            lines.append("    %s_at = here + %s_pad" % (var, var))
            pieces.append("_PADS[%s_pad]" % var)
        else:
            lines.append("    %s_at = here" % var)
        pieces.append(var)
        lines.append("    %s_len = len(%s)" % (var, var))
        lines.append("    here = %s_at + %s_len" % (var, var))
        relative[var + "_at"] = "%s_at - root%s" % (var, " - %d" % field.offset
                                                    if field.offset else "")
    lines.append("    pad = -(position + here) & 7")
    lines.append("    root = here + pad")
    # Below this every relative pointer reaches: test each only above it.
    lines.append("    if root > %d:" % _LARGE_ROOT)
    for var, field in vectors:
        lines.append("        if %s < -2147483648 or %s_len > 4294967295:"
                     % (relative[var + "_at"], var))
        lines.append("            raise _too_large(cls, %r, %s_len)" % (field.name, var))
    head = "head(%d << 48 | root + %d)" % (cls.record_type, codec.size - RECORD_HEADER_SIZE)
    tail = "_ROOTS[pad](%s)" % ", ".join(relative.get(value, value) for value in values)
    if append:
        lines.append("    tail = " + tail)
        lines += ["    out += %s" % piece for piece in [head] + pieces + ["tail"]]
        lines.append("    return root + %d" % codec.size)
    else:
        lines.append("    return b''.join((%s, %s, %s))" % (head, ", ".join(pieces), tail))
    return "\n".join(lines) + "\n", namespace


def _compile_encoder(codec, append: bool = False):
    """``codec``'s record encoder (or appender), compiled from _encoder_source."""
    source, namespace = _encoder_source(codec, append)
    name = codec.cls.__name__
    exec(compile(source, "<%s of %s>" % ("appender" if append else "encoder", name), "exec"),
         namespace)
    if append:
        codec.appender_source = source
        return namespace["append_" + name]
    codec.encoder_source = source
    return namespace["encode_" + name]


# Body decoders: one generated function per codec for the read loops,
# ``decode(buf, start, end, base, max_uncompressed) -> entry``, doing what
# _decode_body does in straight-line code.  Where anything is wrong it
# hands the body to _decode_body, so every error is that one's, exactly.

def _decoder_source(codec) -> Tuple[str, dict]:
    """The source of ``codec``'s body decoder, and its globals."""
    cls = codec.cls
    names = {name: (name + "_" if name in _RESERVED_NAMES else name) for name in cls.fields}
    namespace = {"_Invalid": _Invalid, "_new": tuple.__new__, "cls": cls,
                 "_unpack": codec.root.unpack_from, "_unit": codec.unit,
                 "_exactly": functools.partial(_decode_body, codec)}
    lines = ["def decode_%s(buf, start, end, base, max_uncompressed):" % cls.__name__]
    if codec.unit is not None:
        lines.append("    return _unit")
        return "\n".join(lines) + "\n", namespace
    lines += ["    root = end - %d" % codec.size,
              "    if root < start or base is not None and ((start - base) | (root - base)) & 7:",
              "        return _exactly(buf, start, end, base, max_uncompressed)"]
    values = []
    for field in sorted(codec.fields, key=operator.attrgetter("offset")):
        var = names[field.name]
        values += [var + "_at", var + "_len"] if field.type.vector else [var]
    if codec.plain:
        lines.append("    return _new(cls, _unpack(buf, root))")
        return "\n".join(lines) + "\n", namespace
    lines.append("    %s%s = _unpack(buf, root)" % (", ".join(values),
                                                 "," if len(values) == 1 else ""))
    lower = "start"
    for _, offset, field in codec.vectors:              # in declaration order
        var = names[field.name]
        lines += ["    %s_at += root%s" % (var, " + %d" % offset if offset else ""),
                  "    if %s_at < %s or %s_at + %s_len > root:" % (var, lower, var, var),
                  "        return _exactly(buf, start, end, base, max_uncompressed)",
                  "    %s = buf[%s_at:%s_at + %s_len]" % (var, var, var, var),
                  "    if type(%s) is not bytes:" % var,
                  "        %s = bytes(%s)" % (var, var)]
        lower = "%s_at + %s_len" % (var, var)
    decoded = {position: function for position, function in codec.decoders}
    items = []
    for position, name in enumerate(cls.fields):
        var = names[name]
        function = decoded.get(position)
        if function is None:
            items.append(var)
        elif getattr(function, "table", None) is not None:    # a bool or an enum
            namespace["_table_" + var] = function.table
            items.append("_table_%s[%s]" % (var, var))
        elif function is _decode_utf8:
            items.append("%s.decode('utf-8')" % var)
        else:
            namespace["_decode_" + var] = function
            items.append("_decode_%s(%s)" % (var, var))
    item_tuple = "(%s%s)" % (", ".join(items), "," if len(items) == 1 else "")
    if not decoded:
        lines.append("    return _new(cls, %s)" % item_tuple)
    else:
        lines += ["    try:",
                  "        return _new(cls, %s)" % item_tuple,
                  "    except (_Invalid, KeyError, UnicodeDecodeError):",
                  "        return _exactly(buf, start, end, base, max_uncompressed)"]
    return "\n".join(lines) + "\n", namespace


def _compile_decoder(codec):
    """``codec``'s body decoder, compiled from _decoder_source (a memory
    update, which decompresses, keeps _decode_body)."""
    if codec.lz4_index is not None:
        decoder = functools.partial(_decode_body, codec)
        codec.decoder_source = None
        return decoder
    source, namespace = _decoder_source(codec)
    exec(compile(source, "<decoder of %s>" % codec.cls.__name__, "exec"), namespace)
    codec.decoder_source = source
    return namespace["decode_" + codec.cls.__name__]


def encode_entry(entry: JournalEntry, position: int = 0,
                 layout: Union[str, Layout, None] = None) -> bytes:
    """The archived body of ``entry`` when it is written at ``position``.

    ``position`` is the serializer position of the body's first byte: its
    offset in the file, counted from the start of the journal segment.  It
    decides the alignment padding, as rkyv's ``serialize_value`` does: each
    byte vector or string is padded to 16 and written first, in field order,
    then the root struct is padded to 8 and written last.  ``layout`` (a
    Layout or its name; default DEFAULT_LAYOUT) is the era to write in: an
    entry it cannot hold raises EntryValueError.
    """
    codec = _codec_for(entry, _DEFAULT_LAYOUT if layout is None else get_layout(layout))
    return codec.encode_record(entry, position - RECORD_HEADER_SIZE)[RECORD_HEADER_SIZE:]


def encode_record(entry: JournalEntry, position: int,
                  layout: Union[str, Layout, None] = None) -> bytes:
    """Header and body of ``entry`` as written with its header at ``position``."""
    codec = _codec_for(entry, _DEFAULT_LAYOUT if layout is None else get_layout(layout))
    return codec.encode_record(entry, position)


def _decode_body(codec, buf, start, end, base, max_uncompressed):
    """Decode and validate the body ``buf[start:end]`` with ``codec``.

    ``base`` is where the journal segment starts (alignment counts from
    it; None skips the alignment check).  Checks what rkyv's validation
    checks: the root fits and is aligned, every byte vector lies before the
    root and after the previous one, bools are 0 or 1, enum and Option tags
    are known to the layout; strings must also be UTF-8.  Raises _Invalid.
    """
    if codec.unit is not None:
        return codec.unit                # wasmer ignores the body of () records
    cls = codec.cls
    root_pos = end - codec.size
    if root_pos < start:
        raise _Invalid("body of %d bytes is shorter than %s (%d bytes)"
                       % (end - start, codec.name, codec.size))
    if base is not None and ((start - base) & 7 or (root_pos - base) & 7):
        raise _Invalid("%s at offset %d is not 8-aligned" % (codec.name, root_pos))
    values = codec.root.unpack_from(buf, root_pos)
    if codec.plain:
        return tuple.__new__(cls, values)
    if codec.vectors:
        values = list(values)
        lower = start
        for value_index, offset, field in codec.vectors:
            length = values[value_index + 1]
            data = root_pos + offset + values[value_index]
            if data < lower or data + length > root_pos:
                raise _FieldInvalid("%d bytes at offset %d lie outside the body's "
                                    "free range %d..%d" % (length, data, lower, root_pos),
                                    field.archived_name)
            raw = buf[data:data + length]
            # bytes and mmap slice to bytes; bytearray and memoryview do not
            values[value_index] = raw if type(raw) is bytes else bytes(raw)
            lower = data + length
    items = codec.decode_getter(values)
    decoders = codec.decoders
    lz4_index = codec.lz4_index
    if not decoders and lz4_index is None:
        return tuple.__new__(cls, items)
    items = list(items)
    try:
        for position, decode in decoders:
            items[position] = decode(items[position])
    except _Invalid as exc:
        for field in codec.fields:
            decode = field.type.decode
            if decode is not None:
                try:
                    decode(values[codec.value_index[field.name]])
                except _Invalid:
                    raise _FieldInvalid(str(exc), field.archived_name) from None
        raise
    if lz4_index is None:
        return tuple.__new__(cls, items)
    compressed = items[lz4_index]
    items[lz4_index] = _decompress_region(compressed, max_uncompressed)
    entry = tuple.__new__(cls, items)
    object.__setattr__(entry, "_compressed", compressed)
    return entry


def _decompress_region(compressed, max_uncompressed):
    try:
        return _lz4_decompress_prepended(compressed, max_uncompressed)
    except _LZ4Error as exc:
        raise _LZ4Invalid(str(exc), "compressed_data") from None


def _corrupt(exc: _Invalid, offset: int) -> CorruptRecordError:
    error = DecompressionError if isinstance(exc, _LZ4Invalid) else CorruptRecordError
    return error(str(exc), offset, getattr(exc, "field", None))


def decode_entry(record_type: int, body: bytes, position: int = 0, *,
                 layout: Union[str, Layout, None] = None,
                 max_uncompressed_size: int = DEFAULT_MAX_UNCOMPRESSED_SIZE
                 ) -> JournalEntry:
    """Decode and validate one record body.

    ``position`` is where the body starts, counted from the start of its
    journal segment (it matters for alignment checks only).  ``layout``
    is the era to read it in; by default the body's own bytes decide, as
    they do for a journal's first record.  Raises CorruptRecordError
    (offset: ``position``) on an invalid body, and ValueError on a record
    type the layout (or every layout) lacks.
    """
    if layout is None:
        tracker = _LayoutTracker()
        if record_type in _EVIDENCE_CODES:
            tracker.see(record_type, body, 0, len(body))
        codecs = tracker.codecs
    else:
        codecs = get_layout(layout)._by_code
    codec = codecs[record_type] if 0 <= record_type < len(codecs) else None
    if codec is None:
        raise ValueError("unknown record type %r" % (record_type,))
    try:
        return _decode_body(codec, body, 0, len(body), -position, max_uncompressed_size)
    except _Invalid as exc:
        raise _corrupt(exc, position) from None


# ---------------------------------------------------------------------------
# Reading: the record scanner and LogFileJournalRx
# ---------------------------------------------------------------------------

_MAX_CODE = len(_CLASS_BY_CODE)


def _check_magic(buffer, size: int) -> int:
    """Where records start: 8 past the magic, or 0 for a buffer under 8 bytes."""
    if size < RECORD_HEADER_SIZE:
        return 0          # wasmer treats a buffer shorter than the magic as empty
    if buffer[:RECORD_HEADER_SIZE] != JOURNAL_MAGIC_NUMBER_BYTES:
        raise InvalidMagicError("invalid magic number %s (expected %s)"
                                % (bytes(buffer[:8]).hex(), JOURNAL_MAGIC_NUMBER_BYTES.hex()), 0)
    return RECORD_HEADER_SIZE


def iter_records(buffer, start: int = 0) -> Iterator[RecordInfo]:
    """Locate the records of a journal buffer without decoding their bodies.

    Follows the reader's rules: the magic at ``start`` is checked, a magic
    between records starts a new segment, and the scan ends where reading
    would (a record type unknown to the segment's layout, or a header or
    body cut short).  Raises InvalidMagicError.
    """
    size = len(buffer)
    pos = start + _check_magic(memoryview(buffer)[start:], size - start)
    segment = start
    unpack = _header_struct.unpack_from
    tracker = _LayoutTracker()
    scan = tracker.scan
    quiet = _EVIDENCE_QUIET
    new, info = _new_tuple, RecordInfo          # (locals: this loop is the scan)
    last = size - RECORD_HEADER_SIZE            # the last place a header fits
    while pos <= last:
        code, high, low = unpack(buffer, pos)
        body = pos + 8                          # RECORD_HEADER_SIZE
        end = body + (high << 32 | low)
        try:
            record_type = scan[code]
        except IndexError:
            record_type = None
        if record_type is None:
            # Layout evidence, a type the layouts lack, or a magic number.
            rule = quiet.get(code)
            if rule is not None and end <= size and buffer[end - rule[0]] not in rule[1]:
                record_type = tracker.types[code]      # a byte that says nothing
            else:
                types = tracker.types_at(code, buffer, body, end)
                scan = tracker.scan
                record_type = types[code] if code < len(types) else None
            if record_type is None:
                if buffer[pos:pos + 8] == JOURNAL_MAGIC_NUMBER_BYTES:
                    segment = pos
                    tracker.reset()
                    scan = tracker.scan
                    pos += RECORD_HEADER_SIZE
                    continue
                return
        if end > size:
            return
        yield new(info, (pos, record_type, body, end, segment))
        pos = end


def _scan_layouts(buffer, pos: int, stop: int, layouts=_ALL_LAYOUTS) -> frozenset:
    """Narrow ``layouts`` by the records of one segment from ``pos`` (a
    header, or the segment's magic) up to ``stop``."""
    tracker = _LayoutTracker(layouts)
    unpack = _header_struct.unpack_from
    evidence = _EVIDENCE_CODES
    stop = min(stop, len(buffer))           # an empty buffer's "segment" ends past it
    if buffer[pos:pos + 8] == JOURNAL_MAGIC_NUMBER_BYTES:
        pos += RECORD_HEADER_SIZE
    while stop - pos >= RECORD_HEADER_SIZE:
        code, high, low = unpack(buffer, pos)
        end = pos + RECORD_HEADER_SIZE + (high << 32 | low)
        if end > stop or code >= _MAX_CODE or tracker.codecs[code] is None:
            break
        if code in evidence:
            tracker.see(code, buffer, pos + RECORD_HEADER_SIZE, end)
        pos = end
    return tracker.layouts


def _segment_layouts(buffer) -> List[Tuple[int, frozenset]]:
    """(offset, layouts) of each segment of a journal buffer."""
    found = []
    for info in _segments(buffer):
        found.append((info[0], _scan_layouts(buffer, info[0], info[1])))
    return found


def _segments(buffer) -> List[Tuple[int, int]]:
    """(start, end) of each segment: from its magic to the next one (or to
    where reading stops)."""
    starts = [0]
    last_end = 0
    for info in iter_records(buffer):
        if info.segment_start != starts[-1]:
            starts.append(info.segment_start)
        last_end = info.record_end
    ends = starts[1:] + [max(last_end, starts[-1] + RECORD_HEADER_SIZE)]
    return list(zip(starts, ends))


def _layout_names(layouts) -> Tuple[str, ...]:
    return tuple(name for name in LAYOUTS if _LAYOUTS[name] in layouts)


_CLOSED = "I/O operation on closed journal"

_new_read_result = functools.partial(tuple.__new__, LogReadResult)


def _header_run(buffer, pos: int, step: int, most: int) -> Tuple[int, int]:
    """How many records of ``step`` bytes from ``pos`` (at most ``most``)
    have the header of the first, and where they end.  Compares the i-th
    byte of every header at once, as one strided slice."""
    run = most
    stop = pos + most * step
    header = buffer[pos:pos + RECORD_HEADER_SIZE]
    for i in range(RECORD_HEADER_SIZE):
        lane = buffer[pos + i:stop:step]
        if type(lane) is memoryview:
            lane = lane.tobytes()
        same = most - len(lane.lstrip(header[i:i + 1]))
        if same < run:
            run = same
    return run, pos + run * step

# How many bytes of records iteration decodes ahead at most (and 64 records).
_BATCH_BYTES = 4 << 20


def _read_to_end(fd: int) -> bytes:
    """Everything ``fd`` still gives, read in 1 MiB pieces."""
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _file_contents(fd: int):
    """What a journal reader sees of an open file: a read-only mapping of a
    regular file; the bytes of a pipe, FIFO or socket read to their end (or
    of a file that says it is empty, as /proc files do).  A directory or a
    device raises: neither is a journal."""
    status = os.fstat(fd)
    mode = status.st_mode
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        raise UnsupportedOperationError(
            "a %s device is not a journal file (read it through a pipe or a copy)"
            % ("character" if stat.S_ISCHR(mode) else "block"))
    if not stat.S_ISREG(mode) or status.st_size == 0:
        return _read_to_end(fd)
    return mmap.mmap(fd, status.st_size, access=mmap.ACCESS_READ)


class LogFileJournalRx:
    """Reads the records of a journal buffer, in order.

    The buffer is a snapshot: a file's records appended after the reader
    was made are not seen until ``as_restarted()``.  ``read()`` returns the
    next LogReadResult, or None at the end; ``stop`` then says why reading
    ended early (unknown record type, or a tail cut short), if it did.

    With ``strict=True`` a record cut short raises TruncatedRecordError
    instead of ending the journal.  An UpdateMemoryRegionV1 may claim at
    most ``max_uncompressed_size`` bytes of memory.
    """

    def __init__(self, buffer, *, strict: bool = False,
                 max_uncompressed_size: int = DEFAULT_MAX_UNCOMPRESSED_SIZE,
                 layout: Union[str, Layout, None] = None,
                 _reopen: Optional[Callable[[], "LogFileJournalRx"]] = None,
                 _mapping: Optional[mmap.mmap] = None) -> None:
        self._buffer = buffer
        self._size = len(buffer)
        self._mapping = _mapping
        self._reopen = _reopen
        self._lock = threading.Lock()
        self.strict = strict
        self.max_uncompressed_size = max_uncompressed_size
        self.stop: Optional[JournalStop] = None
        self._pos = _check_magic(buffer, self._size)
        self._segment = 0
        self._forced_layout = None if layout is None else get_layout(layout)
        self._tracker = _LayoutTracker(_ALL_LAYOUTS if layout is None
                                       else frozenset((self._forced_layout,)))
        self._segment_layouts = None
        self._closed = False
        self._ahead: List[LogReadResult] = []    # decoded by read(), last first

    @classmethod
    def _from_fd(cls, fd: int, **options) -> "LogFileJournalRx":
        contents = _file_contents(fd)
        if not isinstance(contents, mmap.mmap):
            return cls(contents, **options)
        mapping = contents
        try:
            return cls(mapping, _mapping=mapping, **options)
        except BaseException:
            mapping.close()
            raise

    def read(self) -> Optional[LogReadResult]:
        """The next record, or None when there are no more."""
        try:
            return self._ahead.pop()    # atomic: no lock needed to take one
        except IndexError:
            return self._read_ahead()

    def _read_ahead(self) -> Optional[LogReadResult]:
        # Decode ahead: up to 64 records of the segment, kept last first.
        # position, segment_start and stop still describe the records
        # read() has returned.
        with self._lock:
            ahead = self._ahead
            if not ahead:
                if self._closed:
                    raise ValueError(_CLOSED)
                ahead = self._next_batch(64, True, ahead=True)
                if not ahead:
                    return None
                ahead.reverse()
                self._ahead = ahead
            return ahead.pop()

    def _next_batch(self, limit: int, results: bool, ahead: bool = False) -> list:
        """Up to ``limit`` next records (LogReadResult, or entries when not
        ``results``), under self._lock; empty at the end.  A batch also
        ends after _BATCH_BYTES of records (64 memory updates of 1 MiB
        would otherwise be held at once): their size, and what their
        memory decompresses to.  With ``ahead`` (read()'s read-ahead) it
        also ends before a new segment, and leaves ``stop`` to the call
        that finds nothing more.

        What read() decoded ahead comes first.  A corrupt record raises
        once the records before it are returned.
        """
        if self._ahead:
            batch, self._ahead = self._ahead, []
            batch.reverse()
            return batch if results else [result.record for result in batch]
        buffer = self._buffer
        size = self._size
        pos = self._pos
        held = 0                        # bytes of records decoded (memory: uncompressed)
        segment = self._segment
        max_uncompressed = self.max_uncompressed_size
        unpack = _header_struct.unpack_from
        tracker = self._tracker
        codecs = tracker.codecs
        narrowing = tracker.narrowing
        quiet = _EVIDENCE_QUIET
        batch_bytes = _BATCH_BYTES
        last = size - RECORD_HEADER_SIZE            # the last place a header fits
        batch = []
        while len(batch) < limit:
            if pos > last:
                if pos < size:
                    self.stop = JournalStop("truncated-header", pos)
                    if self.strict and not batch:
                        raise TruncatedRecordError(
                            "%d bytes after the last record are not a record header"
                            % (size - pos), pos)
                break
            code, high, low = unpack(buffer, pos)
            try:
                codec = codecs[code]
            except IndexError:
                codec = None
            if codec is None:
                if buffer[pos:pos + 8] == JOURNAL_MAGIC_NUMBER_BYTES:
                    if ahead and batch:
                        break
                    self._segment = segment = pos          # a concatenated journal
                    tracker.reset()
                    codecs = tracker.codecs
                    narrowing = tracker.narrowing
                    pos += RECORD_HEADER_SIZE
                    continue
                self.stop = JournalStop("unknown-record-type", pos, code)
                break
            start = pos + RECORD_HEADER_SIZE
            end = start + (high << 32 | low)
            if end > size:
                self.stop = JournalStop("truncated-body", pos, code)
                if self.strict and not batch:
                    raise TruncatedRecordError(
                        "%s record of %d bytes runs %d bytes past the end"
                        % (codec.cls.__name__, end - start, end - size), pos)
                break
            if code in narrowing:
                rule = quiet.get(code)
                if rule is None or buffer[end - rule[0]] in rule[1]:
                    tracker.see(code, buffer, start, end)
                    codecs = tracker.codecs
                    narrowing = tracker.narrowing
                    codec = codecs[code]
                    if codec is None:        # e.g. type 61 in a wasmer-4.3 journal
                        self.stop = JournalStop("unknown-record-type", pos, code)
                        break
            elif (codec.plain and end - start == codec.size and not (start - segment) & 7
                  and limit - len(batch) > 1 and end < last
                  and buffer[end + 1] == buffer[pos + 1]     # (a quick look first)
                  and buffer[end:end + 8] == buffer[pos:pos + 8]):
                # The next record has the same header: decode the run at once.
                run, stop = _header_run(buffer, pos, end - pos, min(
                    limit - len(batch), (size - pos) // (end - pos),
                    max(2, (batch_bytes - held) // (end - pos))))
                entries = map(codec.run_new, codec.run_struct.iter_unpack(buffer[pos:stop]))
                if results:
                    batch += map(_new_read_result, zip(
                        range(start, stop, end - pos), range(end, stop + 1, end - pos),
                        entries))
                else:
                    batch += entries
                held += stop - pos - run * RECORD_HEADER_SIZE
                pos = stop
                continue
            try:
                entry = codec.decode(buffer, start, end, segment, max_uncompressed)
            except _Invalid as exc:
                if batch:
                    break                    # raise when this record is next
                self._pos = pos
                raise _corrupt(exc, pos) from None
            batch.append(_new_tuple(LogReadResult, (start, end, entry)) if results else entry)
            pos = end
            held += end - start
            if codec.lz4_index is not None:
                held += len(entry[codec.lz4_index])
            if held > batch_bytes:
                break
        self._pos = pos
        if ahead and batch:
            self.stop = None            # found again once these are read
        return batch

    def __iter__(self) -> Iterator[JournalEntry]:
        """The remaining entries (LogReadResult.record), in order."""
        return self._iterate(False)

    def records(self) -> Iterator[LogReadResult]:
        """The remaining records as LogReadResult, in order."""
        return self._iterate(True)

    def _iterate(self, results: bool):
        if self._closed:
            raise ValueError(_CLOSED)
        lock = self._lock
        next_batch = self._next_batch
        while True:
            with lock:       # 64 records a time: other threads may read in between
                if self._closed:
                    return   # closed by another thread meanwhile: a clean stop
                batch = next_batch(64, results)
            if not batch:
                return
            yield from batch

    def scan(self) -> Iterator[RecordInfo]:
        """Locate every record of the buffer without decoding bodies."""
        if self._closed:
            raise ValueError(_CLOSED)
        return iter_records(self._buffer)

    def as_restarted(self) -> "LogFileJournalRx":
        """A new reader from the first record, of the journal as it is now."""
        if self._closed:
            raise ValueError(_CLOSED)
        options = dict(strict=self.strict, max_uncompressed_size=self.max_uncompressed_size,
                       layout=self._forced_layout)
        if self._reopen is not None:
            return self._reopen()
        return LogFileJournalRx(self._buffer, **options)

    @property
    def segment_layouts(self) -> List[Tuple[int, Tuple[str, ...]]]:
        """Each segment's offset (its magic number) and the names of the
        layouts its records fit, oldest first (one name: the layout is known).

        Computed once, by a pass over the records' headers and the few
        bytes that differ between layouts.
        """
        if self._segment_layouts is None:
            if self._forced_layout is not None:
                found = [(0, (self._forced_layout.name,))]
            else:
                found = [(start, _layout_names(layouts))
                         for start, layouts in _segment_layouts(self._buffer)]
            self._segment_layouts = found
        return self._segment_layouts

    @property
    def layouts(self) -> Tuple[str, ...]:
        """The layouts every segment of the journal fits, oldest first.

        Several names: nothing in the file tells them apart, and each reads
        and rewrites it to the same bytes.  Empty: the segments disagree (a
        concatenation of journals of different eras; see segment_layouts).
        """
        common = None
        for _, names in self.segment_layouts:
            common = set(names) if common is None else common & set(names)
        if common is None:
            return LAYOUTS if self._forced_layout is None else (self._forced_layout.name,)
        return tuple(name for name in LAYOUTS if name in common)

    @property
    def layout(self) -> Optional[str]:
        """The journal's layout when only one fits it, else None (see layouts)."""
        layouts = self.layouts
        return layouts[0] if len(layouts) == 1 else None

    def owned_buffer(self) -> memoryview:
        """The bytes this reader sees, as a read-only view (no copy).

        Release the view before closing the journal: a mapping cannot be
        closed while views of it exist.
        """
        if self._closed:
            raise ValueError(_CLOSED)
        return memoryview(self._buffer).toreadonly()

    @property
    def position(self) -> int:
        """Offset of the next header to read."""
        ahead = self._ahead
        return ahead[-1].record_start - RECORD_HEADER_SIZE if ahead else self._pos

    @property
    def segment_start(self) -> int:
        """Offset of the magic number the next record follows (alignment base)."""
        return self._segment

    def seek(self, position: int, segment_start: int = 0) -> None:
        """Continue reading at ``position``, a record boundary the caller knows.

        ``segment_start`` is the offset of the magic number that record
        follows (``segment_start`` of the reader that stopped there, or a
        RecordInfo's).  Clears ``stop``.
        """
        if self._closed:
            raise ValueError(_CLOSED)
        if not 0 <= segment_start <= position <= self._size:
            raise ValueError("position %d (segment %d) is outside the buffer"
                             % (position, segment_start))
        with self._lock:
            self._ahead = []
            self._pos = position
            self._segment = segment_start
            self.stop = None
            tracker = self._tracker
            tracker.reset()
            if self._forced_layout is None:
                # What the segment's records before ``position`` said.
                tracker._narrow_to(_scan_layouts(self._buffer, segment_start, position))

    @property
    def closed(self) -> bool:
        """True once close() was called."""
        return self._closed

    def close(self) -> None:
        """Release the mapping of the file (safe to call twice).

        A batch another thread is decoding finishes first; its iteration
        then stops; read() and new iterations raise ValueError.
        """
        with self._lock:
            self._closed = True
            self._ahead = []
            mapping, self._mapping = self._mapping, None
        if mapping is not None:
            self._buffer = b""
            self._size = 0
            try:
                mapping.close()
            except BufferError:
                pass    # views from owned_buffer() are alive; the GC unmaps later

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


# ---------------------------------------------------------------------------
# Checking and repairing: torn tails versus corruption
# ---------------------------------------------------------------------------
#
# A crash can leave only the last record incomplete: a header cut short, a
# header whose size runs past the end, wasmer's zero placeholder header,
# or a last body that does not decode.  That is a *torn tail*: nothing valid
# follows it, and cutting it off loses nothing that was ever complete.  An
# unreadable record followed by valid records is *corruption*, and is never
# cut off silently.

_TAIL_REASONS = {"truncated-header", "truncated-body", "zero-header", "invalid-record"}


class _Walk:
    """The outcome of walking the records of a journal buffer."""

    __slots__ = ("records", "errors", "good_end", "segment", "stop", "stop_code",
                 "stop_at", "fits", "layouts")

    def __init__(self):
        self.records = 0            # valid records
        self.errors = []            # (header offset, CorruptRecordError)
        self.good_end = 0           # end of the last valid record (or magic)
        self.segment = 0            # start of the segment good_end is in
        self.stop = None            # why the walk stopped before the end
        self.stop_code = None
        self.stop_at = None
        self.fits = False           # the stopping header's record fits the data
        self.layouts = _ALL_LAYOUTS  # the layouts the last segment fits


def _zero_suffix_start(buffer, low: int = 0) -> int:
    """Where the run of zero bytes that ends ``buffer`` starts (not before
    ``low``); ``len(buffer)`` when the last byte is not zero."""
    end = len(buffer)
    while end > low:
        start = max(low, end - 65536)
        kept = len(bytes(buffer[start:end]).rstrip(b"\0"))
        if kept:
            return start + kept
        end = start
    return end


def _walk(buffer, pos: int, segment: int, validate: bool, limit: int,
          aligned: bool = True, layouts: frozenset = _ALL_LAYOUTS) -> _Walk:
    """Walk records from ``pos`` to the end of ``buffer``, like the reader.

    With ``validate`` every body is decoded; otherwise only those the
    trailing zero bytes reach (a power cut leaves the pages that never
    reached the disk as zeros: a record they touch may no longer decode)
    and the last one.  ``aligned=False`` skips the alignment checks (records found by _resync
    may have been appended by wasmer after a torn tail of any length).
    ``layouts`` are those the segment at ``pos`` can be in (its records
    before ``pos`` narrowed them); ``walk.layouts`` are those of the last
    segment when the walk ends.
    """
    walk = _Walk()
    walk.good_end = pos
    walk.segment = segment
    size = len(buffer)
    unpack = _header_struct.unpack_from
    tracker = _LayoutTracker(_ALL_LAYOUTS)
    tracker._narrow_to(layouts)
    evidence = _EVIDENCE_CODES
    suspect = size if validate else _zero_suffix_start(buffer, pos)
    skip_until = min(suspect, size - 1)      # records ending before it need no decoding
    while True:
        walk.layouts = tracker.layouts
        if size - pos < RECORD_HEADER_SIZE:
            if pos < size:
                walk.stop, walk.stop_at = "truncated-header", pos
            return walk
        code, high, low = unpack(buffer, pos)
        codec = tracker.codecs[code] if code < _MAX_CODE else None
        end = pos + RECORD_HEADER_SIZE + (high << 32 | low)
        if codec is not None and code in evidence and end <= size:
            tracker.see(code, buffer, pos + RECORD_HEADER_SIZE, end)
            codec = tracker.codecs[code]
        if codec is None:
            if buffer[pos:pos + 8] == JOURNAL_MAGIC_NUMBER_BYTES:
                segment = pos
                tracker.reset()
                pos += RECORD_HEADER_SIZE
                if not walk.errors or walk.errors[-1][0] < walk.good_end:
                    walk.good_end, walk.segment = pos, segment
                continue
            walk.stop = "zero-header" if code == 0 else "unknown-record-type"
            walk.stop_code, walk.stop_at, walk.fits = code, pos, end <= size
            return walk
        if end > size:
            walk.stop, walk.stop_code, walk.stop_at = "truncated-body", code, pos
            return walk
        if (not validate and end <= skip_until and code not in evidence
                and buffer[end:end + 8] == buffer[pos:pos + 8]):
            # Records with the same header: step over them in growing
            # strides (each compare is only as long as the run it finds).
            step = end - pos
            most = 64
            while True:
                room = (skip_until - pos) // step
                run, pos = _header_run(buffer, pos, step, min(most, room))
                walk.records += run
                if run < most or run == room:
                    break
                most = min(most * 2, 1 << 16)
            walk.good_end, walk.segment = pos, segment
            continue
        if validate or end > suspect or end == size:
            try:
                _decode_body(codec, buffer, pos + RECORD_HEADER_SIZE, end,
                             segment if aligned else None, limit)
            except _Invalid as exc:
                walk.errors.append((pos, _corrupt(exc, pos)))
                pos = end
                continue
        walk.records += 1
        walk.good_end, walk.segment = end, segment
        pos = end


# A plausible record header (type 1..64, body under 4 GiB) or a magic number.
_PLAUSIBLE_HEADER = re.compile(
    b"(?=(\x00[\x01-\x40]\x00\x00|%s))" % re.escape(JOURNAL_MAGIC_NUMBER_BYTES), re.DOTALL)


def _resync(buffer, start: int, limit: int) -> Tuple[int, int]:
    """Look past an unreadable region for records that read to the end.

    Every offset after ``start`` holding a magic number or a plausible
    header is a candidate -- not only 8-aligned ones: wasmer's writer
    appends after a torn tail of any length.  A candidate counts when the
    records from it all decode and reach the end of the data (or a torn
    tail).  Returns (offset, records) of the first one, or (-1, 0).

    Chains from different candidates soon run into each other, so what a
    chain holds from each record on is remembered: every record is decoded
    once at most, and the search is linear in the size of the data.
    """
    size = len(buffer)
    chains: Dict[int, Tuple[bool, int]] = {}
    for match in _PLAUSIBLE_HEADER.finditer(buffer, start + 1, size):
        candidate = match.start()
        if size - candidate < RECORD_HEADER_SIZE:
            break
        good, records = _chain(buffer, candidate, limit, chains)
        if good and records:
            return candidate, records
    return -1, 0


# The codec of each raw record type in the newest layout that has it.
_NEWEST_CODECS = [next((layout._by_code[code] for layout in
                        sorted(_ALL_LAYOUTS, key=operator.attrgetter("rank"), reverse=True)
                        if layout._by_code[code] is not None), None)
                  for code in range(len(_CLASS_BY_CODE))]


def _chain(buffer, pos: int, limit: int, chains: Dict[int, Tuple[bool, int]]
           ) -> Tuple[bool, int]:
    """(whether the records from ``pos`` all decode and end at the end of
    the data or in a torn tail, how many there are), remembered in
    ``chains`` for every record of the chain."""
    size = len(buffer)
    unpack = _header_struct.unpack_from
    path = []                                 # (position, 1 for a record, 0 for a magic)
    while True:
        known = chains.get(pos)
        if known is not None:
            good, records = known
            break
        if size - pos < RECORD_HEADER_SIZE:   # the end, or a header cut short
            good, records = True, 0
            break
        if buffer[pos:pos + 8] == JOURNAL_MAGIC_NUMBER_BYTES:
            path.append((pos, 0))
            pos += RECORD_HEADER_SIZE
            continue
        code, high, low = unpack(buffer, pos)
        codec = _NEWEST_CODECS[code] if code < _MAX_CODE else None
        end = pos + RECORD_HEADER_SIZE + (high << 32 | low)
        if codec is None:                     # a zero header is a torn tail; others not
            good, records = code == 0, 0
            break
        if end > size:                        # a body cut short: a torn tail
            good, records = True, 0
            break
        # Each record is judged in the layouts its own bytes allow (a chain
        # carries no layout from record to record: what it holds from a
        # record on must not depend on where it came from).
        layouts = _record_layouts(code, buffer, pos + RECORD_HEADER_SIZE, end)
        if layouts is not None:
            codec = _newest(layouts)._by_code[code]
        try:
            _decode_body(codec, buffer, pos + RECORD_HEADER_SIZE, end, None, limit)
        except _Invalid:
            good, records = False, 0
            break
        path.append((pos, 1))
        pos = end
    for position, counted in reversed(path):
        records += counted
        chains[position] = (good, records)
    return good, records


def _examine(buffer, validate: bool = True,
             limit: int = DEFAULT_MAX_UNCOMPRESSED_SIZE) -> JournalReport:
    """Classify a whole journal buffer (see JournalReport)."""
    return _examine_walk(buffer, validate, limit)[0]


def _examine_walk(buffer, validate: bool, limit: int) -> Tuple[JournalReport, int, frozenset]:
    """_examine, the start of the segment the report's ``end`` is in, and
    the layouts that segment fits."""
    size = len(buffer)
    if size < RECORD_HEADER_SIZE:
        if JOURNAL_MAGIC_NUMBER_BYTES.startswith(bytes(buffer[:size])):
            status = "torn-tail" if size else "ok"
            return JournalReport(status, size, 0, 0, "truncated-header" if size else None), 0, _ALL_LAYOUTS
        return JournalReport("invalid-magic", size, 0, 0, errors=(
            InvalidMagicError("%d bytes that do not start a magic number" % size, 0),)), 0, _ALL_LAYOUTS
    try:
        _check_magic(buffer, size)
    except InvalidMagicError as exc:
        return JournalReport("invalid-magic", size, 0, 0, errors=(exc,)), 0, _ALL_LAYOUTS
    walk = _walk(buffer, RECORD_HEADER_SIZE, 0, validate, limit)
    errors = [error for offset, error in walk.errors if offset < walk.good_end]
    trailing = [error for offset, error in walk.errors if offset >= walk.good_end]
    if walk.stop is None and not trailing:
        status = "corrupt" if errors else "ok"
        return (JournalReport(status, size, walk.records, size, errors=tuple(errors)),
                walk.segment, walk.layouts)
    tail = "invalid-record" if trailing else walk.stop
    resync_at, unreachable = _resync(buffer, walk.good_end, limit)
    if resync_at >= 0:
        errors.append((trailing or [CorruptRecordError(
            "unreadable record (%s) before valid records at offset %d" % (tail, resync_at),
            walk.stop_at)])[0])
        return JournalReport("corrupt", size, walk.records, walk.good_end, tail,
                             tuple(errors), unreachable), walk.segment, walk.layouts
    if errors:
        status = "corrupt"
    elif walk.stop == "unknown-record-type" and walk.fits and not trailing:
        status = "unknown-record-type"
        tail = "record type %d" % walk.stop_code
    else:
        status = "torn-tail"
    return JournalReport(status, size, walk.records, walk.good_end, tail,
                         tuple(errors) + tuple(trailing)), walk.segment, walk.layouts


def _map_file(fd: int):
    size = os.fstat(fd).st_size
    return mmap.mmap(fd, size, access=mmap.ACCESS_READ) if size else b""


def check(journal, *, strict: bool = False,
          max_uncompressed_size: int = DEFAULT_MAX_UNCOMPRESSED_SIZE) -> JournalReport:
    """Validate every record of a journal file (a path) or buffer.

    Reports a torn tail, corruption, an unknown record type or a wrong
    magic number in the returned JournalReport; raises OSError, and
    UnsupportedOperationError for a device.  A pipe or FIFO is read to
    its end.  With ``strict``, a journal otherwise ok whose records are not
    all as wasmer writes them (re-encoded at their place, in their layout,
    they would change) is ``"non-canonical"``.
    """
    if isinstance(journal, (str, os.PathLike)):
        fd = os.open(journal, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            contents = _file_contents(fd)
        finally:
            os.close(fd)
        try:
            return check(contents, strict=strict, max_uncompressed_size=max_uncompressed_size)
        finally:
            if isinstance(contents, mmap.mmap):
                contents.close()
    report = _examine(journal, True, max_uncompressed_size)
    if strict and report.ok:
        odd = tuple(_noncanonical(journal, max_uncompressed_size))
        if odd:
            report = report._replace(status="non-canonical", noncanonical=odd)
    return report


def _noncanonical(buffer, limit: int) -> Iterator[int]:
    """The header offsets of the records of ``buffer`` that re-encode, at
    their place and in their segment's layout, to other bytes."""
    reader = LogFileJournalRx(buffer, max_uncompressed_size=limit)
    canonical = _canonical_test(reader)
    for result in reader.records():
        if not canonical(result):
            yield result.record_start - RECORD_HEADER_SIZE


def _canonical_test(reader: "LogFileJournalRx") -> Callable[[LogReadResult], bool]:
    """A test of whether a record ``reader`` read is as wasmer writes it:
    re-encoded at its place, in its segment's layout, to the same bytes."""
    segments = reader.segment_layouts
    starts = [offset for offset, _ in segments]
    layouts = [get_layout(names[-1]) for _, names in segments]
    buffer = reader._buffer

    def canonical(result: LogReadResult) -> bool:
        index = bisect.bisect_right(starts, result.record_start) - 1
        return encode_entry(result.record, result.record_start - starts[index],
                            layouts[index]) == buffer[result.record_start:result.record_end]
    return canonical


def _report_error(report: JournalReport) -> JournalError:
    """The exception that stops writing to (or repairing) such a journal."""
    if report.status == "invalid-magic":
        error = report.errors[0]
    elif report.status == "unknown-record-type":
        error = UnknownRecordTypeError(
            "a record of unknown type (%s) stops the journal; records appended after "
            "it would be unreachable" % report.tail, report.end)
    elif report.status == "torn-tail":
        error = TornTailError("the journal ends in a torn tail (%s) of %d bytes"
                              % (report.tail, report.size - report.end), report.end)
    else:
        first = report.errors[0] if report.errors else None
        error = CorruptRecordError(
            "the journal is corrupt%s: %s" % (
                " (%d valid records after offset %d are unreachable)"
                % (report.unreachable_records, report.end)
                if report.unreachable_records else "", first and first.message),
            first.offset if first else report.end)
    error.report = report
    return error


def _fsync(fd: int) -> None:
    if fcntl is not None and hasattr(fcntl, "F_FULLFSYNC"):
        try:
            fcntl.fcntl(fd, fcntl.F_FULLFSYNC)       # macOS: through the disk cache
            return
        except OSError:
            pass
    os.fsync(fd)


def _fsync_directory(path: str) -> None:
    if os.name != "posix":
        return                 # Windows cannot open a directory to sync it
    fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _new_file_mode(path: str) -> int:
    """The mode a replacement of ``path`` gets: the old file's, else 0666 & ~umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


@contextlib.contextmanager
def _replacement(target: str, mode: Optional[int] = None):
    """Yield (fd, path) of a new temporary file beside ``target``: moved
    onto ``target`` (and the directory synced) when the block succeeds,
    removed when it raises, so that ``target`` is either the whole new
    file or as it was.  ``mode``: default that of a replacement of
    ``target`` (_new_file_mode).  The block syncs what it writes."""
    fd, temp = tempfile.mkstemp(prefix=".%s." % os.path.basename(target), suffix=".tmp",
                                dir=os.path.dirname(os.path.abspath(target)))
    try:
        os.chmod(temp, _new_file_mode(target) if mode is None else mode)
        yield fd, temp
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    finally:
        os.close(fd)
    _fsync_directory(target)


def _pread_seek(fd: int, length: int, offset: int) -> bytes:
    os.lseek(fd, offset, os.SEEK_SET)
    return os.read(fd, length)


_pread = getattr(os, "pread", _pread_seek)          # Windows has no pread


def _cut_tail(path: Optional[str], fd: int, report: JournalReport) -> JournalReport:
    """Copy the torn tail to PATH.torn-OFFSET, then truncate it away."""
    if path is None:
        raise TornTailError("the journal ends in a torn tail, and without a path it "
                            "cannot be saved aside: call repair(path)", report.end)
    offset = report.end
    saved = "%s.torn-%d" % (path, offset)
    number = 0
    while os.path.lexists(saved):              # a dangling link is taken too
        number += 1
        saved = "%s.torn-%d.%d" % (path, offset, number)
    # The copy gets the journal's own permission bits (not the umask's).
    mode = stat.S_IMODE(os.fstat(fd).st_mode)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) \
        | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    copy = os.open(saved, flags, mode)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(copy, mode)
        position, size = offset, os.fstat(fd).st_size
        while position < size:
            chunk = _pread(fd, min(1 << 20, size - position), position)
            if not chunk:
                break
            _pwrite_all(copy, chunk, position - offset)
            position += len(chunk)
        _fsync(copy)
    except OSError as exc:
        os.close(copy)
        os.unlink(saved)                       # no half copy left behind
        raise JournalError("the torn tail at offset %d could not be saved to %s (%s); "
                           "nothing was cut" % (offset, saved, exc.strerror or exc),
                           offset) from exc
    os.close(copy)
    _fsync_directory(saved)
    os.ftruncate(fd, offset)
    _fsync(fd)
    return report._replace(saved_to=saved, end=offset)


class _ProcessLock:
    """An exclusive advisory lock on the whole file (fcntl.flock), or none."""

    __slots__ = ("fd", "enabled")

    def __init__(self, fd: int, enabled: bool) -> None:
        self.fd = fd
        self.enabled = enabled

    def __enter__(self):
        if self.enabled:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc_info):
        if self.enabled:
            fcntl.flock(self.fd, fcntl.LOCK_UN)


def repair(path: Union[str, "os.PathLike[str]"], *,
           max_uncompressed_size: int = DEFAULT_MAX_UNCOMPRESSED_SIZE) -> JournalReport:
    """Cut a torn tail off the journal at ``path``, keeping a copy of it.

    The cut bytes are first written to ``PATH.torn-OFFSET`` (and synced),
    then the file is truncated at OFFSET and synced.  A journal without a
    problem is left alone.  Anything else -- corruption before the tail,
    an unknown record type, a wrong magic -- is not repaired: the matching
    JournalError is raised, with ``report`` attached.
    """
    path = os.fspath(path)
    fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))
    try:
        with _ProcessLock(fd, fcntl is not None):
            mapping = _map_file(fd)
            try:
                report = _examine(mapping, True, max_uncompressed_size)
            finally:
                if mapping:
                    mapping.close()
            if report.status == "torn-tail":
                return _cut_tail(path, fd, report)
            if report.status != "ok":
                raise _report_error(report)
            return report
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------
# Writing: LogFileJournalTx
# ---------------------------------------------------------------------------

def _pwrite_seek(fd: int, data, offset: int) -> int:
    os.lseek(fd, offset, os.SEEK_SET)
    return os.write(fd, data)


_pwrite = getattr(os, "pwrite", _pwrite_seek)      # Windows has no pwrite


def _pwrite_all(fd: int, data, offset: int) -> None:
    written = _pwrite(fd, data, offset)
    if written == len(data):
        return                                 # the usual case: all at once
    # Views are released even when a write raises: a bytearray with a view
    # alive cannot be resized (the writer's buffer is, after a failure).
    with memoryview(data) as whole:
        while written < len(whole):
            with whole[written:] as rest:
                written += _pwrite(fd, rest, offset + written)


_SYNC_MODES = ("always", "flush", "never")

# Writeback started early.  Under sync="flush", flush() and close() fsync
# all that was written since the last one, which the kernel would
# otherwise only begin to write then (or at its 30 s expiry), so the fsync
# waits for all of it.  Once two windows are written, the writer asks the
# kernel to start writing the older one: on Linux posix_fadvise(DONTNEED)
# starts writeback of a range's dirty pages without waiting for it.  It is
# advice only (nothing on disk changes, and an fsync still decides what
# is durable); pages still dirty or being written stay cached, so reading
# the journal afterwards is no slower.  99 MB in one write_many: the
# writes take 10 ms longer (113 to 124 ms), the fsync at close 3 ms
# instead of 41.
_WRITEBACK_WINDOW = 4 << 20
_WRITEBACK_ADVICE = sys.platform.startswith("linux") and hasattr(os, "posix_fadvise")
_NO_WRITEBACK = 1 << 64                      # a _writeback_at no offset reaches
_LOCK_MODES = ("process", "exclusive", "thread")
_TORN_TAIL_MODES = ("repair", "error", "keep")
# How long an exclusive writer waits for others' locks before giving up.
_EXCLUSIVE_LOCK_TIMEOUT = 10.0


class LogFileJournalTx:
    """Appends records to a journal file.

    A write serializes the entry at the end of the file, as wasmer does,
    and writes the header and the body in one call.  (wasmer writes a zero
    placeholder header, the body, then the header: the bytes on disk end
    the same, and a crash in either order leaves at most a torn tail.)
    Threads may share one writer.

    ``lock`` says who else may write the file meanwhile:

    * ``"process"`` (the default where ``fcntl.flock`` exists): takes an
      exclusive advisory lock for each append and re-reads the end of the
      file under it, so processes appending to one file never interleave;
    * ``"exclusive"``: holds that lock from opening to close(), so other
      writers wait (for at most 10 s when opening);
    * ``"thread"``: no file lock; only this writer's threads are serialized.

    ``sync`` says when the file is fsynced: ``"always"`` after every
    record, ``"flush"`` (default) in flush() and close(), ``"never"``.
    A new file's directory is fsynced too unless ``"never"``.

    ``buffer_size`` (bytes; 0 by default) collects records in memory and
    writes them when that much is waiting, and in flush(), close() and
    as_rx(): far fewer system calls, but a crash of the process loses what
    was not flushed.  It needs ``lock="exclusive"`` or ``"thread"`` (so
    nobody else appends meanwhile) and a ``sync`` other than ``"always"``.

    ``on_torn_tail`` says what to do when the file ends in a torn tail
    (see check()): ``"repair"`` (default) cuts it off after copying it to
    PATH.torn-OFFSET, ``"error"`` raises TornTailError, ``"keep"`` appends
    after it as wasmer does (the new records are then unreachable).
    Corruption, an unknown record type or a wrong magic number always
    raise: nothing valid is ever cut off.

    ``layout`` (see LAYOUTS) is the era a new file is written in (default
    DEFAULT_LAYOUT).  An existing file continues in its own: ``layout``
    must then be one the file fits, or LayoutError is raised.  ``layout``
    (the attribute) is the Layout records are written in; an entry it
    cannot hold raises EntryValueError and nothing is written.
    """

    def __init__(self, fd: int, *, path: Optional[str] = None, sync: str = "flush",
                 lock: Optional[str] = None, on_torn_tail: str = "repair",
                 buffer_size: int = 0, layout: Union[str, Layout, None] = None,
                 max_uncompressed_size: int = DEFAULT_MAX_UNCOMPRESSED_SIZE,
                 _owns_fd: bool = True, _private_offset: bool = False) -> None:
        if sync not in _SYNC_MODES:
            raise ValueError("sync must be one of %s" % ", ".join(_SYNC_MODES))
        if lock is None:
            lock = "process" if fcntl is not None else "thread"
        if lock not in _LOCK_MODES:
            raise ValueError("lock must be one of %s" % ", ".join(_LOCK_MODES))
        if lock != "thread" and fcntl is None:
            raise UnsupportedOperationError(
                "locking between processes needs fcntl.flock, which this platform lacks")
        if on_torn_tail not in _TORN_TAIL_MODES:
            raise ValueError("on_torn_tail must be one of %s" % ", ".join(_TORN_TAIL_MODES))
        if buffer_size < 0:
            raise ValueError("buffer_size must not be negative")
        if buffer_size and (lock == "process" or sync == "always"):
            raise ValueError("buffer_size needs lock='exclusive' or 'thread', and a sync "
                             "mode other than 'always'")
        self._fd = fd
        self._owns_fd = _owns_fd
        self.path = path
        self.sync_mode = sync
        self.lock = lock
        self.on_torn_tail = on_torn_tail
        self.buffer_size = buffer_size
        self.max_uncompressed_size = max_uncompressed_size
        self.repaired: Optional[JournalReport] = None
        self._lock = threading.Lock()
        self._append_lock = lock == "process"
        # lseek finds the end 4x faster than fstat, but moves the file offset:
        # only for a descriptor nobody else shares (not from_file's dup).
        self._private_offset = _private_offset
        self._buffer = bytearray() if buffer_size else None
        self._closed = False
        self._pos = -1
        self._segment = 0
        self._asked_layout = None if layout is None else get_layout(layout)
        self._layouts = _ALL_LAYOUTS     # those the last segment fits
        self._broken: Optional[str] = None  # why writing is refused (see _cut_back)
        self.layout: Layout = self._asked_layout or _DEFAULT_LAYOUT
        self._encoders = {}             # entry class -> its encoder in self.layout
        self._appenders = {}            # ... and its appender (write_many)
        self._writeback_from = 0        # early writeback (_WRITEBACK_WINDOW) starts here,
        self._writeback_at = _NO_WRITEBACK  # when the file's end reaches this
        self._write = self.write = self._writer()
        if fd is None:
            return                       # no file yet: the first write creates it
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsupportedOperationError(
                "%s is not a regular file: journals are appended to regular files only"
                % (path or "the journal"))
        if lock == "exclusive":
            self._lock_exclusively()
        try:
            with _ProcessLock(fd, lock == "process"):
                # Opening changes nothing: a torn tail is cut, and an empty
                # file gets its magic, at the first write (see prepare()).
                self._settle(os.fstat(fd).st_size, modify=False)
        except BaseException:
            if lock == "exclusive":
                fcntl.flock(fd, fcntl.LOCK_UN)
            raise

    def prepare(self) -> None:
        """Do now what the first write would: create the file, cut off a
        torn tail (copying it aside, see ``on_torn_tail``), write the magic
        number into an empty file.  Opening does none of them."""
        with self._lock:
            if self._closed:
                raise ValueError(_CLOSED)
            self._prepare()

    def _prepare(self) -> None:
        """prepare(), under self._lock."""
        if self._fd is None:
            flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0) \
                | getattr(os, "O_CLOEXEC", 0)
            self._fd = os.open(self.path, flags, 0o666)
            if self.lock == "exclusive":
                self._lock_exclusively()
        if self._pos < 0:
            with _ProcessLock(self._fd, self._append_lock):
                self._settle(os.fstat(self._fd).st_size)

    def _lock_exclusively(self) -> None:
        deadline = time.monotonic() + _EXCLUSIVE_LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise JournalError("another writer has held the lock on %s for %g s"
                                       % (self.path or "the journal",
                                          _EXCLUSIVE_LOCK_TIMEOUT)) from None
                time.sleep(0.01)

    def _settle(self, size: int, modify: bool = True) -> None:
        """Find where to append in a file of ``size`` bytes (under the lock).

        Checks the records appended since this writer last wrote (all of
        them the first time) for a torn tail, handles one as
        ``on_torn_tail`` says, and writes the magic number into an empty
        file.  Without ``modify`` it only checks: where it would have to
        change the file, it leaves ``_pos`` unknown for the first write.
        """
        if size == self._pos:
            return
        segment = self._segment
        layouts = _ALL_LAYOUTS
        if size and self.on_torn_tail == "keep":
            _check_magic(_pread(self._fd, 8, 0), min(size, 8))
            mapping = _map_file(self._fd)
            try:
                segment, layouts = _segment_layouts(mapping)[-1]
            finally:
                mapping.close()
        elif size:
            mapping = _map_file(self._fd)
            try:
                walk = None
                if 0 < self._pos <= size:      # someone else appended: walk just that
                    walk = _walk(mapping, self._pos, segment, False, self.max_uncompressed_size,
                                 layouts=self._layouts)
                if walk is not None and walk.stop is None and not walk.errors:
                    report, segment, layouts = None, walk.segment, walk.layouts
                else:
                    report, segment, layouts = _examine_walk(
                        mapping, False, self.max_uncompressed_size)
            finally:
                mapping.close()            # before any truncation: never map a cut file
            if report is None or report.status == "ok":
                pass
            elif report.status == "torn-tail" and self.on_torn_tail == "repair":
                if not modify:
                    return
                self.repaired = report = _cut_tail(self.path, self._fd, report)
                size = report.end
            else:
                raise _report_error(report)
        if size == 0:
            if not modify:
                return
            try:
                _pwrite_all(self._fd, JOURNAL_MAGIC_NUMBER_BYTES, 0)
                if self.sync_mode != "never":
                    _fsync(self._fd)
                    if self.path is not None:
                        _fsync_directory(self.path)
            except BaseException:
                self._cut_back(0)                # an empty file again, not half a magic
                raise
            size = RECORD_HEADER_SIZE
            segment = 0
        self._pos = size
        self._segment = segment
        self._choose_layout(layouts, size == RECORD_HEADER_SIZE)
        self._restart_writeback()

    def _restart_writeback(self) -> None:
        """Count early writeback (see _WRITEBACK_WINDOW) from the file's end:
        what lies before it is not this writer's to flush, or is flushed."""
        self._writeback_from = self._pos
        self._writeback_at = (self._pos + 2 * _WRITEBACK_WINDOW
                              if _WRITEBACK_ADVICE and self.sync_mode == "flush"
                              else _NO_WRITEBACK)

    def _start_writeback(self, end: int) -> int:
        """The file is written up to ``end``, two windows or more past
        _writeback_from: start writeback of all but the last window (see
        _WRITEBACK_WINDOW).  Returns the next _writeback_at."""
        start = self._writeback_from
        length = (end - start - _WRITEBACK_WINDOW) // _WRITEBACK_WINDOW * _WRITEBACK_WINDOW
        try:
            os.posix_fadvise(self._fd, start, length, os.POSIX_FADV_DONTNEED)
        except OSError:
            self._writeback_at = _NO_WRITEBACK  # a file that takes no advice: stop asking
            return _NO_WRITEBACK
        self._writeback_from = start = start + length
        self._writeback_at = at = start + 2 * _WRITEBACK_WINDOW
        return at

    def _choose_layout(self, layouts: frozenset, empty: bool) -> None:
        """Continue the layout the file's last segment is in (``layouts``:
        those it fits), or the asked one; raise LayoutError if they differ."""
        asked = self._asked_layout
        if empty or layouts == _ALL_LAYOUTS:
            chosen = asked or _DEFAULT_LAYOUT
        elif asked is not None:
            if asked not in layouts:
                raise LayoutError(
                    "%s is in layout %s, not %s: appending %s records would make it "
                    "unreadable; convert() rewrites a journal for another layout"
                    % (self.path or "the journal", " or ".join(_layout_names(layouts)),
                       asked.name, asked.name))
            chosen = asked
        else:
            chosen = _DEFAULT_LAYOUT if _DEFAULT_LAYOUT in layouts else _newest(layouts)
        self._layouts = layouts if not empty else _ALL_LAYOUTS
        if chosen is not self.layout:
            self.layout = chosen
            self._encoders.clear()      # (write() holds the dict's get)
            self._appenders.clear()

    def write(self, entry: JournalEntry) -> LogWriteResult:
        """Append ``entry``; returns where its body landed."""
        return self._write(entry)       # (an instance's write is _write itself)

    def _writer(self) -> Callable[[JournalEntry], LogWriteResult]:
        """This writer's write(): one function for its mode, the hot path,
        with the helpers it calls bound once (see write()).  A buffered
        writer has its own (it needs no file lock and no system call), and
        so has one that takes the file lock for each record: a write() per
        mode measured 2 % faster than one testing the mode per record."""
        acquire = self._lock.acquire
        release = self._lock.release
        new, result, header = _new_tuple, LogWriteResult, RECORD_HEADER_SIZE
        ready = self._ready
        encoder = self._encoder
        cached = self._encoders.get     # (a new layout clears the dict, never replaces it)
        buffer = self._buffer
        if buffer is not None:
            buffer_size = self.buffer_size
            extend = buffer.extend

            def write(entry: JournalEntry) -> LogWriteResult:
                acquire()
                try:
                    pos = self._pos
                    if pos < 0 or self._closed or self._broken is not None:
                        pos = ready()
                    record = (cached(type(entry)) or encoder(entry))(entry, pos)
                    extend(record)
                    self._pos = end = pos + len(record)
                    if len(buffer) >= buffer_size:
                        try:
                            self._drain()
                        except BaseException:
                            # This write raised: its record goes; the
                            # earlier ones stay buffered for the next flush.
                            del buffer[len(buffer) - len(record):]
                            self._pos = pos
                            raise
                    return new(result, (pos + header, end))
                finally:
                    release()
            return write

        always = self.sync_mode == "always"
        pwrite = _pwrite
        if not self._append_lock:

            def write(entry: JournalEntry) -> LogWriteResult:
                acquire()
                try:
                    pos = self._pos
                    if pos < 0 or self._closed or self._broken is not None:
                        pos = ready()
                    record = (cached(type(entry)) or encoder(entry))(entry, pos)
                    size = len(record)
                    fd = self._fd
                    try:
                        if pwrite(fd, record, pos) != size:
                            _pwrite_all(fd, record, pos)    # a short write: again
                        if always:
                            _fsync(fd)
                    except BaseException:
                        self._cut_back(pos)
                        raise
                    self._pos = end = pos + size
                    if end >= self._writeback_at:
                        self._start_writeback(end)
                    return new(result, (pos + header, end))
                finally:
                    release()
            return write

        flock, lock_ex, lock_un = fcntl.flock, fcntl.LOCK_EX, fcntl.LOCK_UN

        def write(entry: JournalEntry) -> LogWriteResult:
            acquire()
            try:
                pos = self._pos
                if pos < 0 or self._closed or self._broken is not None:
                    pos = ready()
                fd = self._fd
                flock(fd, lock_ex)
                try:
                    size = (os.lseek(fd, 0, os.SEEK_END) if self._private_offset
                            else os.fstat(fd).st_size)
                    if size != pos:
                        self._settle(size)
                        pos = ready()
                    record = (cached(type(entry)) or encoder(entry))(entry, pos)
                    size = len(record)
                    try:
                        if pwrite(fd, record, pos) != size:
                            _pwrite_all(fd, record, pos)    # a short write: again
                        if always:
                            _fsync(fd)
                    except BaseException:
                        self._cut_back(pos)
                        raise
                    self._pos = end = pos + size
                    if end >= self._writeback_at:
                        self._start_writeback(end)
                finally:
                    flock(fd, lock_un)
                return new(result, (pos + header, end))
            finally:
                release()
        return write

    def _encoder(self, entry: JournalEntry):
        """The encoder of ``entry``'s class in self.layout, kept for the
        next write (a clear error if the layout cannot hold it)."""
        encode = self._encoders[type(entry)] = _codec_for(entry, self.layout).encoder()
        return encode

    def _appender(self, entry: JournalEntry):
        """The appender of ``entry``'s class in self.layout (see _encoder)."""
        append = self._appenders[type(entry)] = _codec_for(entry, self.layout).appender()
        return append

    def _ready(self) -> int:
        """Where the next record goes, for a write() (under self._lock)
        that found the writer closed, broken or not yet prepared: raises
        for the first two, prepares for the last."""
        if self._closed:
            raise ValueError(_CLOSED)
        if self._pos < 0:
            self._prepare()
        if self._broken is not None:
            raise JournalError(self._broken, self._pos)
        return self._pos

    def write_many(self, entries) -> "LogWriteResults":
        """Append every entry of ``entries`` (any iterable), in order: all
        of them, or -- if one cannot be stored or a write fails -- none (the
        file is cut back and the error raised).

        One lock (and, with ``lock="process"``, one look at the file's end)
        for the whole call; the records are encoded into one buffer and
        written 64 KiB at a time (a larger record at once).  Returns
        where each body landed.
        """
        with self._lock:
            if self._closed:
                raise ValueError(_CLOSED)
            if self._pos < 0:
                self._prepare()
            if not self._append_lock:
                return self._append_many(entries)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                size = (os.lseek(self._fd, 0, os.SEEK_END) if self._private_offset
                        else os.fstat(self._fd).st_size)
                if size != self._pos:
                    self._settle(size)
                return self._append_many(entries)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _append_many(self, entries) -> LogWriteResults:
        if self._broken is not None:
            raise JournalError(self._broken, self._pos)
        self._drain()                   # what write() buffered goes first
        fd = self._fd
        appenders = self._appenders
        first = pos = self._pos
        writeback_at = self._writeback_at
        chunk = bytearray()
        chunk_start = pos
        ends = []                       # where each record ends
        add_end = ends.append
        try:
            for entry in entries:
                append = appenders.get(type(entry)) or self._appender(entry)
                pos += append(entry, pos, chunk)
                if pos - chunk_start >= 1 << 16:      # (the chunk's length)
                    _pwrite_all(fd, chunk, chunk_start)
                    del chunk[:]
                    chunk_start = pos
                    if pos >= writeback_at:
                        writeback_at = self._start_writeback(pos)
                add_end(pos)
            if chunk:
                _pwrite_all(fd, chunk, chunk_start)
            if self.sync_mode == "always" and ends:
                _fsync(fd)
        except BaseException:
            self._cut_back(first)
            raise
        self._pos = pos
        return LogWriteResults(first, ends)

    def _cut_back(self, offset: int) -> None:
        """After a failed write: cut the file back to ``offset``, so that no
        part of what failed stays to be read as records nobody wrote (or,
        synced, as a record whose write() raised).  If even that fails,
        refuse every further write until the journal is opened again."""
        try:
            os.ftruncate(self._fd, offset)
        except OSError as exc:
            self._broken = ("a write failed and the file could not be cut back to offset "
                            "%d (%s): reopen the journal (its tail is then a torn tail)"
                            % (offset, exc.strerror or exc))

    def _drain(self) -> None:
        """Write the buffered records (under self._lock); on failure the
        file is cut back and the records stay buffered."""
        buffer = self._buffer
        if buffer:
            start = self._pos - len(buffer)
            try:
                _pwrite_all(self._fd, buffer, start)
            except BaseException:
                self._cut_back(start)
                raise
            del buffer[:]
            if self._pos >= self._writeback_at:
                self._start_writeback(self._pos)

    def flush(self) -> None:
        """Write buffered records, and make all durable as ``sync`` says.

        Unbuffered records reach the operating system as they are written,
        so with ``sync="never"`` and no buffer there is nothing to do.
        """
        with self._lock:
            if self._closed:
                raise ValueError(_CLOSED)
            if self._fd is None:
                return                      # nothing written, no file
            self._drain()
            if self.sync_mode != "never":
                _fsync(self._fd)
                self._restart_writeback()

    def sync(self) -> None:
        """Write buffered records and fsync the file now, whatever ``sync`` says."""
        with self._lock:
            if self._closed:
                raise ValueError(_CLOSED)
            if self._fd is None:
                return
            self._drain()
            _fsync(self._fd)
            self._restart_writeback()

    @property
    def position(self) -> int:
        """Offset where the next record's header goes (as last seen)."""
        return self._pos

    def as_rx(self, **options) -> LogFileJournalRx:
        """A reader of the file as it is now (buffered records written first)."""
        with self._lock:
            if self._closed:
                raise ValueError(_CLOSED)
            reopen = lambda: self.as_rx(**options)      # noqa: E731
            if self._fd is None:                        # not created yet: empty
                return LogFileJournalRx(b"", _reopen=reopen, **options)
            self._drain()
            return LogFileJournalRx._from_fd(self._fd, _reopen=reopen, **options)

    def close(self) -> None:
        """Write what is buffered, fsync as ``sync`` says, release the lock
        and close the file (safe to call twice)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._fd is None:
                return                      # never written: no file was made
            try:
                self._drain()
                if self.sync_mode != "never":
                    _fsync(self._fd)
            finally:
                if self.lock == "exclusive":
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
                if self._owns_fd:
                    os.close(self._fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


# ---------------------------------------------------------------------------
# Journals
# ---------------------------------------------------------------------------

class UnsupportedJournal:
    """A writer that refuses every write (the writer of ``from_buffer``)."""

    def write(self, entry: JournalEntry) -> LogWriteResult:
        """Always raises UnsupportedOperationError."""
        raise UnsupportedOperationError("this journal cannot be written to")

    def write_many(self, entries) -> "LogWriteResults":
        """Always raises UnsupportedOperationError."""
        raise UnsupportedOperationError("this journal cannot be written to")

    def flush(self) -> None:
        """Nothing to flush."""

    def sync(self) -> None:
        """Nothing to sync."""

    def close(self) -> None:
        """Nothing to close."""


class RecombinedJournal:
    """A journal made of a separate writer and reader."""

    def __init__(self, tx, rx: LogFileJournalRx) -> None:
        self.tx = tx
        self.rx = rx
        # The hot calls go straight to their owner (the methods below say
        # what they do), unless a subclass has its own.
        cls = type(self)
        if cls.write is RecombinedJournal.write:
            self.write = tx.write
        if cls.write_many is RecombinedJournal.write_many:
            self.write_many = tx.write_many
        if cls.read is RecombinedJournal.read:
            self.read = rx.read

    def write(self, entry: JournalEntry) -> LogWriteResult:
        """Append ``entry`` through the writer."""
        return self.tx.write(entry)

    def write_many(self, entries) -> "LogWriteResults":
        """Append all of ``entries`` through the writer, or none of them."""
        return self.tx.write_many(entries)

    def flush(self) -> None:
        """Flush the writer."""
        self.tx.flush()

    def sync(self) -> None:
        """fsync the writer's file now."""
        self.tx.sync()

    def read(self) -> Optional[LogReadResult]:
        """The next record from the reader, or None."""
        return self.rx.read()

    def as_restarted(self) -> LogFileJournalRx:
        """A new reader from the first record."""
        return self.rx.as_restarted()

    def split(self) -> Tuple[Any, LogFileJournalRx]:
        """The writer and the reader."""
        return self.tx, self.rx

    def owned_buffer(self) -> memoryview:
        """The bytes the reader sees (no copy)."""
        return self.rx.owned_buffer()

    @property
    def stop(self) -> Optional[JournalStop]:
        """Why reading ended early, if it did."""
        return self.rx.stop

    @property
    def layout(self) -> Optional[str]:
        """The layout the journal's records are in, when only one fits."""
        return self.rx.layout

    @property
    def layouts(self) -> Tuple[str, ...]:
        """The layouts the journal's records fit (see LogFileJournalRx.layouts)."""
        return self.rx.layouts

    @property
    def segment_layouts(self) -> List[Tuple[int, Tuple[str, ...]]]:
        """Each segment's offset and the layouts it fits."""
        return self.rx.segment_layouts

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter(self.rx)

    def close(self) -> None:
        """Close the writer and the reader."""
        try:
            self.tx.close()
        finally:
            self.rx.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class LogFileJournal(RecombinedJournal):
    """A journal file: append entries and read them back.

    ``LogFileJournal(path)`` (or ``LogFileJournal.new(path)``) opens the
    file for reading and appending.  Opening changes nothing: the first
    write creates a missing file, writes the magic number into an empty one
    and cuts off a torn tail (see LogFileJournalTx.prepare()); a journal
    only read leaves the file as it was.  Writes go to the end of the file; the reader sees
    the file as it was when the journal was opened (``as_restarted()``
    gives a fresh reader).

    ``layout`` is the era new records are written in (see LogFileJournalTx);
    reading finds each segment's layout from its records (``layout``,
    ``layouts`` and ``segment_layouts`` say what it found).
    """

    def __init__(self, path: Union[str, "os.PathLike[str]"], *, sync: str = "flush",
                 lock: Optional[str] = None, on_torn_tail: str = "repair",
                 buffer_size: int = 0, strict: bool = False,
                 layout: Union[str, Layout, None] = None,
                 max_uncompressed_size: int = DEFAULT_MAX_UNCOMPRESSED_SIZE) -> None:
        flags = os.O_RDWR | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
        self.path = os.fspath(path)
        try:
            fd = os.open(path, flags)
        except FileNotFoundError:
            fd = None                       # made by the first write, not by opening
        self._setup(fd, dict(path=self.path, sync=sync, lock=lock, on_torn_tail=on_torn_tail,
                             buffer_size=buffer_size, _private_offset=True, layout=layout,
                             max_uncompressed_size=max_uncompressed_size),
                    dict(strict=strict, max_uncompressed_size=max_uncompressed_size))

    def _setup(self, fd, writer_options, reader_options):
        try:
            if writer_options is not None:
                tx = LogFileJournalTx(fd, **writer_options)
                rx = tx.as_rx(**reader_options)
            else:
                def reopen():
                    if self._readonly_fd is None:        # never a reused descriptor
                        raise ValueError(_CLOSED)
                    return LogFileJournalRx._from_fd(fd, _reopen=reopen, **reader_options)
                self._readonly_fd = fd
                tx = None
                rx = reopen()
        except BaseException:
            if fd is not None:
                os.close(fd)
            raise
        self._readonly_fd = None if tx else fd
        self._open = True
        super().__init__(tx or UnsupportedJournal(), rx)

    @property
    def _fd(self) -> Optional[int]:
        """The file's descriptor (None while a new journal has no file yet)."""
        if self._readonly_fd is not None:
            return self._readonly_fd
        return getattr(self.tx, "_fd", None)

    def close(self) -> None:
        """Close the writer, the reader and the file."""
        self._open = False
        try:
            super().close()
        finally:
            fd, self._readonly_fd = self._readonly_fd, None
            if fd is not None:
                os.close(fd)

    _open = False            # set by _setup; a journal that failed to open has nothing

    def __del__(self):
        # Like an unclosed file: warn, then close (the descriptor, the lock,
        # what is buffered).  At interpreter exit the module may be half gone.
        if self._open:
            try:
                warnings.warn("unclosed journal %r" % (self.path,), ResourceWarning,
                              stacklevel=2, source=self)
            except Exception:               # noqa: BLE001 - a finalizer must not raise
                pass
            self.close()

    @classmethod
    def new(cls, path, **options) -> "LogFileJournal":
        """Open ``path`` for reading and appending (the first write creates it)."""
        return cls(path, **options)

    @classmethod
    def new_readonly(cls, path, *, strict: bool = False,
                     layout: Union[str, Layout, None] = None,
                     max_uncompressed_size: int = DEFAULT_MAX_UNCOMPRESSED_SIZE
                     ) -> "LogFileJournal":
        """Open ``path`` for reading only; writes raise UnsupportedOperationError.

        ``layout`` reads every record in that layout instead of finding it.
        """
        flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
        journal = cls.__new__(cls)
        journal.path = os.fspath(path)
        journal._setup(os.open(path, flags), None,
                       dict(strict=strict, max_uncompressed_size=max_uncompressed_size,
                            layout=layout))
        return journal

    @classmethod
    def from_file(cls, file: BinaryIO, *, sync: str = "flush", lock: Optional[str] = None,
                  on_torn_tail: str = "repair", buffer_size: int = 0, strict: bool = False,
                  layout: Union[str, Layout, None] = None,
                  max_uncompressed_size: int = DEFAULT_MAX_UNCOMPRESSED_SIZE
                  ) -> "LogFileJournal":
        """A journal on an open binary file (its descriptor is duplicated).

        A file open for writing ("r+b", "w+b") is read and appended to; a
        read-only file gives a read-only journal.  The file must be
        readable, and must not be in append mode.
        """
        try:
            fileno = file.fileno()
        except (AttributeError, io.UnsupportedOperation):
            raise UnsupportedOperationError(
                "from_file needs a file with a descriptor, not %s: for bytes in memory "
                "use LogFileJournal.from_buffer(data)" % type(file).__name__) from None
        writable = getattr(file, "writable", lambda: False)()
        if writable and getattr(file, "mode", "").startswith("a"):
            raise ValueError("open the journal file with 'r+b', not in append mode")
        name = getattr(file, "name", None)
        journal = cls.__new__(cls)
        journal.path = os.fspath(name) if isinstance(name, (str, os.PathLike)) else None
        reader_options = dict(strict=strict, max_uncompressed_size=max_uncompressed_size)
        writer_options = dict(path=journal.path, sync=sync, lock=lock,
                              on_torn_tail=on_torn_tail, buffer_size=buffer_size,
                              layout=layout,
                              max_uncompressed_size=max_uncompressed_size) if writable else None
        journal._setup(os.dup(fileno), writer_options, reader_options)
        return journal

    @staticmethod
    def from_buffer(buffer, **options) -> RecombinedJournal:
        """A read-only journal over a bytes-like object or mmap (not copied).

        Its writer is an UnsupportedJournal.
        """
        return RecombinedJournal(UnsupportedJournal(), LogFileJournalRx(buffer, **options))

    def as_restarted(self) -> LogFileJournalRx:
        """A new reader from the first record, of the file as it is now."""
        return self.rx.as_restarted()

    def split(self) -> Tuple[Any, LogFileJournalRx]:
        """The writer and the reader; each is closed on its own from now on."""
        self._open = False                  # theirs to close, not this object's
        return self.tx, self.rx


def _check_storable(result: LogReadResult, layout: Layout) -> None:
    """Raise EntryValueError, naming the record, if ``layout`` cannot hold it."""
    try:
        encode_entry(result.record, result.record_start, layout)
    except EntryValueError as exc:
        name = type(result.record).__name__
        message = exc.message if exc.message.startswith(name) else "%s: %s" % (
            name, exc.message)
        raise EntryValueError(message + "; nothing was converted",
                              result.record_start - RECORD_HEADER_SIZE) from None


def convert(source: Union[str, "os.PathLike[str]"],
            destination: Union[str, "os.PathLike[str]"],
            layout: Union[str, Layout], *, overwrite: bool = False,
            max_uncompressed_size: int = DEFAULT_MAX_UNCOMPRESSED_SIZE,
            progress: Optional[Callable[[int], Any]] = None) -> int:
    """Rewrite the journal ``source`` for another wasmer: every entry is
    re-encoded in ``layout`` into the new journal ``destination``.

    Returns the number of records written.  An entry the layout cannot hold
    (a record type 61-64 for wasmer 4 or 5, a snapshot trigger it lacks, a
    32-byte hash for wasmer-4.2) raises EntryValueError naming it and the
    offset of its header.  ``source`` must read to its end: a torn tail, a
    corrupt record or an unknown record type raise too.  The new file is
    written beside ``destination``, synced and renamed into place, so a
    failure leaves no ``destination`` (and an existing one, which needs
    ``overwrite=True``, as it was).  Segments become one.  ``progress``, if
    given, is called with the source offset each record ends at.
    """
    target = get_layout(layout)
    source = os.fspath(source)
    destination = os.fspath(destination)
    if not overwrite and os.path.lexists(destination):
        raise FileExistsError(errno.EEXIST, "%s already exists" % destination)
    with LogFileJournal.new_readonly(source, strict=True,
                                     max_uncompressed_size=max_uncompressed_size) as reader, \
            _replacement(destination, stat.S_IMODE(os.fstat(reader._fd).st_mode)) as (_, temp):
        with LogFileJournal(temp, lock="thread", buffer_size=1 << 20, layout=target,
                            max_uncompressed_size=max_uncompressed_size) as writer:
            writer.tx.prepare()
            count = 0
            batch = []
            for result in _reporting(reader.rx.records(), progress):
                _check_storable(result, target)
                batch.append(result.record)
                count += 1
                if len(batch) >= 1024:
                    writer.write_many(batch)
                    batch = []
            writer.write_many(batch)
            stop = reader.stop
            if stop is not None:
                raise UnknownRecordTypeError(
                    "record type %s ends the journal (its layout has no such type): "
                    "nothing after it could be converted" % stop.record_type,
                    stop.offset)
    return count


def load(path: Union[str, "os.PathLike[str]"], **options) -> List[JournalEntry]:
    """Every entry of the journal file at ``path``, read-only (``options``
    as for LogFileJournal.new_readonly)."""
    with LogFileJournal.new_readonly(path, **options) as journal:
        return list(journal)


_OPEN_MODES = {"r": "read only", "a": "read and append (made by the first write)",
               "x": "a new journal: the file must not exist"}


def open(path: Union[str, "os.PathLike[str]"], mode: str = "r",  # noqa: A001
         **options) -> LogFileJournal:
    """Open the journal at ``path``: ``"r"`` to read (the default), ``"a"``
    to read and append, ``"x"`` for a new journal (FileExistsError if
    ``path`` exists).  ``options`` are LogFileJournal's."""
    if mode not in _OPEN_MODES:
        raise ValueError("mode must be one of %s, not %r"
                         % (", ".join("%r (%s)" % item for item in _OPEN_MODES.items()), mode))
    if mode == "r":
        return LogFileJournal.new_readonly(path, **options)
    if mode == "x" and os.path.lexists(path):
        raise FileExistsError(errno.EEXIST, "%s already exists" % os.fspath(path))
    journal = LogFileJournal(path, **options)
    if mode == "x":
        journal.tx.prepare()
    return journal


def _covered(regions: List[Tuple[int, int]]) -> int:
    """Bytes in the union of the ranges [start, end)."""
    total = 0
    reach = None
    for start, end in sorted(regions):
        if reach is not None and start < reach:
            start = reach
        if end > start:
            total += end - start
        reach = end if reach is None else max(reach, end)
    return total


def journal_stats(journal, *, records: Optional[Iterable[LogReadResult]] = None,
                  largest: int = 5, page_size: Optional[int] = None,
                  at: Optional[int] = None) -> Dict[str, Any]:
    """Counts and sizes of a journal's records, as JSON-ready values (what
    ``stats`` prints, and ``stats --json`` prints as they are).

    ``journal`` is a LogFileJournal (or what from_buffer returns); its
    records are counted from the first, or ``records`` (LogReadResults of
    it, e.g. filtered or reported on) if given.  Keys: ``size``,
    ``records``, ``bytes``, ``body_bytes``, ``types`` (count, bytes and
    body bytes per type, in record-type order), ``memory`` (memory
    updates: their regions, distinct bytes, data and stored sizes),
    ``largest`` (the ``largest`` biggest records), ``stop``, ``layout``,
    ``layouts``, ``segment_layouts`` and ``segments`` (offset, end, records
    and bytes of each).  With ``page_size``, also ``memory_pages``
    (memory_pages(), as of snapshot ``at``), from the same reading.
    """
    with journal.rx.owned_buffer() as view:
        size = len(view)
    if records is None:
        records = journal.rx.as_restarted().records()
    types: Dict[str, Dict[str, int]] = {}
    biggest: List[Tuple[int, int, int, str]] = []       # heap of (size, -offset, ...)
    regions = []
    memory = dict(updates=0, region_bytes=0, distinct_bytes=0,
                  uncompressed_bytes=0, compressed_bytes=0)
    starts = [offset for offset, _ in journal.segment_layouts]
    ends = starts[1:] + [size]
    segments = [{"offset": start, "end": end, "records": 0, "bytes": 0}
                for start, end in zip(starts, ends)]

    def counted() -> Iterator[LogReadResult]:
        """The records, counted as they go by."""
        for result in records:
            entry = result.record
            name = type(entry).__name__
            body = result.record_end - result.record_start
            item = types.setdefault(name, {"count": 0, "bytes": 0, "body_bytes": 0})
            item["count"] += 1
            item["bytes"] += body + RECORD_HEADER_SIZE
            item["body_bytes"] += body
            offset = result.header_offset
            segment = segments[bisect.bisect_right(starts, offset) - 1]
            segment["records"] += 1
            segment["bytes"] += body + RECORD_HEADER_SIZE
            record = (body + RECORD_HEADER_SIZE, -offset, offset, name)
            if len(biggest) < largest:
                heapq.heappush(biggest, record)
            else:
                heapq.heappushpop(biggest, record)
            if isinstance(entry, UpdateMemoryRegionV1):
                start, end = entry.region
                regions.append((start, end))
                memory["updates"] += 1
                memory["region_bytes"] += max(end - start, 0)
                memory["uncompressed_bytes"] += len(entry.data)
                memory["compressed_bytes"] += len(entry.compressed_data)
            yield result

    pages = None
    results = counted()
    if page_size is not None:
        pages = memory_pages(results, page_size=page_size, at=at)
    collections.deque(results, 0)                    # the rest, past snapshot ``at``
    memory["distinct_bytes"] = _covered(regions)
    memory["ratio"] = round(memory["uncompressed_bytes"] / memory["compressed_bytes"], 3) \
        if memory["compressed_bytes"] else None
    order = {cls.__name__: cls.record_type for cls in ENTRY_CLASSES.values()}
    stop = journal.stop
    return {
        "size": size,
        "records": sum(item["count"] for item in types.values()),
        "bytes": sum(item["bytes"] for item in types.values()),
        "body_bytes": sum(item["body_bytes"] for item in types.values()),
        "types": {name: types[name] for name in sorted(types, key=order.get)},
        "memory": memory,
        "largest": [{"offset": offset, "type": name, "size": record_size}
                    for record_size, _, offset, name in sorted(biggest, reverse=True)],
        "stop": None if stop is None else stop._asdict(),
        "layout": journal.layout,
        "layouts": list(journal.layouts),
        "segment_layouts": [{"offset": offset, "layouts": list(names)}
                            for offset, names in journal.segment_layouts],
        "segments": segments,
        **({} if pages is None else {"page_size": page_size, "memory_at": at,
                                     "memory_pages": [page._asdict() for page in pages]}),
    }


# ---------------------------------------------------------------------------
# JSON: the serde form of wasmer's JournalEntry
# ---------------------------------------------------------------------------
#
# An entry is ``{"snake_case_variant": {field: value}}`` (a field-less one
# the bare name); each value is in its field type's form (see Value forms),
# as the layout's release of wasmer names and prints it.

# Missing Option fields are None, as serde reads them.
_OPTIONAL_TYPES = (EXIT_CODE_OPT, DURATION_OPT, EPOLL_EVENT_OPT)


def _snake_case(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() and i else c.lower()
                   for i, c in enumerate(name))


#: The serde variant name of every entry class (``init_module_v1``, ...).
JSON_VARIANT_NAMES: Dict[type, str] = {
    cls: _snake_case(cls.__name__) for cls in ENTRY_CLASSES.values()}
_CLASS_BY_JSON_NAME = {name: cls for cls, name in JSON_VARIANT_NAMES.items()}
_CLASS_BY_JSON_NAME.update({cls.__name__: cls for cls in ENTRY_CLASSES.values()})


_JSON_FIELDS: Dict[tuple, list] = {}


def _json_fields(cls, layout: Layout) -> List[Tuple[str, str, _FieldType]]:
    """(field, JSON key, field type as ``layout``'s wasmer has it) of
    ``cls``, in order."""
    key = (cls, layout)
    found = _JSON_FIELDS.get(key)
    if found is None:
        by_name = {field.name: field.type for field in cls.archive.fields}
        found = _JSON_FIELDS[key] = [
            (name, _json_key(cls, name, layout), by_name[name].for_layout(layout))
            for name in cls.fields]
    return found


def _json_key(cls, field: str, layout: Layout) -> str:
    """The JSON name of ``cls``'s ``field`` in ``layout``'s release (the
    entry class's ``_json_renames`` say which release renamed what)."""
    release, name = cls._json_renames.get(field, ((0,), field))
    return name if layout.json_release >= release else field


def entry_to_json(entry: JournalEntry, layout: Union[str, Layout, None] = None, *,
                  wasmer_exact: bool = False, lz4_literals_only: bool = False
                  ) -> Union[Dict[str, Any], str]:
    """The JSON value ``wasmer journal export`` prints for ``entry``.

    A dict ``{"variant_name": {fields}}``, or for the five field-less
    entries the bare variant name, as serde writes unit variants.  Pass it
    to ``json.dumps(value, indent=2, ensure_ascii=False)`` for wasmer's
    pretty layout, or ``separators=(",", ":")`` for one line.

    ``layout`` (default DEFAULT_LAYOUT) is the wasmer whose JSON to write
    (that of the layout's newest release): wasmer 6 calls CreatePipeV1's
    fds ``read_fd``/``write_fd``, from wasmer-journal 0.4.0 on
    UpdateMemoryRegionV1 carries ``compressed_data``, which serde
    compresses once more, from 0.12.0 an exit code is a number, ...

    Where wasmer's form loses something (unknown flag bits, an IPv6
    flowinfo, an exit code past 255 from wasmer 5 on) this form keeps it,
    in a form entry_from_json reads back; ``wasmer_exact=True`` gives what
    wasmer itself prints instead.

    ``lz4_literals_only=True`` writes byte vectors as LZ4 blocks of
    literals only (see lz4_compress_prepend_size): many times faster for
    anything but short values, and read back by entry_from_json and by
    wasmer's import to the same entry, but not the text wasmer prints.
    """
    cls = type(entry)
    name = JSON_VARIANT_NAMES[cls]
    if not cls.fields:
        return name
    layout = _DEFAULT_LAYOUT if layout is None else get_layout(layout)
    fields = {}
    for (field_name, key, field_type), value in zip(_json_fields(cls, layout), entry):
        if field_type.vector == "lz4":
            value = entry.compressed_data
            if key != field_name:               # base64 of the LZ4 of the LZ4
                value = lz4_compress_prepend_size(value, literals_only=lz4_literals_only)
        to_json = field_type.exact_json if wasmer_exact else field_type.to_json
        if to_json is _base64_lz4:              # (which LZ4 blocks: the caller's choice)
            fields[key] = _base64_lz4(value, lz4_literals_only)
        else:
            fields[key] = value if to_json is None else to_json(value)
    return {name: fields}


def entry_from_json(value: Union[Dict[str, Any], str], *,
                    max_uncompressed_size: int = DEFAULT_MAX_UNCOMPRESSED_SIZE
                    ) -> JournalEntry:
    """The entry a JSON value of ``entry_to_json``'s form describes.

    Accepts what wasmer's import accepts (unit variants also as
    ``{"name": null}``, missing Option fields as null, unknown fields
    ignored), in the names of every layout's wasmer (``fd1`` or
    ``read_fd``, ``data`` or ``compressed_data``), plus PascalCase variant
    names and this module's extended forms.  Byte vectors are decompressed
    with at most ``max_uncompressed_size`` bytes.  Raises EntryValueError.
    """
    if isinstance(value, str):
        name, fields = value, None
    elif isinstance(value, dict) and len(value) == 1:
        (name, fields), = value.items()
    else:
        raise EntryValueError("expected {\"variant_name\": {fields}} or a variant name, "
                              "got %s" % json.dumps(value)[:60])
    cls = _CLASS_BY_JSON_NAME.get(name)
    if cls is None:
        raise EntryValueError("unknown journal entry variant %r" % (name,))
    if not cls.fields:
        if fields not in (None, {}):
            raise EntryValueError("%s has no fields" % name)
        return cls()
    if not isinstance(fields, dict):
        raise EntryValueError("%s: expected an object of fields" % name)
    by_name = {field.name: field.type for field in cls.archive.fields}
    values = {}
    keys = {}
    for field_name in cls.fields:
        field_type = by_name[field_name]
        key = field_name
        if key not in fields:
            # The name a later wasmer uses, if that is what is there.
            key = cls._json_renames.get(field_name, (None, field_name))[1]
            if key not in fields:
                key = field_name
        keys[field_name] = key
        try:
            item = _json_field(fields, key, field_type in _OPTIONAL_TYPES)
            values[field_name] = field_type.from_json(item, max_uncompressed_size)
        except _BadJson as exc:
            raise EntryValueError("%s.%s: %s" % (name, key, exc)) from None
    lz4_field = next((f.name for f in cls.archive.fields if f.type is LZ4_BYTES), None)
    if lz4_field is not None:
        compressed = values[lz4_field]
        key = keys[lz4_field]
        try:
            if key != lz4_field:                # serde compressed the compressed bytes
                compressed = _lz4_decompress_prepended(compressed, max_uncompressed_size)
            values[lz4_field] = _lz4_decompress_prepended(compressed, max_uncompressed_size)
        except _LZ4Error as exc:
            raise EntryValueError("%s.%s: invalid LZ4 data: %s" % (name, key, exc)) from None
        entry = cls(**values)
        object.__setattr__(entry, "_compressed", compressed)
        return entry
    try:
        return cls(**values)
    except TypeError as exc:
        raise EntryValueError("%s: %s" % (name, exc)) from None


# ---------------------------------------------------------------------------
# wasmer's text: what PrintingJournal prints
# ---------------------------------------------------------------------------
#
# ``wasmer journal inspect`` prints each entry with the Display of
# ``JournalEntry`` (concrete/printing.rs), whose fields use Rust's Debug of
# wasix types.  What changed between releases, by the release it came in:
# exit codes as numbers (0.12.0), pipe ends as read_fd/write_fd (0.19.0),
# the closing parenthesis of thread-update and sock-send (0.600.0), and
# "Uknown" spelled right (0.705.0).

_RIGHTS_NAMES = [member.name for member in sorted(Rights, key=int)]
_FDFLAGS_NAMES = [member.name for member in sorted(Fdflags, key=int)]
_EPOLL_CTL_NAMES = {EpollCtl.Add: "EPOLL_CTL_ADD", EpollCtl.Mod: "EPOLL_CTL_MOD",
                    EpollCtl.Del: "EPOLL_CTL_DEL", EpollCtl.Unknown: "Unknown"}


def _rust_flags(bits: int, names: Sequence[str]) -> str:
    """bitflags' Debug of what wasmer keeps (unknown bits are dropped)."""
    kept = [name for bit, name in enumerate(names) if bits >> bit & 1]
    return " | ".join(kept) if kept else "(empty)"


def _rust_duration(nanos: int) -> str:
    """Rust's Debug of a Duration: 1.5s, 250ms, 3µs, 0ns."""
    for unit, scale in (("s", 10 ** 9), ("ms", 10 ** 6), ("\u00b5s", 10 ** 3)):
        if nanos >= scale:
            whole, part = divmod(nanos, scale)
            digits = ("%0*d" % (len(str(scale)) - 1, part)).rstrip("0")
            return "%d%s%s" % (whole, "." + digits if digits else "", unit)
    return "%dns" % nanos


def _rust_exit_code(code: Optional[ExitCode], release: tuple) -> str:
    """Debug of the Option<ExitCode> wasmer reads from the archive."""
    if code is None:
        return "None"
    number = code.value
    if release >= (0, 12, 0):                   # ExitCode(u16): n % 256, Rust's %
        number = (abs(number) % 256 * (-1 if number < 0 else 1)) & 0xFFFF
        return "Some(ExitCode::%d)" % number
    if code.kind is ExitCodeKind.Errno:
        name = _ERRNO_NAMES[number] if number < len(_ERRNO_NAMES) else "Unknown"
        number = number if number < len(_ERRNO_NAMES) else len(_ERRNO_NAMES) - 1
        return "Some(ExitCode::%s (error %d))" % (name.lower(), number)
    return "Some(ExitCode::%d)" % number


def _rust_open(entry, release) -> str:
    o_flags = entry.o_flags
    if o_flags & Oflags.CREATE:
        kind = "fd-create-new" if o_flags & Oflags.TRUNC else \
            "fd-create-excl" if o_flags & Oflags.EXCL else "fd-create"
    else:
        kind = "fd-open-new" if o_flags & Oflags.TRUNC else "fd-open"
    return "%s (fd=%d, path=%s)" % (kind, entry.fd, entry.path)


def _rust_socktype(ty: Socktype, release: tuple) -> str:
    if ty is Socktype.Unknown and release < (0, 705, 0):
        return "Socktype::Uknown"                 # the wasix typo
    return "Socktype::%s" % ty.name


def _rust_sockproto(number: int) -> str:
    return "SockProto::%s" % (_SOCKPROTO_NAMES[number] if number < len(_SOCKPROTO_NAMES)
                              else number)


def _rust_addr(value: tuple) -> str:
    """Rust's Display of a SocketAddr (no room for an IPv6 flowinfo)."""
    return _sockaddr_exact(value)


def _memory_text(entry, release) -> str:
    compressed = entry.compressed_data
    size = _LZ4_SIZE.unpack_from(compressed)[0] if len(compressed) >= 4 else len(compressed)
    return "memory-update (start=%d, end=%d, data.len=%d, compressed.len=%d)" % (
        entry.region.start, entry.region.end, size, len(compressed))


def _closed(release) -> str:
    """The ")" wasmer-journal before 0.600.0 left out of two lines."""
    return ")" if release >= (0, 600, 0) else ""


_WASMER_TEXT: Dict[type, Callable[[Any, tuple], str]] = {
    InitModuleV1: lambda e, r: "init-module (hash=[%s])" % ", ".join(
        "%x" % byte for byte in e.wasm_hash),
    ClearEtherealV1: lambda e, r: "clear-ethereal",
    UpdateMemoryRegionV1: _memory_text,
    ProcessExitV1: lambda e, r: "process-exit (code=%s)" % _rust_exit_code(e.exit_code, r),
    SetThreadV1: lambda e, r: "thread-update (id=%d, call-stack.len=%d, mem-stack.len=%d, "
    "store-size=%d%s" % (e.id, len(e.call_stack), len(e.memory_stack), len(e.store_data),
                         _closed(r)),
    CloseThreadV1: lambda e, r: "thread-close (id=%d, code=%s)" % (
        e.id, _rust_exit_code(e.exit_code, r)),
    FileDescriptorSeekV1: lambda e, r: "fd-seek (fd=%d, offset=%d, whence=Whence::%s)" % (
        e.fd, e.offset, e.whence.name),
    FileDescriptorWriteV1: lambda e, r: "fd-write (fd=%d, offset=%d, data.len=%d)" % (
        e.fd, e.offset, len(e.data)),
    SetClockTimeV1: lambda e, r: "set-clock-time (id=Snapshot0Clockid::%s, time=%d)" % (
        e.clock_id.name, e.time),
    CloseFileDescriptorV1: lambda e, r: "fd-close (fd=%d)" % e.fd,
    OpenFileDescriptorV1: _rust_open,
    OpenFileDescriptorV2: _rust_open,
    RenumberFileDescriptorV1: lambda e, r: "fd-renumber (old=%d, new=%d)" % (
        e.old_fd, e.new_fd),
    DuplicateFileDescriptorV1: lambda e, r: "fd-duplicate (original=%d, copied=%d)" % (
        e.original_fd, e.copied_fd),
    DuplicateFileDescriptorV2: lambda e, r: "fd-duplicate (original=%d, copied=%d, "
    "cloexec=%s)" % (e.original_fd, e.copied_fd, _text_bool(e.cloexec)),
    CreateDirectoryV1: lambda e, r: "path-create-dir (fd=%d, path=%s)" % (e.fd, e.path),
    RemoveDirectoryV1: lambda e, r: "path-remove-dir (fd=%d, path=%s)" % (e.fd, e.path),
    PathSetTimesV1: lambda e, r: "path-set-times (path=%s, atime=%d, mtime=%d))" % (
        e.path, e.st_atim, e.st_mtim),
    FileDescriptorSetTimesV1: lambda e, r: "fd-set-times (fd=%d, atime=%d, mtime=%d)" % (
        e.fd, e.st_atim, e.st_mtim),
    FileDescriptorSetFdFlagsV1: lambda e, r: "fd-set-fd-flags (fd=%d, flags=%s)" % (
        e.fd, _rust_flags(e.flags, [member.name for member in Fdflagsext])),
    FileDescriptorSetFlagsV1: lambda e, r: "fd-set-flags (fd=%d, flags=%s)" % (
        e.fd, _rust_flags(e.flags, _FDFLAGS_NAMES)),
    FileDescriptorSetRightsV1: lambda e, r: "fd-set-rights (fd=%d, base=%s, inherited=%s)" % (
        e.fd, _rust_flags(e.fs_rights_base, _RIGHTS_NAMES),
        _rust_flags(e.fs_rights_inheriting, _RIGHTS_NAMES)),
    FileDescriptorSetSizeV1: lambda e, r: "fd-set-size (fd=%d, size=%d)" % (e.fd, e.st_size),
    FileDescriptorAdviseV1: lambda e, r: "fd-advise (fd=%d, offset=%d, len=%d)" % (
        e.fd, e.offset, e.len),
    FileDescriptorAllocateV1: lambda e, r: "fd-allocate (fd=%d, offset=%d, len=%d)" % (
        e.fd, e.offset, e.len),
    CreateHardLinkV1: lambda e, r: "path-link (from=%s, to=%s)" % (e.old_path, e.new_path),
    CreateSymbolicLinkV1: lambda e, r: "path-symlink (from=%s, to=%s)" % (
        e.old_path, e.new_path),
    UnlinkFileV1: lambda e, r: "path-unlink (path=%s)" % e.path,
    PathRenameV1: lambda e, r: "path-rename (old-path=%s, new-path=%s)" % (
        e.old_path, e.new_path),
    ChangeDirectoryV1: lambda e, r: "chdir (path=%s)" % e.path,
    EpollCreateV1: lambda e, r: "epoll-create (fd=%d)" % e.fd,
    EpollCtlV1: lambda e, r: "epoll-ctl (epfd=%d, op=%s, fd=%d)" % (
        e.epfd, _EPOLL_CTL_NAMES[e.op], e.fd),
    TtySetV1: lambda e, r: "tty-set (echo=%s, buffering=%s, feeds=%s)" % (
        _text_bool(e.tty.echo), _text_bool(e.tty.line_buffered), _text_bool(e.line_feeds)),
    CreatePipeV1: lambda e, r: ("fd-pipe (read_fd=%d, write_fd=%d)" if r >= (0, 19, 0)
                                else "fd-pipe (fd1=%d, fd2=%d)") % (e.fd1, e.fd2),
    CreateEventV1: lambda e, r: "fd-event (fd=%d, initial=%d)" % (e.fd, e.initial_val),
    PortAddAddrV1: lambda e, r: "port-addr-add (ip=%s, prefix=%d)" % (
        _ip_text(e.cidr.ip), e.cidr.prefix),
    PortDelAddrV1: lambda e, r: "port-addr-del (addr=%s)" % _ip_text(e.addr),
    PortAddrClearV1: lambda e, r: "port-addr-clear",
    PortBridgeV1: lambda e, r: "port-bridge (network=%s)" % e.network,
    PortUnbridgeV1: lambda e, r: "port-unbridge",
    PortDhcpAcquireV1: lambda e, r: "port-dhcp-acquire",
    PortGatewaySetV1: lambda e, r: "port-gateway-set (ip=%s)" % _ip_text(e.ip),
    PortRouteAddV1: lambda e, r: "port-route-add (ip=%s, prefix=%d, via_router=%s)" % (
        _ip_text(e.cidr.ip), e.cidr.prefix, _ip_text(e.via_router)),
    PortRouteClearV1: lambda e, r: "port-route-clear",
    PortRouteDelV1: lambda e, r: "port-route-del (ip=%s)" % _ip_text(e.ip),
    SocketOpenV1: lambda e, r: "sock-open (fd=%d, af=Addressfamily::%s, ty=%s, pt=%s)" % (
        e.fd, e.af.name, _rust_socktype(e.ty, r), _rust_sockproto(e.pt)),
    SocketPairV1: lambda e, r: "sock-pair (fd1=%d, fd2=%d)" % (e.fd1, e.fd2),
    SocketListenV1: lambda e, r: "sock-listen (fd=%d, backlog=%d)" % (e.fd, e.backlog),
    SocketBindV1: lambda e, r: "sock-bind (fd=%d, addr=%s)" % (e.fd, _rust_addr(e.addr)),
    SocketConnectedV1: lambda e, r: "sock-connect (fd=%d, addr=%s, peer=%s)" % (
        e.fd, _rust_addr(e.local_addr), _rust_addr(e.peer_addr)),
    SocketAcceptedV1: lambda e, r: "sock-accept (listen-fd=%d, sock_fd=%d, addr=%s, peer=%s)"
    % (e.listen_fd, e.fd, _rust_addr(e.local_addr), _rust_addr(e.peer_addr)),
    SocketJoinIpv4MulticastV1: lambda e, r: "sock-join-mcast-ipv4 (fd=%d, addr=%s, iface=%s)"
    % (e.fd, _ip_text(e.multiaddr), _ip_text(e.iface)),
    SocketJoinIpv6MulticastV1: lambda e, r: "sock-join-mcast-ipv6 (fd=%d, addr=%s, iface=%d)"
    % (e.fd, _ip_text(e.multi_addr), e.iface),
    SocketLeaveIpv4MulticastV1: lambda e, r: "sock-leave-mcast-ipv4 (fd=%d, addr=%s, "
    "iface=%s)" % (e.fd, _ip_text(e.multi_addr), _ip_text(e.iface)),
    SocketLeaveIpv6MulticastV1: lambda e, r: "sock-leave-mcast-ipv6 (fd=%d, addr=%s, "
    "iface=%d)" % (e.fd, _ip_text(e.multi_addr), e.iface),
    SocketSendFileV1: lambda e, r: "sock-send-file (sock-fd=%d, file-fd=%d, offset=%d, "
    "count=%d)" % (e.socket_fd, e.file_fd, e.offset, e.count),
    SocketSendToV1: lambda e, r: "sock-send-to (fd=%d, data.len=%d, addr=%s)" % (
        e.fd, len(e.data), _rust_addr(e.addr)),
    SocketSendV1: lambda e, r: "sock-send (fd=%d, data.len=%d%s" % (
        e.fd, len(e.data), _closed(r)),
    SocketSetOptFlagV1: lambda e, r: "sock-set-opt (fd=%d, opt=Sockoption::%s, flag=%s)" % (
        e.fd, e.opt.name, _text_bool(e.flag)),
    SocketSetOptSizeV1: lambda e, r: "sock-set-opt (fd=%d, opt=Sockoption::%s, size=%d)" % (
        e.fd, e.opt.name, e.size),
    SocketSetOptTimeV1: lambda e, r: "sock-set-opt (fd=%d, opt=%s, time=%s)" % (
        e.fd, e.ty.name, "None" if e.time is None else "Some(%s)" % _rust_duration(e.time)),
    SocketShutdownV1: lambda e, r: "sock-shutdown (fd=%d, how=%s)" % (e.fd, e.how.name),
    SnapshotV1: lambda e, r: "snapshot (when=SystemTime { tv_sec: %d, tv_nsec: %d }, "
    "trigger=%s)" % (*divmod(max(e.when, 0), _NANOS_PER_SEC), e.trigger.name),
}
assert set(_WASMER_TEXT) == set(ENTRY_CLASSES.values())


def wasmer_text(entry: JournalEntry, layout: Union[str, Layout, None] = None) -> str:
    """The line ``wasmer journal inspect`` (PrintingJournal) prints for
    ``entry``, as ``layout``'s release of wasmer prints it (default
    DEFAULT_LAYOUT's)."""
    layout = _DEFAULT_LAYOUT if layout is None else get_layout(layout)
    return _WASMER_TEXT[ENTRY_CLASSES[entry.record_type]](entry, layout.json_release)


# ---------------------------------------------------------------------------
# wasmer's tools: its filter, its memory file and its compactor
# ---------------------------------------------------------------------------

#: The categories wasmer's FilteredJournal can leave out, and the names
#: ``wasmer journal filter -f`` takes for them.
FILTER_CATEGORIES: Dict[str, Tuple[str, ...]] = {
    "mem": ("mem", "memory"), "threads": ("thread", "threads"),
    "fs": ("fs", "file", "filesystem", "file-system"), "core": ("core",),
    "snap": ("snap", "snapshot", "snapshots"), "net": ("net", "network", "networking"),
    "stdio": ("stdio",),
}

# The category of each entry class in FilteredJournal (filter.rs); a
# descriptor record is "fd": file system, and stdio as well for fds 0-2.
_FILTER_CLASS: Dict[type, Optional[str]] = {}
for _names, _category in (
        ("SetClockTimeV1 InitModuleV1 ProcessExitV1 EpollCreateV1 EpollCtlV1 TtySetV1", "core"),
        ("ClearEtherealV1", None),
        ("SetThreadV1 CloseThreadV1", "threads"),
        ("UpdateMemoryRegionV1", "mem"),
        ("FileDescriptorSeekV1 FileDescriptorWriteV1 OpenFileDescriptorV1 OpenFileDescriptorV2 "
         "CloseFileDescriptorV1 RenumberFileDescriptorV1 DuplicateFileDescriptorV1 "
         "DuplicateFileDescriptorV2 FileDescriptorSetFdFlagsV1 FileDescriptorSetFlagsV1 "
         "FileDescriptorAdviseV1 FileDescriptorAllocateV1 FileDescriptorSetRightsV1 "
         "FileDescriptorSetTimesV1 FileDescriptorSetSizeV1", "fd"),
        ("RemoveDirectoryV1 UnlinkFileV1 PathRenameV1 CreateDirectoryV1 PathSetTimesV1 "
         "CreateHardLinkV1 CreateSymbolicLinkV1 ChangeDirectoryV1 CreatePipeV1 CreateEventV1",
         "fs"),
        ("SnapshotV1", "snap")):
    for _name in _names.split():
        _FILTER_CLASS[globals()[_name]] = _category
for _cls in ENTRY_CLASSES.values():
    if _cls.__name__.startswith(("Port", "Socket")):
        _FILTER_CLASS[_cls] = "net"
del _names, _category, _name, _cls
assert set(_FILTER_CLASS) == set(ENTRY_CLASSES.values())
# The descriptor a record of the "fd" kind is about, for "stdio".
_FILTER_FD = {RenumberFileDescriptorV1: "old_fd", DuplicateFileDescriptorV1: "original_fd",
              DuplicateFileDescriptorV2: "original_fd"}


def filter_category(name: str) -> str:
    """The FILTER_CATEGORIES key ``name`` (or one of its aliases) means."""
    lowered = name.lower()
    for category, aliases in FILTER_CATEGORIES.items():
        if lowered in aliases:
            return category
    raise ValueError("unknown filter category %r (one of %s)"
                     % (name, ", ".join(alias for aliases in FILTER_CATEGORIES.values()
                                        for alias in aliases)))


def filtered_out(entry: JournalEntry, categories) -> bool:
    """Whether wasmer's FilteredJournal, leaving out ``categories`` (names
    or aliases of FILTER_CATEGORIES), drops ``entry``."""
    wanted = {filter_category(name) for name in categories}
    cls = ENTRY_CLASSES[entry.record_type]
    kind = _FILTER_CLASS[cls]
    if kind == "fd":
        fd = getattr(entry, _FILTER_FD.get(cls, "fd"))
        return "fs" in wanted or ("stdio" in wanted and fd <= 2)
    return kind in wanted


def memory_image(journal, path=None, *, at: Optional[int] = None,
                 max_size: int = DEFAULT_MAX_UNCOMPRESSED_SIZE,
                 progress: Optional[Callable[[int], Any]] = None) -> Optional[bytes]:
    """The linear memory a journal rebuilds, by wasmer's MemFileJournal rules.

    Each UpdateMemoryRegionV1 writes its data at ``region.start`` (its
    ``region.end`` is not used); InitModuleV1 and ProcessExitV1 empty the
    image; the bytes no update wrote are zero (holes, in a file).  ``at``
    stops after the ``at``-th SnapshotV1 (1 is the first), which no wasmer
    tool can.  ``journal`` is a path, or a journal or reader to read on.

    Returns the bytes, which may be at most ``max_size`` long (EntryValueError
    beyond); or, given ``path``, writes them there instead -- to a new file
    beside it, synced and renamed into place, sparse where nothing was
    written, so a failure leaves ``path`` as it was -- and returns None.
    ``progress``, if given, is called with the offset each record ends at.
    """
    if at is not None and at < 1:
        raise ValueError("at counts snapshots from 1")
    if isinstance(journal, (str, os.PathLike)):
        with LogFileJournal.new_readonly(journal) as opened:
            return memory_image(opened, path, at=at, max_size=max_size, progress=progress)
    records = _reporting(_records_of(journal), progress)
    if path is None:
        image = bytearray()
        _replay_memory(records, at, lambda offset, data: _image_write(
            image, offset, data, max_size), image.clear)
        return bytes(image)
    with _replacement(os.fspath(path)) as (fd, _):
        _replay_memory(records, at, lambda offset, data: _pwrite_all(fd, data, offset),
                       lambda: os.ftruncate(fd, 0))
        _fsync(fd)
    return None


WASM_PAGE_SIZE = 65536


class MemoryPage(NamedTuple):
    """One page of the memory image, as memory_pages() finds it."""
    index: int                  # the page's offset is index * page_size
    writes: int                 # how many memory updates wrote into it
    snapshot: Optional[int]     # the SnapshotV1 (1 = first) after its last write, if any


def memory_pages(journal, *, at: Optional[int] = None, page_size: int = WASM_PAGE_SIZE,
                 progress: Optional[Callable[[int], Any]] = None) -> List[MemoryPage]:
    """The written pages of the image memory_image() rebuilds, in order.

    Each page an UpdateMemoryRegionV1's data touches counts one write;
    InitModuleV1 and ProcessExitV1 empty the image (and the counts).  A
    page's ``snapshot`` is the number of the SnapshotV1 that follows its
    last write: the snapshot that holds it (None when none follows, as for
    a snapshot still being written).  ``journal`` is a path, a journal, a
    reader, or an iterable of LogReadResult; ``at`` and ``progress`` are
    memory_image()'s.  The work is one step per page written per update.
    """
    if at is not None and at < 1:
        raise ValueError("at counts snapshots from 1")
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    if isinstance(journal, (str, os.PathLike)):
        with LogFileJournal.new_readonly(journal) as opened:
            return memory_pages(opened, at=at, page_size=page_size, progress=progress)
    pages: Dict[int, List[int]] = {}                # index -> [writes, snapshots before]
    snapshots = [0]

    def write(offset: int, data: bytes) -> None:
        if data:
            for index in range(offset // page_size, (offset + len(data) - 1) // page_size + 1):
                page = pages.setdefault(index, [0, 0])
                page[0] += 1
                page[1] = snapshots[0]

    def snapshot() -> None:
        snapshots[0] += 1

    _replay_memory(_reporting(_records_of(journal), progress), at, write, pages.clear,
                   snapshot)
    return [MemoryPage(index, writes, before + 1 if before < snapshots[0] else None)
            for index, (writes, before) in sorted(pages.items())]


def _records_of(journal) -> Iterator[LogReadResult]:
    """The records of a journal, a reader or an iterable of them."""
    if isinstance(journal, LogFileJournalRx):
        return journal.records()
    rx = getattr(journal, "rx", None)
    return iter(journal) if rx is None else rx.records()


def _reporting(records: Iterator[LogReadResult],
               progress: Optional[Callable[[int], Any]]) -> Iterator[LogReadResult]:
    """``records``, calling ``progress`` (if any) with where each one ends."""
    if progress is None:
        return records
    return _reported(records, progress)


def _reported(records, progress) -> Iterator[LogReadResult]:
    for result in records:
        progress(result.record_end)
        yield result


def _replay_memory(records, at, write, clear, snapshot=None) -> None:
    """MemFileJournal's rules: ``write(offset, data)`` for each memory
    update, ``clear()`` where the image empties, ``snapshot()`` at each
    SnapshotV1; stop after the ``at``-th snapshot."""
    snapshots = 0
    for result in records:
        entry = result.record
        if isinstance(entry, UpdateMemoryRegionV1):
            write(entry.region.start, entry.data)
        elif isinstance(entry, (InitModuleV1, ProcessExitV1)):
            clear()
        elif isinstance(entry, SnapshotV1):
            if snapshot is not None:
                snapshot()
            snapshots += 1
            if snapshots == at:
                return


def _image_write(image: bytearray, offset: int, data: bytes, max_size: int) -> None:
    end = offset + len(data)
    if end > max_size:
        raise EntryValueError("the memory image would be %s bytes, more than max_size %d; "
                              "write it to a file (it is sparse there)"
                              % (_int_text(end), max_size))
    if end > len(image):
        image.extend(bytes(end - len(image)))
    image[offset:end] = data


#: Largest file extract_files() makes: a write, size or allocation past it
#: is refused (a hostile journal could ask for 2**64 bytes).
DEFAULT_MAX_FILE_SIZE = 1 << 30

#: Deepest directory extract_files() makes or walks (each path check walks
#: up at most this far, so no record costs more than that).
MAX_TREE_DEPTH = 256


class FileRefusal(NamedTuple):
    """A record extract_files() did not carry out (or an entry it could not
    make), and why."""
    offset: int                 # the record's header offset, as inspect shows it
    record_type: str            # its entry class, e.g. "OpenFileDescriptorV1"
    reason: str


class FilesReport(NamedTuple):
    """What extract_files() made."""
    directories: int            # directories made (DIR itself not counted)
    files: int                  # regular files made (each counted once)
    symlinks: int               # symbolic links made
    links: int                  # further names of a file (hard links)
    bytes_written: int          # file data written (also to files unlinked later)
    other_writes: int           # writes to descriptors that are not files: stdio, pipes, sockets
    refused: List[FileRefusal]  # in the order of the records


class _Refused(Exception):
    """A record that extract_files() refuses; the message says why."""


class _Node:
    """A file-tree entry as the journal leaves it.

    ``kind`` is "dir", "file", "symlink" or "unknown": a path opened without
    O_CREAT that the journal never made (it existed before, outside the
    journal), which becomes a file when written and a directory when used
    as one.  A directory is made if ``explicit`` (CreateDirectoryV1) or if
    something is made inside it; an unknown entry is never made.
    """
    __slots__ = ("kind", "explicit", "entries", "parent", "inode", "size", "names",
                 "target", "atime", "mtime", "origin", "times_origin")

    def __init__(self, kind: str, origin: Tuple[int, str], explicit: bool = False) -> None:
        self.kind = kind
        self.explicit = explicit
        self.entries: Dict[str, "_Node"] = {}
        self.parent: Optional["_Node"] = None       # directories only
        self.inode = 0                              # files: the staging file's number
        self.size = 0
        self.names = 0                              # how many directory entries name it
        self.target = ""                            # symlinks
        self.atime: Optional[int] = None
        self.mtime: Optional[int] = None
        self.origin = origin                        # (header offset, type) that made it
        self.times_origin = origin                  # and that set its times


class _Descriptor:
    """An open descriptor: shared by fd_dup's copies, as a POSIX file
    description is (so are its flags)."""
    __slots__ = ("node", "append")

    def __init__(self, node: _Node, append: bool) -> None:
        self.node = node
        self.append = append


# Records that make a descriptor that is not a file (a pipe, a socket, ...):
# whatever the fd numbered before is gone.
_OTHER_FD_FIELDS = {CreatePipeV1: ("fd1", "fd2"), SocketPairV1: ("fd1", "fd2"),
                    SocketOpenV1: ("fd",), SocketAcceptedV1: ("fd",),
                    EpollCreateV1: ("fd",), CreateEventV1: ("fd",)}
_FOLLOW = Lookupflags.SYMLINK_FOLLOW


class _FileReplay:
    """Replays the file-system records onto a tree of _Node; file contents
    go to staging files (one per file, named by number) in ``staging_fd``."""

    def __init__(self, staging_fd: int, max_file_size: int) -> None:
        self.staging_fd = staging_fd
        self.max_file_size = max_file_size
        self.origin = (0, "")
        self.root = _Node("dir", self.origin, explicit=True)
        self.fds: Dict[int, _Descriptor] = {}
        self.inodes = 0
        self.host_fds: Dict[int, int] = {}          # inode -> open staging fd (a few)
        self.bytes_written = 0
        self.other_writes = 0

    def close(self) -> None:
        for fd in self.host_fds.values():
            os.close(fd)
        self.host_fds.clear()

    # -- paths ----------------------------------------------------------

    def _base(self, fd: int) -> _Node:
        """The directory a path relative to ``fd`` starts from: one the
        journal opened, else the root (a preopened directory)."""
        descriptor = self.fds.get(fd)
        if descriptor is None:
            return self.root
        node = descriptor.node
        if node.kind == "unknown":
            self._make_dir(node)
        elif node.kind != "dir":
            raise _Refused("descriptor %d is not a directory" % fd)
        return node

    def _make_dir(self, node: _Node) -> None:
        node.kind, node.entries = "dir", {}

    def _depth(self, node: _Node) -> int:
        """How deep ``node`` is (a detached one counts from its top); past
        MAX_TREE_DEPTH is refused."""
        depth = 0
        while node.parent is not None:
            node = node.parent
            depth += 1
            if depth > MAX_TREE_DEPTH:
                raise _Refused("the tree would be deeper than %d directories" % MAX_TREE_DEPTH)
        return depth

    def _new(self, parent: _Node, name: str, kind: str, explicit: bool = False) -> _Node:
        node = _Node(kind, self.origin, explicit)
        if kind == "dir":
            node.parent = parent
            self._depth(node)
        elif kind == "file":
            self._make_file(node)
        node.names = 1
        parent.entries[name] = node
        return node

    def _make_file(self, node: _Node) -> None:
        if node.kind != "file" or not node.inode:
            node.kind = "file"
            self.inodes += 1
            node.inode = self.inodes

    def resolve(self, fd: int, path: str, create: bool) -> Tuple[_Node, Optional[str]]:
        """(directory, name) that ``path`` relative to ``fd`` names; name is
        None when the path is the directory itself ("", ".", "a/..").

        A leading "/" is the root of the tree (DIR), as in wasmer, where it
        is the guest's root and never the host's.  ``..`` goes up, but never
        above the root; a symbolic link on the way is refused, never
        followed; missing directories on the way are made (as implicit
        ones) when ``create``, else refused.
        """
        if "\0" in path:
            raise _Refused("%r holds a NUL byte" % path)
        node = self.root if path.startswith("/") else self._base(fd)
        parts = [part for part in path.split("/") if part and part != "."]
        for index, part in enumerate(parts):
            if part == "..":
                if node.parent is None:
                    raise _Refused("%r leaves the extracted tree (..)" % path)
                node = node.parent
                continue
            if index == len(parts) - 1:
                return node, part
            child = node.entries.get(part)
            if child is None:
                if not create:
                    raise _Refused("%r: no directory %r in the extracted tree" % (path, part))
                child = self._new(node, part, "dir")
            elif child.kind == "symlink":
                raise _Refused("%r goes through the symbolic link %r (never followed)"
                               % (path, part))
            elif child.kind == "unknown":
                self._make_dir(child)
                child.parent = node
            elif child.kind != "dir":
                raise _Refused("%r: %r is not a directory" % (path, part))
            node = child
        return node, None

    def lookup(self, fd: int, path: str, follow: bool = False) -> _Node:
        """The entry ``path`` names (refused if there is none)."""
        parent, name = self.resolve(fd, path, create=False)
        if name is None:
            return parent
        node = parent.entries.get(name)
        if node is None:
            raise _Refused("%r is not in the extracted tree" % path)
        if follow and node.kind == "symlink":
            raise _Refused("%r is a symbolic link (never followed)" % path)
        return node

    # -- file contents --------------------------------------------------

    def _host_fd(self, node: _Node) -> int:
        fd = self.host_fds.get(node.inode)
        if fd is None:
            if len(self.host_fds) >= 32:            # a few stay open; the oldest goes
                os.close(self.host_fds.pop(next(iter(self.host_fds))))
            fd = os.open(str(node.inode), os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0),
                         0o666, dir_fd=self.staging_fd)
            self.host_fds[node.inode] = fd
        return fd

    def _file_of(self, fd: int) -> Optional[_Node]:
        """The file descriptor ``fd`` writes to; None for stdio, pipes,
        sockets and descriptors the journal never opened."""
        descriptor = self.fds.get(fd)
        if descriptor is None:
            return None
        node = descriptor.node
        if node.kind == "dir":
            raise _Refused("descriptor %d is a directory" % fd)
        if node.kind == "symlink":
            raise _Refused("descriptor %d is a symbolic link (never written through)" % fd)
        self._make_file(node)
        return node

    def _sized_file(self, fd: int) -> _Node:
        node = self._file_of(fd)
        if node is None:
            raise _Refused("descriptor %d is not open on a file" % fd)
        return node

    def _check_size(self, end: int, what: str) -> None:
        if end > self.max_file_size:
            raise _Refused("%s would make the file %s bytes, more than max_file_size %s"
                           % (what, _int_text(end), _int_text(self.max_file_size)))

    def set_size(self, node: _Node, size: int) -> None:
        if node.names:                              # an unlinked file is not kept
            os.ftruncate(self._host_fd(node), size)
        node.size = size

    def write(self, entry) -> None:
        node = self._file_of(entry.fd)
        if node is None:
            self.other_writes += 1
            return
        offset = node.size if self.fds[entry.fd].append else entry.offset
        end = offset + len(entry.data)
        self._check_size(end, "writing %s at offset %s" % (
            _plural(len(entry.data), "byte", "bytes"), _int_text(offset)))
        if entry.data:
            if node.names:
                _pwrite_all(self._host_fd(node), entry.data, offset)
            node.size = max(node.size, end)
            self.bytes_written += len(entry.data)

    # -- records --------------------------------------------------------

    def open(self, entry) -> None:
        self.fds.pop(entry.fd, None)                # whatever it was is closed
        o_flags = entry.o_flags
        parent, name = self.resolve(entry.dirfd, entry.path, create=True)
        if name is None:
            node = parent
        else:
            node = parent.entries.get(name)
            if node is None:
                kind = ("dir" if o_flags & Oflags.DIRECTORY else
                        "file" if o_flags & (Oflags.CREATE | Oflags.TRUNC) else "unknown")
                node = self._new(parent, name, kind, explicit=kind == "file")
            elif node.kind == "symlink":
                raise _Refused("%r is a symbolic link (never followed)" % entry.path)
            elif node.kind == "unknown" and o_flags & Oflags.DIRECTORY:
                self._make_dir(node)
                node.parent = parent
            elif node.kind == "unknown" and o_flags & Oflags.CREATE:
                self._make_file(node)
        if o_flags & Oflags.DIRECTORY and node.kind == "file":
            raise _Refused("%r is not a directory" % entry.path)
        if o_flags & Oflags.TRUNC:
            if node.kind == "dir":
                raise _Refused("%r is a directory (O_TRUNC)" % entry.path)
            self._make_file(node)
            self.set_size(node, 0)
        self.fds[entry.fd] = _Descriptor(node, bool(entry.fs_flags & Fdflags.APPEND))

    def create_directory(self, entry) -> None:
        parent, name = self.resolve(entry.fd, entry.path, create=True)
        node = parent if name is None else parent.entries.get(name)
        if node is None:
            self._new(parent, name, "dir", explicit=True)
        elif node.kind == "unknown":
            self._make_dir(node)
            node.parent, node.explicit = parent, True
        elif node.kind == "dir":
            node.explicit = True                    # wasmer's mount ignored "exists"
        else:
            raise _Refused("%r exists and is not a directory" % entry.path)

    def remove_directory(self, entry) -> None:
        parent, name = self.resolve(entry.fd, entry.path, create=False)
        node = None if name is None else parent.entries.get(name)
        if name is None:
            raise _Refused("%r is not a directory entry that can be removed" % entry.path)
        if node is None:
            raise _Refused("%r is not in the extracted tree" % entry.path)
        if node.kind != "dir":
            raise _Refused("%r is not a directory" % entry.path)
        if node.entries:
            raise _Refused("%r is not empty" % entry.path)
        del parent.entries[name]
        node.parent = None

    def unlink(self, entry) -> None:
        parent, name = self.resolve(entry.fd, entry.path, create=False)
        node = None if name is None else parent.entries.get(name)
        if node is None:
            raise _Refused("%r is not in the extracted tree" % entry.path)
        if node.kind == "dir":
            raise _Refused("%r is a directory" % entry.path)
        del parent.entries[name]
        node.names -= 1

    def rename(self, entry) -> None:
        old_parent, old_name = self.resolve(entry.old_fd, entry.old_path, create=False)
        node = None if old_name is None else old_parent.entries.get(old_name)
        if node is None:
            raise _Refused("%r is not in the extracted tree" % entry.old_path)
        new_parent, new_name = self.resolve(entry.new_fd, entry.new_path, create=True)
        if new_name is None:
            raise _Refused("%r names a directory itself" % entry.new_path)
        there = new_parent.entries.get(new_name)
        if there is node:
            return                                  # the same entry (or a hard link of it)
        if node.kind == "dir":
            if there is not None and (there.kind != "dir" or there.entries):
                raise _Refused("%r exists and is not an empty directory" % entry.new_path)
            ancestor, steps = new_parent, 0
            while ancestor is not None:
                if ancestor is node:
                    raise _Refused("%r is inside %r" % (entry.new_path, entry.old_path))
                ancestor, steps = ancestor.parent, steps + 1
                if steps > MAX_TREE_DEPTH:
                    raise _Refused("the tree would be deeper than %d directories"
                                   % MAX_TREE_DEPTH)
        elif there is not None and there.kind == "dir":
            raise _Refused("%r is a directory" % entry.new_path)
        if there is not None:
            there.names -= 1
            there.parent = None
        del old_parent.entries[old_name]
        new_parent.entries[new_name] = node
        if node.kind == "dir":
            node.parent = new_parent

    def symlink(self, entry) -> None:
        if "\0" in entry.old_path:
            raise _Refused("the link target %r holds a NUL byte" % entry.old_path)
        parent, name = self.resolve(entry.fd, entry.new_path, create=True)
        if name is None or name in parent.entries:
            raise _Refused("%r exists" % entry.new_path)
        self._new(parent, name, "symlink").target = entry.old_path

    def link(self, entry) -> None:
        node = self.lookup(entry.old_fd, entry.old_path, follow=bool(entry.old_flags & _FOLLOW))
        if node.kind == "dir":
            raise _Refused("%r is a directory (no hard links to those)" % entry.old_path)
        parent, name = self.resolve(entry.new_fd, entry.new_path, create=True)
        if name is None or name in parent.entries:
            raise _Refused("%r exists" % entry.new_path)
        parent.entries[name] = node
        node.names += 1

    def set_times(self, node: _Node, entry) -> None:
        flags = entry.fst_flags
        if flags & (Fstflags.SET_ATIM | Fstflags.SET_MTIM):
            node.times_origin = self.origin
        if flags & Fstflags.SET_ATIM:
            node.atime = entry.st_atim
        if flags & Fstflags.SET_MTIM:
            node.mtime = entry.st_mtim
        if flags & (Fstflags.SET_ATIM_NOW | Fstflags.SET_MTIM_NOW):
            raise _Refused("the journal does not hold the time a \"now\" stands for")

    def replay(self, result: LogReadResult) -> None:
        entry = result.record
        cls = type(entry)
        self.origin = (result.header_offset, cls.__name__)
        method = _REPLAY_METHODS.get(cls)
        if method is not None:
            getattr(self, method)(entry)
        elif cls is CloseFileDescriptorV1:
            self.fds.pop(entry.fd, None)
        elif cls is RenumberFileDescriptorV1:
            descriptor = self.fds.pop(entry.old_fd, None)
            self.fds.pop(entry.new_fd, None)
            if descriptor is not None:
                self.fds[entry.new_fd] = descriptor
        elif cls in (DuplicateFileDescriptorV1, DuplicateFileDescriptorV2):
            descriptor = self.fds.get(entry.original_fd)
            self.fds.pop(entry.copied_fd, None)
            if descriptor is not None:
                self.fds[entry.copied_fd] = descriptor
        elif cls in _OTHER_FD_FIELDS:
            for field in _OTHER_FD_FIELDS[cls]:
                self.fds.pop(getattr(entry, field), None)
        elif cls in (InitModuleV1, ProcessExitV1):
            self.fds.clear()                        # descriptors end with their process
        elif cls is FileDescriptorSetFlagsV1:
            descriptor = self.fds.get(entry.fd)
            if descriptor is not None:
                descriptor.append = bool(entry.flags & Fdflags.APPEND)
        elif cls is FileDescriptorSetSizeV1:
            node = self._sized_file(entry.fd)
            self._check_size(entry.st_size, "setting the size")
            self.set_size(node, entry.st_size)
        elif cls is FileDescriptorAllocateV1:
            node = self._sized_file(entry.fd)
            end = entry.offset + entry.len
            if end > node.size:                     # fd_allocate never shrinks
                self._check_size(end, "allocating %s at offset %s" % (
                    _plural(entry.len, "byte", "bytes"), _int_text(entry.offset)))
                self.set_size(node, end)
        elif cls is PathSetTimesV1:
            self.set_times(self.lookup(entry.fd, entry.path, follow=bool(entry.flags & _FOLLOW)),
                           entry)
        elif cls is FileDescriptorSetTimesV1:
            descriptor = self.fds.get(entry.fd)
            if descriptor is None:
                raise _Refused("descriptor %d is not open on a file" % entry.fd)
            self.set_times(descriptor.node, entry)


# The records whose replay is one _FileReplay method of the same name.
_REPLAY_METHODS = {
    FileDescriptorWriteV1: "write", OpenFileDescriptorV1: "open", OpenFileDescriptorV2: "open",
    CreateDirectoryV1: "create_directory", RemoveDirectoryV1: "remove_directory",
    UnlinkFileV1: "unlink", PathRenameV1: "rename", CreateSymbolicLinkV1: "symlink",
    CreateHardLinkV1: "link",
}


def _kept_directories(root: _Node) -> set:
    """The directories extract_files() makes: explicit ones, and those with
    something made inside (ids of the nodes)."""
    order, stack = [], [root]
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(child for child in node.entries.values() if child.kind == "dir")
    kept = set()
    for node in reversed(order):                    # descendants before ancestors
        if node.explicit or any(child.kind in ("file", "symlink") or id(child) in kept
                                for child in node.entries.values()):
            kept.add(id(node))
    return kept


def _set_times(node: _Node, name: str, dir_fd: int, refused: List[FileRefusal]) -> None:
    if node.atime is None and node.mtime is None:
        return
    try:
        info = os.lstat(name, dir_fd=dir_fd)
        os.utime(name, dir_fd=dir_fd, follow_symlinks=False, ns=(
            info.st_atime_ns if node.atime is None else node.atime,
            info.st_mtime_ns if node.mtime is None else node.mtime))
    except (OSError, OverflowError, ValueError) as exc:
        refused.append(FileRefusal(*node.times_origin, "could not set the times of %r: %s"
                                   % (name, getattr(exc, "strerror", None) or exc)))


def _materialize(replay: _FileReplay, tree_fd: int, refused: List[FileRefusal]) -> List[int]:
    """Make the tree under ``tree_fd``: [directories, files, symlinks, links].

    Walks with a descriptor per directory level (no path is ever looked up
    through a link: each level is opened with O_NOFOLLOW), so depth is
    bounded by MAX_TREE_DEPTH, not PATH_MAX.
    """
    kept = _kept_directories(replay.root)
    counts = [0, 0, 0, 0]
    seen: Dict[int, bool] = {}                      # inode -> made once
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    # Each frame: [directory node, its fd, children left, its name, parent fd].
    stack = [[replay.root, tree_fd, iter(sorted(replay.root.entries.items())), None, None]]
    try:
        while stack:
            frame = stack[-1]
            node, dir_fd, children = frame[0], frame[1], frame[2]
            item = next(children, None)
            if item is None:                        # done: its times, after its entries
                stack.pop()
                if frame[4] is not None:
                    os.close(dir_fd)
                    _set_times(node, frame[3], frame[4], refused)
                continue
            name, child = item
            if child.kind == "unknown" or (child.kind == "dir" and id(child) not in kept):
                continue
            try:
                if len(stack) > MAX_TREE_DEPTH:
                    raise _Refused("deeper than %d directories" % MAX_TREE_DEPTH)
                if child.kind == "dir":
                    os.mkdir(name, dir_fd=dir_fd)
                    counts[0] += 1
                    child_fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | nofollow,
                                       dir_fd=dir_fd)
                    stack.append([child, child_fd, iter(sorted(child.entries.items())), name,
                                  dir_fd])
                    continue
                if child.kind == "symlink":
                    os.symlink(child.target, name, dir_fd=dir_fd)
                    counts[2] += 1
                else:
                    if child.inode not in seen:
                        fd = replay.host_fds.pop(child.inode, None)
                        if fd is None:              # never written: an empty file
                            fd = os.open(str(child.inode), os.O_WRONLY | os.O_CREAT | nofollow,
                                         0o666, dir_fd=replay.staging_fd)
                        os.close(fd)
                    os.link(str(child.inode), name, src_dir_fd=replay.staging_fd,
                            dst_dir_fd=dir_fd, follow_symlinks=False)
                    counts[3 if child.inode in seen else 1] += 1
                    seen[child.inode] = True
                _set_times(child, name, dir_fd, refused)
            except (OSError, ValueError, _Refused) as exc:
                refused.append(FileRefusal(*child.origin, "could not make %r: %s" % (
                    name, getattr(exc, "strerror", None) or exc)))
    finally:
        for frame in stack[1:]:
            os.close(frame[1])
    return counts


def _replace_directory(tree: str, directory: str, scratch: str) -> None:
    """Move the finished ``tree`` to ``directory``; an existing one is moved
    into ``scratch`` (removed with it) first."""
    if os.path.lexists(directory):
        try:
            os.rmdir(directory)                     # an empty one just goes
        except OSError:
            os.rename(directory, os.path.join(scratch, "old"))
    os.rename(tree, directory)


def extract_files(journal, directory, *, overwrite: bool = False, at: Optional[int] = None,
                  max_file_size: int = DEFAULT_MAX_FILE_SIZE,
                  progress: Optional[Callable[[int], Any]] = None) -> FilesReport:
    """Rebuild in ``directory`` the file tree a journal's records make.

    What ``wasmer journal mount`` showed, and more: OpenFileDescriptorV1/V2
    (O_CREAT, O_TRUNC, O_DIRECTORY; the descriptor's APPEND flag, also from
    FileDescriptorSetFlagsV1, writes at the end), FileDescriptorWriteV1 at
    its offset, FileDescriptorSetSizeV1, FileDescriptorAllocateV1 (which
    only grows a file), Renumber/Duplicate/CloseFileDescriptor, directories
    made and removed, unlinks, renames, symbolic and hard links, and the
    times PathSetTimesV1 / FileDescriptorSetTimesV1 set (a "now" cannot be
    told, and is refused).  InitModuleV1 and ProcessExitV1 close every
    descriptor (the files stay); writes to a descriptor the journal did not
    open on a file (stdio, pipes, sockets) are counted in ``other_writes``.
    ``at`` stops after the ``at``-th SnapshotV1.

    Paths are the guest's: a path is relative to its record's directory
    descriptor, or the root (DIR) when the journal never opened that one (a
    preopened directory) or the path begins with "/".  Directories on the
    way that the journal never made are made as needed (and left out if
    nothing ends up inside); a path the journal opened without O_CREAT is
    made only if written to (the bytes not written read as zero).

    Everything stays inside ``directory``: ``..`` above the root, a NUL
    byte, a path through a symbolic link (symbolic links are made, with
    their target verbatim, but never followed or written through), a file
    past ``max_file_size`` or a tree deeper than MAX_TREE_DEPTH is refused.
    A refused record is left out and listed in the report's ``refused``,
    with its offset and why; the rest goes on.

    The tree is built in a new directory beside ``directory`` and renamed
    into place at the end, so a failure leaves things as they were.  An
    existing ``directory`` must be an empty directory, unless ``overwrite``
    (then it is replaced, and its old contents removed).  ``journal`` is a
    path, or a journal or reader to read on; ``progress``, if given, is
    called with the offset each record ends at.
    """
    if at is not None and at < 1:
        raise ValueError("at counts snapshots from 1")
    if max_file_size < 0:
        raise ValueError("max_file_size must not be negative")
    if not hasattr(os, "O_DIRECTORY") or os.link not in os.supports_dir_fd:
        raise UnsupportedOperationError("extract_files needs a POSIX system (it makes the "
                                        "tree through directory descriptors)")
    if isinstance(journal, (str, os.PathLike)):
        with LogFileJournal.new_readonly(journal) as opened:
            return extract_files(opened, directory, overwrite=overwrite, at=at,
                                 max_file_size=max_file_size, progress=progress)
    directory = os.path.abspath(os.fspath(directory))
    if os.path.lexists(directory):
        if os.path.islink(directory) or not os.path.isdir(directory):
            raise FileExistsError(errno.EEXIST, "exists and is not a directory", directory)
        if not overwrite and os.listdir(directory):
            raise FileExistsError(errno.ENOTEMPTY, "is not empty (overwrite replaces it)",
                                  directory)
    scratch = tempfile.mkdtemp(prefix=".%s." % os.path.basename(directory), suffix=".tmp",
                               dir=os.path.dirname(directory))
    try:
        tree, staging = os.path.join(scratch, "tree"), os.path.join(scratch, "staging")
        os.mkdir(tree)
        os.mkdir(staging)
        staging_fd = os.open(staging, os.O_RDONLY | os.O_DIRECTORY)
        replay = _FileReplay(staging_fd, max_file_size)
        refused: List[FileRefusal] = []
        try:
            snapshots = 0
            for result in _reporting(_records_of(journal), progress):
                try:
                    replay.replay(result)
                except _Refused as exc:
                    refused.append(FileRefusal(*replay.origin, str(exc)))
                if isinstance(result.record, SnapshotV1):
                    snapshots += 1
                    if snapshots == at:
                        break
            tree_fd = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
            try:
                counts = _materialize(replay, tree_fd, refused)
                _set_times(replay.root, ".", tree_fd, refused)
            finally:
                os.close(tree_fd)
        finally:
            replay.close()
            os.close(staging_fd)
        _replace_directory(tree, directory, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    _fsync_directory(directory)
    return FilesReport(*counts, replay.bytes_written, replay.other_writes, refused)


# -- compact: wasmer's CompactingJournal ---------------------------------------
#
# The rules of wasmer-journal 0.705.0 (wasmer 7.5), concrete/compacting.rs:
# every record is learned in order, by its index; a record is kept when,
# after the last one, its index is in the whitelist, or is the value of one
# of the "last event" slots, or belongs to a descriptor or directory group
# still referenced.  The kept records are then written, in their order, as
# one new session (compacting_log_file.rs: compact_now).

#: The wasmer-journal release whose CompactingJournal rules compact() follows.
COMPACT_RULES_VERSION = "0.705.0"

_CREATE_TRUNC = Oflags.CREATE | Oflags.TRUNC


class _SubGroup:
    """compacting.rs's SubGroupOfevents: the records of one descriptor or
    directory, kept or dropped together."""

    __slots__ = ("events", "path", "write_map")

    def __init__(self) -> None:
        self.events: List[int] = []
        self.path: Optional[str] = None
        self.write_map: Dict[Tuple[int, int], int] = {}   # last write per exact range


class _Compactor:
    """compacting.rs's State, learning one record at a time (learn()).

    Groups are numbered as the crate numbers them (descriptor_seed); a
    descriptor map may keep the number of a group already cancelled, whose
    later records then go nowhere, as in the crate.  Groups are also
    indexed by path, so cancelling a path does not scan them all.
    """

    def __init__(self) -> None:
        self.seed = 0
        self.groups: Dict[int, _SubGroup] = {}
        self.by_path: Dict[str, set] = {}
        self.memory: Dict[Tuple[int, int], int] = {}
        self.snapshots: List[int] = []
        self.tty = self.chdir = self.process_exit = self.init_module = None
        self.create_directory: Dict[str, int] = {}
        self.remove_directory: Dict[str, int] = {}
        self.unlink_file: Dict[str, int] = {}
        self.threads: Dict[int, int] = {}            # as of the last snapshot
        self.staged_threads: Dict[int, int] = {}
        self.open_sockets: Dict[int, int] = {}
        self.accepted_sockets: Dict[int, int] = {}
        self.open_pipes: Dict[int, int] = {}
        self.suspect: Dict[int, int] = {}            # opened without CREATE, not mutated
        self.keep: Dict[int, int] = {}
        self.kept: List[int] = []                    # closed descriptors that are kept
        self.stdio: Dict[int, int] = {}
        self.event_fds: Dict[int, int] = {}
        self.epoll: Dict[int, int] = {}
        self.whitelist: set = set()
        self.index = 0
        self.counts: "collections.Counter[type]" = collections.Counter()
        self._new_stdio()

    def _new_stdio(self) -> None:
        # A process starts with fds 0-2 (0.10.0 counts 0-3 as stdio).
        for fd in range(3):
            self.stdio[fd] = self._new_group()

    def _new_group(self, event: Optional[int] = None, path: Optional[str] = None) -> int:
        lookup = self.seed
        self.seed += 1
        group = self.groups[lookup] = _SubGroup()
        if event is not None:
            group.events.append(event)
        if path is not None:
            group.path = path
            self.by_path.setdefault(path, set()).add(lookup)
        return lookup

    def _append(self, lookup: Optional[int], event: int) -> None:
        group = self.groups.get(lookup)
        if group is not None:
            group.events.append(event)

    def _cancel_path(self, path: str) -> None:
        for lookup in self.by_path.pop(path, ()):
            self.groups.pop(lookup, None)

    def _solidify_path(self, path: str) -> None:
        for lookup in self.by_path.pop(path, ()):
            group = self.groups.get(lookup)
            if group is not None:
                group.path = None

    def _find(self, fd: int) -> Optional[int]:
        for table in (self.suspect, self.open_sockets, self.accepted_sockets,
                      self.open_pipes, self.keep, self.event_fds, self.stdio):
            lookup = table.get(fd)
            if lookup is not None:
                return lookup
        return None

    def _clear_run(self) -> None:
        # ProcessExitV1, InitModuleV1, ClearEtherealV1: what the run held goes.
        for table in (self.accepted_sockets, self.event_fds, self.memory, self.open_pipes,
                      self.open_sockets, self.staged_threads, self.stdio, self.suspect,
                      self.threads):
            table.clear()
        self.snapshots.clear()
        self._new_stdio()

    def learn(self, entry: "JournalEntry") -> None:
        """Take the next record (CompactingJournalTx::write)."""
        index = self.index
        self.index += 1
        handler = _COMPACT_HANDLERS.get(type(entry))
        if handler is not None:
            handler(self, entry, index)

    def kept_indexes(self) -> set:
        """The indexes of the records to keep (State::create_filter)."""
        keep = set(self.whitelist)
        keep.update(i for i in (self.tty, self.chdir, self.process_exit, self.init_module)
                    if i is not None)
        keep.update(self.snapshots)
        for table in (self.memory, self.threads, self.remove_directory, self.unlink_file):
            keep.update(table.values())
        lookups = list(self.kept)
        for table in (self.create_directory, self.suspect, self.keep, self.open_sockets,
                      self.accepted_sockets, self.event_fds, self.epoll, self.open_pipes,
                      self.stdio):
            lookups.extend(table.values())
        for lookup in lookups:
            group = self.groups.get(lookup)
            if group is not None:
                keep.update(group.events)
                keep.update(group.write_map.values())
        return keep

    # -- one method per kind of record, in compacting.rs's order --------------

    def _memory(self, entry, index):
        self.memory[tuple(entry.region)] = index

    def _set_thread(self, entry, index):
        self.staged_threads[entry.id] = index

    def _close_thread(self, entry, index):
        self.staged_threads.pop(entry.id, None)

    def _snapshot(self, entry, index):
        self.threads = dict(self.staged_threads)
        self.snapshots.append(index)

    def _process_exit(self, entry, index):
        self._clear_run()
        self.process_exit = index

    def _tty(self, entry, index):
        self.tty = index

    def _chdir(self, entry, index):
        self.chdir = index

    def _create_event(self, entry, index):
        self.event_fds[entry.fd] = self._new_group(index)

    def _open(self, entry, index):
        # Create + truncate: whatever was done to the path before is moot.
        # Every descriptor starts suspect (read-only) unless it may create.
        path = entry.path
        if entry.o_flags & _CREATE_TRUNC == _CREATE_TRUNC:
            self._cancel_path(path)
        lookup = self._new_group(index, path)
        (self.keep if entry.o_flags & Oflags.CREATE else self.suspect)[entry.fd] = lookup

    def _mutate(self, entry, index):
        fd = entry.fd
        lookup = self.suspect.pop(fd, None)
        if lookup is not None:
            self.keep[fd] = lookup
        group = self.groups.get(self._find(fd))
        if group is not None:
            if type(entry) is FileDescriptorWriteV1:
                group.write_map[(entry.offset, entry.offset + len(entry.data))] = index
            else:
                group.events.append(index)

    def _fd_event(self, entry, index):
        self._append(self._find(entry.fd), index)

    def _send_file(self, entry, index):
        self._append(self._find(entry.socket_fd), index)

    def _close(self, entry, index):
        fd = entry.fd
        for table in (self.open_sockets, self.accepted_sockets, self.open_pipes,
                      self.suspect, self.event_fds, self.epoll):
            lookup = table.pop(fd, None)
            if lookup is not None:
                self.groups.pop(lookup, None)          # the whole history goes
                return
        lookup = self.keep.pop(fd, None)
        if lookup is not None:
            self._append(lookup, index)
            self.kept.append(lookup)
        else:
            self._append(self._find(fd), index)

    def _duplicate(self, entry, index):
        original = entry.original_fd
        for table in (self.suspect, self.keep, self.stdio, self.open_pipes,
                      self.open_sockets, self.accepted_sockets, self.event_fds):
            lookup = table.get(original)
            if lookup is not None:
                table[entry.copied_fd] = lookup
                self._append(lookup, index)
                return

    def _renumber(self, entry, index):
        # compacting.rs looks in open_sockets twice and never in
        # accepted_sockets: a renumbered accepted socket is not followed.
        old = entry.old_fd
        for table in (self.suspect, self.keep, self.stdio, self.open_pipes,
                      self.open_sockets, self.event_fds):
            lookup = table.pop(old, None)
            if lookup is not None:
                table[entry.new_fd] = lookup
                self._append(lookup, index)
                return

    def _create_directory(self, entry, index):
        # Only the first CreateDirectoryV1 of a path counts.
        if entry.path not in self.create_directory:
            self.create_directory[entry.path] = self._new_group(index, entry.path)

    def _remove_directory(self, entry, index):
        self.create_directory.pop(entry.path, None)
        self.remove_directory[entry.path] = index

    def _unlink(self, entry, index):
        self._cancel_path(entry.path)
        self.unlink_file[entry.path] = index

    def _rename(self, entry, index):
        self._solidify_path(entry.old_path)
        self._cancel_path(entry.new_path)
        self.whitelist.add(index)

    def _path_set_times(self, entry, index):
        lookup = self.create_directory.get(entry.path)
        if lookup is not None:
            self._append(lookup, index)
        elif entry.path not in self.remove_directory:
            self.whitelist.add(index)

    def _pipe(self, entry, index):
        lookup = self._new_group(index)
        self.open_pipes[entry.fd1] = lookup
        self.open_pipes[entry.fd2] = lookup

    def _epoll_create(self, entry, index):
        self.epoll[entry.fd] = self._new_group(index)

    def _epoll_ctl(self, entry, index):
        # The epoll fd is looked up among the other descriptors, never in
        # the epoll table: in practice EpollCtlV1 goes.
        if self._find(entry.fd) is not None:
            self._append(self._find(entry.epfd), index)

    def _connected(self, entry, index):
        self.accepted_sockets[entry.fd] = self._new_group(index)

    def _socket_open(self, entry, index):
        self.open_sockets[entry.fd] = self._new_group(index)

    def _socket_pair(self, entry, index):
        lookup = self._new_group(index)
        self.open_sockets[entry.fd1] = lookup
        self.open_sockets[entry.fd2] = lookup

    def _init_module(self, entry, index):
        self._clear_run()
        self.init_module = index

    def _clear_ethereal(self, entry, index):
        self._clear_run()

    def _always(self, entry, index):
        self.whitelist.add(index)


_COMPACT_HANDLERS: Dict[type, Callable[[_Compactor, "JournalEntry", int], None]] = {}
for _names, _handler in (
        ("UpdateMemoryRegionV1", _Compactor._memory),
        ("SetThreadV1", _Compactor._set_thread),
        ("CloseThreadV1", _Compactor._close_thread),
        ("SnapshotV1", _Compactor._snapshot),
        ("ProcessExitV1", _Compactor._process_exit),
        ("TtySetV1", _Compactor._tty),
        ("ChangeDirectoryV1", _Compactor._chdir),
        ("CreateEventV1", _Compactor._create_event),
        ("OpenFileDescriptorV1 OpenFileDescriptorV2", _Compactor._open),
        ("FileDescriptorAdviseV1 FileDescriptorAllocateV1 FileDescriptorSetTimesV1 "
         "FileDescriptorWriteV1 FileDescriptorSetRightsV1 FileDescriptorSetSizeV1",
         _Compactor._mutate),
        ("FileDescriptorSeekV1 FileDescriptorSetFdFlagsV1 FileDescriptorSetFlagsV1 "
         "SocketBindV1 SocketSendToV1 SocketSendV1 SocketSetOptFlagV1 SocketSetOptSizeV1 "
         "SocketSetOptTimeV1 SocketShutdownV1 SocketListenV1 SocketJoinIpv4MulticastV1 "
         "SocketJoinIpv6MulticastV1 SocketLeaveIpv4MulticastV1 SocketLeaveIpv6MulticastV1",
         _Compactor._fd_event),
        ("SocketSendFileV1", _Compactor._send_file),
        ("CloseFileDescriptorV1", _Compactor._close),
        ("DuplicateFileDescriptorV1 DuplicateFileDescriptorV2", _Compactor._duplicate),
        ("RenumberFileDescriptorV1", _Compactor._renumber),
        ("CreateDirectoryV1", _Compactor._create_directory),
        ("RemoveDirectoryV1", _Compactor._remove_directory),
        ("UnlinkFileV1", _Compactor._unlink),
        ("PathRenameV1", _Compactor._rename),
        ("PathSetTimesV1", _Compactor._path_set_times),
        ("CreatePipeV1", _Compactor._pipe),
        ("EpollCreateV1", _Compactor._epoll_create),
        ("EpollCtlV1", _Compactor._epoll_ctl),
        ("SocketConnectedV1", _Compactor._connected),
        ("SocketAcceptedV1 SocketOpenV1", _Compactor._socket_open),
        ("SocketPairV1", _Compactor._socket_pair),
        ("InitModuleV1", _Compactor._init_module),
        ("ClearEtherealV1", _Compactor._clear_ethereal),
        ("SetClockTimeV1 PortAddAddrV1 PortDelAddrV1 PortAddrClearV1 PortBridgeV1 "
         "PortUnbridgeV1 PortDhcpAcquireV1 PortGatewaySetV1 PortRouteAddV1 PortRouteClearV1 "
         "PortRouteDelV1 CreateSymbolicLinkV1 CreateHardLinkV1", _Compactor._always)):
    for _name in _names.split():
        _COMPACT_HANDLERS[globals()[_name]] = _handler
del _names, _handler, _name
assert set(_COMPACT_HANDLERS) == set(ENTRY_CLASSES.values())


class CompactReport(NamedTuple):
    """What compact() did."""
    records: int                # records read
    kept: int                   # records written
    dropped: Dict[str, int]     # entry class name -> records dropped, in record-type order
    size_before: int            # bytes of the journal read
    size_after: int             # bytes of the journal written

    @property
    def dropped_total(self) -> int:
        """How many records were dropped."""
        return self.records - self.kept


def compact(journal, out_path=None, *, overwrite: bool = False,
            max_uncompressed_size: int = DEFAULT_MAX_UNCOMPRESSED_SIZE,
            progress: Optional[Callable[[int], Any]] = None) -> CompactReport:
    """Compact a journal by the rules of wasmer's CompactingJournal, as
    wasmer-journal 0.705.0 (wasmer 7.5) has them (COMPACT_RULES_VERSION).

    What goes:

    * of the memory, all but the last UpdateMemoryRegionV1 of each exact
      ``start..end`` (overlapping updates of other ranges all stay);
    * every CloseThreadV1, and each SetThreadV1 but the last of each thread
      alive at the last SnapshotV1 (all of them if there is no snapshot);
    * all but the last TtySetV1, ChangeDirectoryV1, ProcessExitV1 and
      InitModuleV1; every ClearEtherealV1;
    * a closed socket, pipe (either end), event, epoll, or a file opened
      without CREATE and never written, resized, allocated, advised or
      given times or rights -- with all its records;  of a kept file, all
      but the last FileDescriptorWriteV1 of each exact offset range;
    * records about descriptors never seen opened (fds 0-2 count as open);
      every EpollCtlV1 in practice (the crate looks its epoll fd up among
      the other descriptors only);
    * the history of a path -- its open, writes, close, its first
      CreateDirectoryV1 -- when the path is opened with CREATE and TRUNC,
      unlinked, or a rename's target (a rename's source keeps it);  all
      but the first CreateDirectoryV1 of a path, and that one too after a
      RemoveDirectoryV1; all but the last RemoveDirectoryV1 and
      UnlinkFileV1 of a path;
    * at each ProcessExitV1, InitModuleV1 and ClearEtherealV1: the memory
      updates, snapshots, threads, stdio, sockets, pipes, events and
      suspect files of the run before (files kept, epolls, directories,
      the tty and the working directory survive).

    Kept always: SetClockTimeV1, the Port* records, links, PathRenameV1, and
    PathSetTimesV1 on a path not removed.  wasmer-journal 0.10.0 (wasmer
    4.4) differs: it knows no stdio descriptor until a write, seek or flags
    change on an fd 0-3 makes one (so fd 3 counts as stdio, and 0-2 are not
    made anew after an exit), and it drops every DuplicateFileDescriptorV1
    and RenumberFileDescriptorV1 (it follows the descriptor, but does not
    keep the record); it has no record types 61-64.

    The kept records are written in their order, re-encoded at their new
    positions, as one session in the journal's layout, with write_many().
    ``journal`` is a path, or a journal or reader (read twice, from its
    first record).  Without ``out_path`` a path is compacted in place (as
    ``wasmer journal compact`` does); with it, ``out_path`` must not exist
    unless ``overwrite``.  Either way the new journal is written to a
    temporary file beside its target, fsynced, renamed into place and its
    directory fsynced: a failure leaves every existing file as it was.
    In place, the journal is locked (flock, as LogFileJournalTx's writers
    lock; a writer holding it is waited for 10 s at most) while compacting,
    and JournalError is raised, nothing replaced, if it grew meanwhile (a
    writer that does not lock, such as wasmer).

    The journal must read to its end: a torn tail or a corrupt record
    raises its JournalError (repair() first), an unknown record type
    UnknownRecordTypeError.  ``progress``, if given, is called with the
    offset each record ends at, in each of the two passes.
    """
    if isinstance(journal, (str, os.PathLike)):
        source = os.fspath(journal)
        target = source if out_path is None else os.fspath(out_path)
        in_place = out_path is None or _same_file(source, target)
        with LogFileJournal.new_readonly(source, strict=True,
                                         max_uncompressed_size=max_uncompressed_size) as opened:
            with _compaction_lock(opened._fd, source, in_place and fcntl is not None):
                return _compact_into(opened, target, in_place or overwrite, progress,
                                     opened._fd if in_place else None)
    if out_path is None:
        raise ValueError("compact() needs out_path unless journal is a path")
    return _compact_into(journal, os.fspath(out_path), overwrite, progress, None)


@contextlib.contextmanager
def _compaction_lock(fd: int, path: str, enabled: bool):
    """The exclusive lock LogFileJournalTx's writers take, held for a whole
    compaction in place; waited for as an exclusive writer waits."""
    if not enabled:
        yield
        return
    deadline = time.monotonic() + _EXCLUSIVE_LOCK_TIMEOUT
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise JournalError("another writer has held the lock on %s for %g s: "
                                   "nothing was compacted"
                                   % (path, _EXCLUSIVE_LOCK_TIMEOUT)) from None
            time.sleep(0.01)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _compact_into(journal, target: str, overwrite: bool, progress, locked_fd) -> CompactReport:
    """compact()'s two passes: learn every record, then write the kept ones."""
    if not overwrite and os.path.lexists(target):
        raise FileExistsError(errno.EEXIST, "%s already exists" % target)
    if os.path.islink(target):
        target = os.path.realpath(target)      # the file is replaced, the link stays
    reader = journal if isinstance(journal, LogFileJournalRx) else journal.rx
    reader = reader.as_restarted()
    try:
        compactor, layout, size_before = _learn(reader, progress)
        keep = compactor.kept_indexes()
        records = compactor.index
        with _replacement(target) as (_, temp):
            kept = _write_kept(reader, temp, layout, keep, records, progress)
            if locked_fd is not None and os.fstat(locked_fd).st_size != size_before:
                raise JournalError("the journal grew while it was compacted (a writer that "
                                   "does not lock?); nothing was replaced", size_before)
            size_after = os.path.getsize(temp)
    finally:
        reader.close()
    dropped = compactor.counts - kept
    return CompactReport(records, sum(kept.values()), {
        cls.__name__: dropped[cls] for cls in ENTRY_CLASSES.values() if dropped[cls]},
        size_before, size_after)


def _learn(reader: LogFileJournalRx, progress) -> Tuple[_Compactor, Layout, int]:
    """The first pass: every record learned, to the end (else an error).
    Returns the compactor, the layout to write and the size read."""
    compactor = _Compactor()
    counts = compactor.counts
    for result in _reporting(reader.records(), progress):
        compactor.learn(result.record)
        counts[type(result.record)] += 1
    stop = reader.stop
    if stop is not None:
        if stop.reason == "unknown-record-type":
            raise UnknownRecordTypeError("record type %s ends the journal before its end: "
                                         "nothing was compacted" % stop.record_type,
                                         stop.offset)
        raise TruncatedRecordError("the journal ends in a torn tail (repair() cuts it "
                                   "off): nothing was compacted", stop.offset)
    with reader.owned_buffer() as view:
        size = len(view)
    # An empty file (no magic number yet) is a journal of no records.
    names = reader.layouts
    if not names:
        raise LayoutError("the journal's segments are in different layouts: convert "
                          "them to one first", 0)
    # As convert and filter choose: the default layout if it fits, else the newest.
    layout = get_layout(DEFAULT_LAYOUT if DEFAULT_LAYOUT in names
                        else max(names, key=LAYOUTS.index))
    return compactor, layout, size


# Kept entries go to write_many this many at a time, or once they hold this many bytes.
_COMPACT_BATCH = 1024
_COMPACT_BATCH_BYTES = 1 << 24


def _write_kept(reader: LogFileJournalRx, path: str, layout: Layout, keep: set,
                records: int, progress) -> collections.Counter:
    """The second pass: the kept records of ``reader``'s first ``records``,
    in order, as one new journal at ``path`` (synced).  Returns how many of
    each class were written."""
    written = collections.Counter()
    replay = reader.as_restarted()
    try:
        with LogFileJournal(path, lock="thread", buffer_size=1 << 20, layout=layout,
                            max_uncompressed_size=reader.max_uncompressed_size) as writer:
            writer.tx.prepare()
            batch, held = [], 0
            for index, result in enumerate(_reporting(replay.records(), progress)):
                if index >= records:
                    break                        # appended since: not learned, not kept
                if index in keep:
                    batch.append(result.record)
                    written[type(result.record)] += 1
                    held += result.record_end - result.record_start
                    if len(batch) >= _COMPACT_BATCH or held >= _COMPACT_BATCH_BYTES:
                        writer.write_many(batch)
                        batch, held = [], 0
            writer.write_many(batch)
    finally:
        replay.close()
    return written


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------
#
# ``python -m logfile_journal COMMAND ...``, ``python logfile_journal.py
# COMMAND ...`` (the module vendored alone) and the ``logfile-journal``
# console script all run main().  Exit status: 0 on success, 1 on a journal
# error (one line on stderr naming the file and the offset), 2 on a usage
# error, 130 on Ctrl-C (143 and 129 on SIGTERM and SIGHUP, which clean up
# the same way), and 141 (128 + SIGPIPE) when standard output is a
# pipe closed early (``| head``): nothing is printed then.


_PROG = "logfile-journal"
_MIB = 1 << 20

#: Files (or inputs) larger than this get a progress line on a terminal.
_PROGRESS_MIN_SIZE = 64 * _MIB

#: Fields that hold a file descriptor (filter --fd).
_FD_FIELDS = frozenset(("fd", "fd1", "fd2", "epfd", "old_fd", "new_fd", "original_fd",
                        "copied_fd", "dirfd", "listen_fd", "socket_fd", "file_fd"))

_TYPE_WIDTH = max(len(cls.__name__) for cls in ENTRY_CLASSES.values())
_EXIT_SIGPIPE = 128 + 13
_EXIT_INTERRUPTED = 128 + 2


class _NamedOutput:
    """Standard output for the commands: an error writing it (a full disk,
    ``> /dev/full``) names it, as an input's error names the input."""

    def __init__(self, stream, name: str = "<stdout>") -> None:
        self._stream = stream
        self._name = name

    def _failed(self, exc: OSError) -> "_CliError":
        return _CliError("%s: %s" % (self._name, exc.strerror or exc))

    def write(self, data):
        try:
            return self._stream.write(data)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise self._failed(exc) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise self._failed(exc) from None

    @property
    def buffer(self):
        """The binary stream under it, named the same way."""
        return _NamedOutput(getattr(self._stream, "buffer", self._stream), self._name)

    def __getattr__(self, name):
        return getattr(self._stream, name)


class _Signalled(BaseException):
    """SIGTERM or SIGHUP arrived: unwind like Ctrl-C (temporary outputs are
    removed), then exit with 128 + the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_signalled(signum, frame):
    raise _Signalled(signum)


class _CliError(Exception):
    """A failure reported as one line on stderr, with the exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _plural(count: int, one: str, many: str) -> str:
    """``1 entry``, ``2 entries``."""
    return "%d %s" % (count, one if count == 1 else many)


def _warn(message: str) -> None:
    """Print ``logfile-journal: message`` on stderr (after what stdout holds)."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass                     # a closed pipe: main() sees it at its own flush
    try:
        sys.stderr.write("%s: %s\n" % (_PROG, message))
        sys.stderr.flush()
    except (OSError, ValueError):
        pass                     # stderr closed: nowhere left to complain


@contextlib.contextmanager
def _about(path: str):
    """Turn a JournalError or OSError about ``path`` into a _CliError.

    The message is ``PATH: what went wrong``; a JournalError's text already
    ends with ``(at offset N)``.  BrokenPipeError (our stdout closed) passes.
    """
    try:
        yield
    except BrokenPipeError:
        raise
    except JournalError as exc:
        raise _CliError("%s: %s" % (path, exc)) from None
    except OSError as exc:
        raise _CliError("%s: %s" % (path, exc.strerror or exc)) from None


# -- Progress on a terminal ---------------------------------------------------

class _Progress:
    """A progress line on stderr (``\\r12.0/300.0 MiB  85.3 MiB/s``).

    Shown only when the stream is a terminal and ``total`` is over
    ``_PROGRESS_MIN_SIZE``; redrawn at most 10 times a second and erased by
    close() (or at the end of a ``with`` block).  ``stream`` defaults to
    sys.stderr as it is when the object is made.
    """

    def __init__(self, total: Optional[int], stream=None) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.total = total
        try:
            tty = self.stream.isatty()
        except (AttributeError, ValueError):
            tty = False
        self.enabled = bool(tty and total is not None and total > _PROGRESS_MIN_SIZE)
        self._start = time.monotonic()
        self._last = None
        self._width = 0

    @property
    def callback(self) -> Optional[Callable[[int], None]]:
        """update, for a library function's ``progress``; None when no line
        is shown (so the function does no work for it)."""
        return self.update if self.enabled else None

    def update(self, done: int) -> None:
        """Say that ``done`` bytes of ``total`` are done."""
        if not self.enabled:
            return
        now = time.monotonic()
        if self._last is not None and now - self._last < 0.1:
            return
        self._last = now
        elapsed = now - self._start
        rate = done / elapsed / _MIB if elapsed > 0 else 0.0
        text = "%.1f/%.1f MiB  %.1f MiB/s" % (done / _MIB, self.total / _MIB, rate)
        self._write("\r" + text.ljust(self._width))
        self._width = max(self._width, len(text))

    def close(self) -> None:
        """Erase the line, if one was drawn."""
        if self._width:
            self._write("\r%s\r" % (" " * self._width))
            self._width = 0

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            self.enabled = False

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def _file_size(path: str) -> Optional[int]:
    """Size of a regular file, or None (stdin, pipes, missing files)."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


# -- Reading journals ---------------------------------------------------------

_STDIN: List[bytes] = []


def _stdin_bytes() -> bytes:
    """Standard input, read to its end once (``-`` may be read twice: by
    cat's check and copy)."""
    if not _STDIN:
        _STDIN.append(sys.stdin.buffer.read())
    return _STDIN[0]


@contextlib.contextmanager
def _reading(path: str):
    """Open the journal at ``path`` read-only (errors name the file); ``-``
    reads standard input to its end."""
    with _about(path):
        if path == "-":
            journal = LogFileJournal.from_buffer(_stdin_bytes())
        else:
            journal = LogFileJournal.new_readonly(path)
    with journal:
        yield journal


_STOP_TEXT = {
    "truncated-header": "the last %(left)d bytes are not a complete record header",
    "truncated-body": "the last record (%(type)s) is cut short",
}


def _describe_stop(stop: JournalStop, size: int) -> str:
    """Why reading ended early, in words."""
    if stop.reason == "unknown-record-type":
        if stop.record_type == 0:
            why = "a zero record header (a write in progress, or a torn tail)"
        else:
            why = "a record of unknown type %d" % stop.record_type
    else:
        kind = ENTRY_CLASSES.get(stop.record_type) if stop.record_type else None
        why = _STOP_TEXT[stop.reason] % {"left": size - stop.offset,
                                         "type": kind.__name__ if kind else "?"}
    return "reading stopped at offset %d: %s" % (stop.offset, why)


def _records(journal, path: str, progress: Optional[_Progress] = None,
             note_stop: bool = True) -> Iterator[LogReadResult]:
    """The remaining records of ``journal``; a read error names ``path``.

    When reading stops early (a torn tail, an unknown record type), a note
    says so on stderr: it is not an error, unless the command runs with
    ``--strict`` (then it is, after the records: exit status 1).
    """
    records = journal.rx.records()
    while True:
        try:
            with _about(path):
                result = next(records, _END)
        except _CliError:
            resume = _past_bad_record(journal, path) if _SKIP_BAD[0] else None
            if resume is None:
                raise
            journal.rx.seek(*resume)
            records = journal.rx.records()
            continue
        if result is _END:
            break
        if progress is not None:
            progress.update(result.record_end)
        yield result
    stop = journal.stop
    if stop is not None and note_stop:
        _check_stop(journal, path, stop)


# Set by main() from --strict: reading that stops early is then an error;
# and from --skip-bad: a corrupt record is reported and gone past.
_STRICT: List[bool] = [False]
_SKIP_BAD: List[bool] = [False]
_END = object()


def _past_bad_record(journal, path: str) -> Optional[Tuple[int, int]]:
    """Where reading goes on after the corrupt record at the reader's
    position (a warning says what was skipped): past it, if its header is
    sound and what follows is a record, the end or a magic number; else
    where check() would find records resuming.  None: nothing valid after."""
    rx = journal.rx
    buffer, pos, size = rx._buffer, rx.position, rx._size
    if size - pos >= RECORD_HEADER_SIZE:
        _, high, low = _header_struct.unpack_from(buffer, pos)
        end = pos + RECORD_HEADER_SIZE + (high << 32 | low)
        if end == size or (end < size and _sound_header(buffer, end)):
            _warn("%s: skipped the corrupt record at offset %d" % (path, pos))
            return end, rx.segment_start
    resume, _ = _resync(buffer, pos, rx.max_uncompressed_size)
    if resume < 0:
        _warn("%s: skipped %s after offset %d: nothing readable follows"
              % (path, _plural(size - pos, "byte", "bytes"), pos))
        return None
    _warn("%s: skipped %s of unreadable data at offset %d"
          % (path, _plural(resume - pos, "byte", "bytes"), pos))
    magic = buffer[resume:resume + 8] == JOURNAL_MAGIC_NUMBER_BYTES
    return resume, resume if magic else rx.segment_start


def _sound_header(buffer, pos: int) -> bool:
    """A magic number, or a header of a known type whose body fits."""
    if buffer[pos:pos + 8] == JOURNAL_MAGIC_NUMBER_BYTES:
        return True
    if len(buffer) - pos < RECORD_HEADER_SIZE:
        return False
    code, high, low = _header_struct.unpack_from(buffer, pos)
    return code < _MAX_CODE and _CLASS_BY_CODE[code] is not None and \
        pos + RECORD_HEADER_SIZE + (high << 32 | low) <= len(buffer)


def _check_stop(journal, path: str, stop: JournalStop) -> None:
    """Reading stopped early: a note if the rest is a torn tail or a record
    type this module does not know (an error with --strict), an error if
    valid records follow (the file is checked again to tell)."""
    with _about(path):
        report = check(_stdin_bytes() if path == "-" else path)
    if report.status == "corrupt":
        raise _CliError("%s: %s" % (path, _report_error(report)))
    description = _describe_stop(stop, _journal_size(journal))
    if _STRICT[0]:
        raise _CliError("%s: %s (--strict)" % (path, description))
    _warn("%s: note: %s" % (path, description))


def _journal_size(journal) -> int:
    """How many bytes the journal's reader sees."""
    with journal.rx.owned_buffer() as view:
        return len(view)


# -- Writing outputs ----------------------------------------------------------

def _refuse_existing(path: str, hint: str = "use --force to replace it") -> None:
    if os.path.lexists(path) and path != _DASH:
        raise _CliError("%s: already exists (%s)" % (path, hint), 2)


# The file name that means standard output (and, read, standard input).
_DASH = "-"


@contextlib.contextmanager
def _to_stdout():
    """Yield a private temporary path; when the block succeeds, what it
    wrote there is copied to standard output (a binary file: refused when
    standard output is a terminal).  Nothing reaches stdout on failure."""
    stream = getattr(sys.stdout, "buffer", sys.stdout)
    if getattr(stream, "isatty", lambda: False)():
        raise _CliError("standard output is a terminal; give a file name or a pipe", 2)
    with tempfile.TemporaryDirectory(prefix="logfile-journal.") as directory:
        temp = os.path.join(directory, "output")
        yield temp
        with _about("<stdout>"), _open_file(temp, "rb") as source:
            sys.stdout.flush()
            shutil.copyfileobj(source, stream, _MIB)
            stream.flush()


@contextlib.contextmanager
def _input_file(path: str):
    """``path``, or for ``-`` a private file holding standard input (for
    what must read a named file)."""
    if path != _DASH:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="logfile-journal.") as directory:
        temp = os.path.join(directory, "stdin.journal")
        with _open_file(temp, "wb") as stream:
            stream.write(_stdin_bytes())
        yield temp


def _output_file(path: Optional[str]):
    """A context giving ``path``, or for ``-`` a temporary path copied to
    standard output (see _to_stdout)."""
    return _to_stdout() if path == _DASH else contextlib.nullcontext(path)


@contextlib.contextmanager
def _replacing(path: str, force: bool, in_place: bool = False):
    """Yield a temporary path next to ``path``, moved onto it on success.

    An existing ``path`` is refused (exit status 2) unless ``force``.  If
    the block raises, the temporary file is removed and ``path`` is left
    as it was.  A symbolic link is followed: the file it points to is
    replaced and the link stays.  What is not a regular file (a device, a
    FIFO) is never replaced: with ``in_place`` it is written as it is
    (``path`` itself is yielded), otherwise refused.
    """
    if path == _DASH:
        with _to_stdout() as temp:
            yield temp
        return
    if not force:
        _refuse_existing(path)
    target = os.path.realpath(path) if os.path.islink(path) else path
    try:
        mode = os.stat(target).st_mode
    except OSError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        if not in_place:
            raise _CliError("%s: not a regular file, and a journal is written to one" % path,
                            2)
        yield target
        return
    # Only making and renaming the temporary file are about ``path``: what
    # the block raises is about what it was doing.
    replacement = _replacement(target)
    with _about(path):
        _, temp = replacement.__enter__()
    try:
        yield temp
    except BaseException:
        if not replacement.__exit__(*sys.exc_info()):
            raise
    else:
        with _about(path):
            replacement.__exit__(None, None, None)


@contextlib.contextmanager
def _open_output(path: Optional[str], force: bool, stdout):
    """A text stream for ``-o PATH`` (written atomically), or ``stdout``."""
    if path is None or path == "-":
        yield stdout
        return
    with _replacing(path, force, in_place=True) as temp:
        # Reading errors arrive as _CliError (see _records): an OSError
        # here is about writing the output.
        with _about(path), _open_file(temp, "w", encoding="utf-8", newline="\n") as stream:
            yield stream


@contextlib.contextmanager
def _new_journal(path: str, force: bool, layout=None):
    """A new journal written at ``path`` (atomically, see _replacing)."""
    with _replacing(path, force) as temp:
        with _about(path):
            # Nobody else knows the temporary file: write it alone, buffered.
            journal = LogFileJournal(temp, lock="thread", buffer_size=1 << 20, layout=layout)
            journal.tx.prepare()             # a journal with no entry is still a journal
        with journal:
            yield journal


# -- Human and JSON forms of records ------------------------------------------

def _format_entry(entry: JournalEntry) -> str:
    """The fields of an entry as ``name=value`` pairs (each value in its
    field type's text; LZ4 data also says its stored size)."""
    cls = type(entry)
    if cls.archive is None:
        return ""
    parts = []
    for field, value in zip(cls._field_types, entry):
        text = "-" if value is None else field.type.text(value)
        if field.type.vector == "lz4":
            text += " lz4=%dB" % len(entry.compressed_data)
        parts.append("%s=%s" % (field.name, text))
    return " ".join(parts)


def _format_record(offset: int, entry: JournalEntry) -> str:
    """One line of ``inspect``: header offset, type, fields."""
    return ("%7d  %-*s  %s" % (offset, _TYPE_WIDTH, type(entry).__name__,
                               _format_entry(entry))).rstrip()


def _compact_json(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _pretty_json(value) -> str:
    """wasmer's layout (serde_json::to_string_pretty); a unit variant as
    ``{"name": null}``, since wasmer's import ends an entry at a ``}`` line."""
    if isinstance(value, str):
        value = {value: None}
    return json.dumps(value, indent=2, ensure_ascii=False)


def _record_json(result: LogReadResult, layout=None, lz4_literals_only=False) -> str:
    """One line of ``inspect --json`` (the entry in ``layout``'s JSON)."""
    return _compact_json({"offset": result.header_offset,
                          "record_start": result.record_start,
                          "record_end": result.record_end,
                          "type": type(result.record).__name__,
                          "entry": entry_to_json(result.record, layout,
                                                 lz4_literals_only=lz4_literals_only)})


def _record_printer(args, out, layout=None) -> Callable[[LogReadResult], None]:
    """A function printing one record as ``inspect`` (or ``--json``) does."""
    if args.json:
        literals = args.lz4_literals_only
        return lambda result: out.write(_record_json(result, layout, literals) + "\n")
    if args.lz4_literals_only:
        raise _CliError("--lz4-literals-only is for --json", 2)
    return lambda result: out.write(
        _format_record(result.header_offset, result.record) + "\n")


# -- inspect, export ----------------------------------------------------------

def _cmd_inspect(args, out) -> int:
    """``inspect FILE``: the layout, then one line per record."""
    with _reading(args.file) as journal:
        layout = args.layout or _json_layout(journal)
        show = _record_printer(args, out, layout)
        if args.format == "wasmer":               # wasmer journal inspect's own lines
            for result in _records(journal, args.file):
                out.write(wasmer_text(result.record, layout) + "\n")
            return 0
        if not args.json:
            out.write("layout: %s\n" % describe_layouts(journal.layouts,
                                                        journal.segment_layouts))
        for result in _records(journal, args.file):
            show(result)
    return 0


def _cmd_export(args, out) -> int:
    """``export FILE``: the entries as JSON, one per line (or pretty)."""
    dump = _pretty_json if args.pretty else _compact_json
    with _reading(args.file) as journal, \
            _open_output(args.output, args.force, out) as stream, \
            _Progress(_file_size(args.file)) as progress:
        layout = args.layout or _json_layout(journal)
        options = {"wasmer_exact": args.wasmer_exact,
                   "lz4_literals_only": args.lz4_literals_only}
        for result in _records(journal, args.file, progress):
            stream.write(dump(entry_to_json(result.record, layout, **options)) + "\n")
    return 0


def _output_layout(journals) -> Layout:
    """The layout a journal made of ``journals``' entries is written in:
    the one they are all in (DEFAULT_LAYOUT if it is one of several)."""
    common = set(LAYOUTS)
    for journal in journals:
        common &= set(journal.layouts)
    if not common:
        raise _CliError("the inputs are in different layouts (%s): convert them to one "
                        "first" % "; ".join("/".join(journal.layouts) or "mixed"
                                            for journal in journals))
    if DEFAULT_LAYOUT in common:
        return get_layout(DEFAULT_LAYOUT)
    return get_layout(max(common, key=LAYOUTS.index))


def _json_layout(journal) -> Layout:
    """Whose JSON names to export a journal in: its layout's, else (nothing
    tells) DEFAULT_LAYOUT's if it fits, else the newest that fits."""
    names = journal.layouts or LAYOUTS
    return get_layout(DEFAULT_LAYOUT if DEFAULT_LAYOUT in names else names[-1])


def _cmd_extract(args, out) -> int:
    """``extract FILE memory MEMFILE``: the memory image, as wasmer's
    MemFileJournal writes it (``--at N``: as of the N-th snapshot);
    ``extract FILE files DIR``: the file tree (extract_files)."""
    if args.what == "files":
        return _extract_files(args)
    if args.max_file_size is not None:
        raise _CliError("--max-file-size is for extract FILE files DIR", 2)
    if not args.force:
        _refuse_existing(args.target)
    with _reading(args.file) as journal, _Progress(_file_size(args.file)) as progress, \
            _output_file(args.target) as target:
        with _about(args.target):
            memory_image(journal, target, at=args.at, progress=progress.callback)
        size = os.path.getsize(target)
    _warn("wrote the memory image%s (%s) to %s" % (
        "" if args.at is None else " as of snapshot %d" % args.at,
        _plural(size, "byte", "bytes"), args.target))
    return 0


def _extract_files(args) -> int:
    target = args.target
    if target == _DASH:
        raise _CliError("extract: files makes a directory; standard output cannot be one", 2)
    if os.path.lexists(target) and not args.force and (
            not os.path.isdir(target) or os.path.islink(target) or os.listdir(target)):
        raise _CliError("%s: already exists (use --force to replace it)" % target, 2)
    max_file_size = DEFAULT_MAX_FILE_SIZE if args.max_file_size is None else args.max_file_size
    with _reading(args.file) as journal, _Progress(_file_size(args.file)) as progress:
        with _about(target):
            report = extract_files(journal, target, overwrite=args.force, at=args.at,
                                   max_file_size=max_file_size, progress=progress.callback)
    made = [_plural(report.files, "file", "files"),
            _plural(report.directories, "directory", "directories"),
            _plural(report.symlinks, "symbolic link", "symbolic links")]
    if report.links:
        made.append(_plural(report.links, "hard link", "hard links"))
    _warn("extracted %s (%s written)%s to %s" % (
        ", ".join(made), _plural(report.bytes_written, "byte", "bytes"),
        "" if args.at is None else " as of snapshot %d" % args.at, target))
    if report.other_writes:
        _warn("left out %s to descriptors that are not files (stdio, pipes, sockets)"
              % _plural(report.other_writes, "write", "writes"))
    if report.refused:
        _warn("refused %s:" % _plural(len(report.refused), "record", "records"))
        for refusal in report.refused:
            _warn("  offset %d %s: %s" % refusal)
    return 0


def _cmd_convert(args, out) -> int:
    """``convert IN OUT --layout L``: rewrite a journal for another wasmer."""
    if not args.force:
        _refuse_existing(args.out)
    with _output_file(args.out) as target, _input_file(args.input) as source, \
            _about(args.input), _Progress(_file_size(args.input)) as progress:
        count = convert(source, target, args.layout, overwrite=args.force,
                        progress=progress.callback)
    layout = get_layout(args.layout)
    _warn("wrote %s in layout %s (%s) to %s" % (_plural(count, "record", "records"),
                                                 layout.name, layout.releases, args.out))
    return 0


def _cmd_compact(args, out) -> int:
    """``compact FILE [-o OUT]``: wasmer's CompactingJournal rules; in place
    without -o (as ``wasmer journal compact``), always through a renamed
    temporary file."""
    target = args.output
    if target is None and args.file == "-":
        raise _CliError("-: standard input cannot be compacted in place: give -o OUT", 2)
    in_place = target is None or _same_file(args.file, target)
    if not in_place and not args.force:
        _refuse_existing(target)
    with _Progress(_file_size(args.file)) as progress, _about(args.file), \
            _output_file(target) as into:
        if args.file == "-":
            journal = LogFileJournal.from_buffer(_stdin_bytes())
            with _about(target):
                report = compact(journal, into, overwrite=args.force,
                                 progress=progress.callback)
        else:
            report = compact(args.file, None if in_place else into, overwrite=args.force,
                             progress=progress.callback)
    _warn("compacted %s %s: kept %d of %s (%d -> %s)" % (
        args.file, "in place" if in_place else "into " + target, report.kept,
        _plural(report.records, "record", "records"), report.size_before,
        _plural(report.size_after, "byte", "bytes")))
    if report.dropped:
        width = max(len(name) for name in report.dropped)
        lines = ["  %-*s  %6d" % (width, name, count) for name, count in report.dropped.items()]
        _warn("dropped %s (wasmer-journal %s's rules):\n%s" % (
            _plural(report.dropped_total, "record", "records"), COMPACT_RULES_VERSION,
            "\n".join(lines)))
    return 0


# -- import -------------------------------------------------------------------

_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_PRETTY_CLOSE = re.compile(r"\n\}\r?(?:\n|$)")


class _JsonItem(NamedTuple):
    """A JSON value read from a stream, or why it could not be read."""
    line: int                   # the line it starts on
    value: Any = None
    error: Optional[str] = None


# A JSON string (they never span lines) or a bracket.
_JSON_NESTING = re.compile(r'"(?:[^"\\\n]|\\.)*"?|[\[\]{}]')


def _nesting_change(line: str) -> int:
    """How much deeper the brackets of ``line`` (outside strings) nest."""
    depth = 0
    for token in _JSON_NESTING.findall(line):
        if token in "{[":
            depth += 1
        elif token in "}]":
            depth -= 1
    return depth


def _json_items(lines: Iterator[bytes]) -> Iterator[_JsonItem]:
    """The JSON values of a stream of lines, with the lines they start on.

    Reads JSON lines, wasmer's pretty stream (objects over many lines) or
    any mix, several values on a line too, holding only the value being
    read.  A value that does not parse yields an item with ``error``;
    reading then resumes after it: at the next line or -- for a pretty
    object (one opened by a line that is just ``{``) -- after the next line
    that is just ``}``.  Text is parsed only where its brackets close, so
    reading stays linear in the input however long a value is.
    """
    decoder = json.JSONDecoder()
    # Unread lines (joined only to parse), the first of them line ``first``;
    # ``pos`` is where to go on in their text; ``depth``: their open brackets.
    state = {"lines": [], "first": 1, "pos": 0, "skipping": False, "depth": 0}

    def drain(final: bool) -> Iterator[_JsonItem]:
        text, pos = "".join(state["lines"]), state["pos"]
        while True:
            pos = _JSON_SPACE.match(text, pos).end()
            if pos == len(text):
                break
            line = state["first"] + text.count("\n", 0, pos)
            try:
                value, end = decoder.raw_decode(text, pos)
                error = None
            except json.JSONDecodeError as exc:
                incomplete = exc.pos >= len(text.rstrip())
                if incomplete and not final:
                    break                                  # read more lines
                error = "unexpected end of input in this entry" if incomplete else \
                    _json_error_text(exc, state["first"])
            except RecursionError:
                error = "JSON nested too deeply"
            except ValueError as exc:           # e.g. an integer of over 4,300 digits
                error = "%s (in the entry at line %d)" % (exc, line)
            if error is None:
                yield _JsonItem(line, value)
            else:
                yield _JsonItem(line, error=error)
                end = _resume_after(text, pos)
                if end < 0:                                # a "}" line not yet read
                    state["skipping"] = True
                    text = ""
                    break
            pos = end
        cut = text.rfind("\n", 0, pos) + 1                # keep whole lines
        state["first"] += text.count("\n", 0, cut)
        rest = text[cut:]
        state["lines"], state["pos"] = ([rest] if rest else []), max(pos - cut, 0)
        state["depth"] = _nesting_change(rest[state["pos"]:])

    for number, raw in enumerate(lines, 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield _JsonItem(number, error="not UTF-8 text: %s" % exc.reason)
            state.update(lines=[], pos=0, skipping=False, depth=0)
            continue
        if number == 1 and line.startswith("\ufeff"):
            line = line[1:]
        bare = line.rstrip("\r\n")
        if state["skipping"]:
            state["skipping"] = bare != "}"
            continue
        if not state["lines"]:
            state["first"], state["pos"] = number, 0
        state["lines"].append(line)
        state["depth"] += _nesting_change(line)
        if state["depth"] <= 0 and bare.strip():     # every bracket closed here
            yield from drain(False)
    if not state["skipping"]:
        yield from drain(True)


def _json_error_text(exc: json.JSONDecodeError, first: int) -> str:
    """A JSON syntax error's message, with its line and column."""
    line = first + exc.doc.count("\n", 0, exc.pos)
    column = exc.pos - exc.doc.rfind("\n", 0, exc.pos)
    message = exc.msg[:-3] if exc.msg.endswith(" at") else exc.msg
    return "%s at line %d column %d" % (message, line, column)


def _resume_after(text: str, pos: int) -> int:
    """Where to go on reading after a bad value starting at ``pos``, or -1
    to drop lines up to a line that is just ``}`` not yet read."""
    head_end = text.find("\n", pos)
    if text[pos:head_end if head_end >= 0 else None].rstrip() == "{":
        close = _PRETTY_CLOSE.search(text, pos)
        return close.end() if close else -1
    return len(text) if head_end < 0 else head_end + 1


@contextlib.contextmanager
def _open_input(path: str, stdin):
    """The binary stream to import from (``-`` is stdin) and its size if known."""
    if path == "-":
        yield getattr(stdin, "buffer", stdin), None
        return
    with _about(path):
        stream = _open_file(path, "rb")
    with stream:
        yield stream, _file_size(path)


def _counting(stream, progress: _Progress) -> Iterator[bytes]:
    """The lines of ``stream``, updating ``progress`` with the bytes read."""
    done = 0
    for line in stream:
        done += len(line)
        progress.update(done)
        yield line


@contextlib.contextmanager
def _import_target(path: str, append: bool, force: bool, layout=None):
    """The journal ``import`` writes: appended to, replaced, or new.

    All or nothing: if the block raises, a new or replaced file is left as
    it was, and what was appended is cut off again (nobody else can append
    meanwhile: the file is locked for the whole import).
    """
    if append and path == _DASH:
        raise _CliError("import: --append needs a journal file, not standard output", 2)
    if append:
        with _about(path):
            journal = LogFileJournal(path, on_torn_tail="error", layout=layout,
                                     lock="exclusive" if fcntl is not None else "thread")
        with journal:
            journal.tx.prepare()              # a torn tail is cut now, for good
            start = journal.tx._pos
            try:
                yield journal
            except BaseException:
                os.ftruncate(journal._fd, start)
                _fsync(journal._fd)
                raise
        return
    if not force:
        _refuse_existing(path, "use --append to add to it or --force to replace it")
    with _new_journal(path, force, layout) as journal:
        yield journal


def _cmd_import(args, out) -> int:
    """``import INPUT OUT``: build a journal from JSON."""
    name = "<stdin>" if args.input == "-" else args.input
    written = skipped = 0
    failure = None
    with _open_input(args.input, sys.stdin) as (stream, size), \
            _import_target(args.out, args.append, args.force, args.layout) as journal, \
            _Progress(size) as progress:
        batch = _Batch(journal, args.out)
        with _about(name):
            for item in _json_items(_counting(stream, progress)):
                error = item.error
                if error is None:
                    try:
                        entry = entry_from_json(item.value)
                    except EntryValueError as exc:
                        error = str(exc)
                if error is not None:
                    failure = "%s:%d: %s" % (name, item.line, error)
                    if args.keep_partial:
                        batch.flush()
                        break
                    if not args.skip_bad:
                        # Raised inside: the output is left as it was.
                        raise _CliError("%s (nothing written to %s; --keep-partial keeps "
                                        "the %s before it)" % (
                                            failure, args.out,
                                            _plural(written, "entry", "entries")))
                    _warn(failure + " (skipped)")
                    skipped += 1
                    continue
                batch.add(entry)
                written += 1
        batch.flush()
    if failure is not None and args.keep_partial:
        raise _CliError("%s (%s before it written to %s)"
                        % (failure, _plural(written, "entry", "entries"), args.out))
    _warn("wrote %s to %s%s" % (_plural(written, "entry", "entries"), args.out,
                                ", skipped %s" % _plural(skipped, "bad entry", "bad entries")
                                if skipped else ""))
    return 0


# -- filter -------------------------------------------------------------------

def _record_matcher(args) -> Callable[[int, JournalEntry], bool]:
    """A predicate on (header offset, entry): all the given criteria hold."""
    tests = []
    if args.type:
        kinds = tuple(cls for group in args.type for cls in group)
        tests.append(lambda offset, entry: isinstance(entry, kinds))
    if args.fd is not None:
        fd = args.fd
        tests.append(lambda offset, entry: any(
            value == fd for name, value in zip(entry.fields, entry) if name in _FD_FIELDS))
    if args.thread is not None:
        thread = args.thread
        tests.append(lambda offset, entry: isinstance(entry, (SetThreadV1, CloseThreadV1))
                     and entry.id == thread)
    if args.range is not None:
        start, end = args.range
        tests.append(lambda offset, entry: (start is None or offset >= start)
                     and (end is None or offset < end))
    return lambda offset, entry: all(test(offset, entry) for test in tests)


def _cmd_filter(args, out) -> int:
    """``filter FILE OUT``: keep (or ``--drop``) the matching records."""
    matches = _record_matcher(args)
    kept = total = changed = 0
    with _reading(args.file) as source, \
            _new_journal(args.out, args.force, _output_layout([source])) as target, \
            _Progress(_file_size(args.file)) as progress:
        canonical = _canonical_test(source.rx)
        batch = _Batch(target, args.out)
        categories = args.filter_out or ()
        for result in _records(source, args.file, progress):
            total += 1
            if matches(result.header_offset, result.record) != args.drop and not (
                    categories and filtered_out(result.record, categories)):
                batch.add(result.record)
                kept += 1
                changed += not canonical(result)
        batch.flush()
    _warn("kept %d of %d records in %s" % (kept, total, args.out))
    _note_changed(changed, args.file)
    return 0


class _Batch:
    """Entries on their way to a journal, written by write_many 1,024 at a
    time (errors name ``name``)."""

    __slots__ = ("journal", "name", "entries")

    def __init__(self, journal, name: str) -> None:
        self.journal = journal
        self.name = name
        self.entries: List[JournalEntry] = []

    def add(self, entry: JournalEntry) -> None:
        self.entries.append(entry)
        if len(self.entries) >= 1024:
            self.flush()

    def flush(self) -> None:
        if self.entries:
            with _about(self.name):
                self.journal.write_many(self.entries)
            self.entries = []


def _note_changed(changed: int, source: str) -> None:
    """Say that rewriting changed the bytes of records that were not as
    wasmer writes them (``check --strict`` lists them)."""
    if changed:
        _warn("note: %s of %s %s not as wasmer writes %s: rewritten, %s bytes changed "
              "(check --strict lists them)" % (
                  _plural(changed, "record", "records"), source,
                  "was" if changed == 1 else "were", "it" if changed == 1 else "them",
                  "its" if changed == 1 else "their"))


# -- stats --------------------------------------------------------------------

def _stats_text(stats: Dict[str, Any]) -> str:
    """The human form of journal_stats() (with the file's name)."""
    lines = ["%s: %d records, %d bytes of records in a file of %d bytes" % (
        stats["file"], stats["records"], stats["bytes"], stats["size"]),
        "layout: " + describe_layouts(stats["layouts"], [
            (segment["offset"], segment["layouts"]) for segment in stats["segment_layouts"]]),
        ""]
    row = "%-*s  %8s  %12s  %12s"
    lines.append(row % (_TYPE_WIDTH, "type", "count", "bytes", "body bytes"))
    for name, item in stats["types"].items():
        lines.append(row % (_TYPE_WIDTH, name, item["count"], item["bytes"],
                            item["body_bytes"]))
    lines.append(row % (_TYPE_WIDTH, "total", stats["records"], stats["bytes"],
                        stats["body_bytes"]))
    memory = stats["memory"]
    if memory["updates"]:
        lines += ["", "memory (UpdateMemoryRegionV1): %d updates covering %d bytes "
                  "(%d distinct); data %d bytes, stored %d bytes compressed (ratio %s)"
                  % (memory["updates"], memory["region_bytes"], memory["distinct_bytes"],
                     memory["uncompressed_bytes"], memory["compressed_bytes"],
                     memory["ratio"])]
    if "memory_pages" in stats:
        lines += [""] + _memory_map_lines(
            [MemoryPage(**page) for page in stats["memory_pages"]], stats["page_size"],
            stats["memory_at"])
    if len(stats["segments"]) > 1:
        lines += ["", "segments (each begins with a magic number):",
                  "%9s  %9s  %8s  %12s  %s" % ("offset", "end", "records", "bytes", "layout")]
        lines += ["%9d  %9d  %8d  %12d  %s" % (
            segment["offset"], segment["end"], segment["records"], segment["bytes"],
            ", ".join(layout["layouts"]) or "none")
            for segment, layout in zip(stats["segments"], stats["segment_layouts"])]
    if stats["largest"]:
        lines += ["", "largest records:"]
        lines += ["%9d  %-*s  %d bytes" % (item["offset"], _TYPE_WIDTH, item["type"], item["size"])
                  for item in stats["largest"]]
    return "\n".join(lines)


# The memory map: at most this many cells a row, and rows; a cell is a page,
# or as many pages (a power of two) as it takes to fit.
_MAP_WIDTH, _MAP_ROWS = 64, 32
_MAP_SNAPSHOTS = "123456789abcdefghijklmnopqrstuvwxyz"
_NOT_YET = sys.maxsize          # a page no snapshot holds yet: after every one


def _memory_map_lines(pages: Sequence[MemoryPage], page_size: int,
                      at: Optional[int]) -> List[str]:
    """stats --memory: two maps of the memory image, a character a cell:
    how often it was written, and which snapshot holds its last write."""
    title = "memory map" if at is None else "memory map as of snapshot %d" % at
    if not pages:
        return [title + ": no page written"]
    count = pages[-1].index + 1
    group = 1
    while -(-count // group) > _MAP_WIDTH * _MAP_ROWS:
        group *= 2
    cells: Dict[int, Tuple[int, int]] = {}          # cell -> (most writes, latest snapshot)
    for page in pages:
        snapshot = _NOT_YET if page.snapshot is None else page.snapshot
        writes, latest = cells.get(page.index // group, (0, 0))
        cells[page.index // group] = (max(writes, page.writes), max(latest, snapshot))

    def writes_mark(cell: Tuple[int, int]) -> str:
        return str(cell[0]) if cell[0] < 10 else "+"

    def snapshot_mark(cell: Tuple[int, int]) -> str:
        latest = cell[1]
        if latest == _NOT_YET:
            return "~"
        return _MAP_SNAPSHOTS[latest - 1] if latest <= len(_MAP_SNAPSHOTS) else "#"

    cell_bytes = group * page_size
    lines = ["%s: %s written of %d; a cell is %s (%s bytes)" % (
        title, _plural(len(pages), "page", "pages"), count,
        _plural(group, "page", "pages"), _int_text(cell_bytes))]
    total = -(-count // group)
    rows = range(0, total, _MAP_WIDTH)
    width = len("0x%x" % (rows[-1] * cell_bytes))
    for heading, mark in (("writes (1-9, + for 10 or more, . none):", writes_mark),
                          ("snapshot holding the last write (1-9, a-z for 10-35, # later, "
                           "~ none yet):", snapshot_mark)):
        lines.append(heading)
        for row in rows:
            lines.append("  %*s  %s" % (width, "0x%x" % (row * cell_bytes), "".join(
                mark(cells[cell]) if cell in cells else "."
                for cell in range(row, min(row + _MAP_WIDTH, total)))))
    return lines


def _cmd_stats(args, out) -> int:
    """``stats FILE``: counts and bytes per record type (``--memory``: and
    a map of the memory image)."""
    if args.at is not None and not args.memory:
        raise _CliError("stats: --at needs --memory", 2)
    with _reading(args.file) as journal, _Progress(_journal_size(journal)) as progress:
        stats = {"file": args.file, **journal_stats(
            journal, records=_records(journal, args.file, progress),
            page_size=args.page_size if args.memory else None, at=args.at)}
    out.write((_compact_json(stats) if args.json else _stats_text(stats)) + "\n")
    return 0


# -- check, repair ------------------------------------------------------------

def _report_json(path: str, report: JournalReport) -> Dict[str, Any]:
    value = report._asdict()
    value["errors"] = [{"offset": error.offset, "error": type(error).__name__,
                        "message": str(error)} for error in report.errors]
    return dict(file=path, ok=report.ok, **value)


def _cmd_check(args, out) -> int:
    """``check FILE``: validate every record (``-``: standard input)."""
    with _about(args.file):
        report = check(_stdin_bytes() if args.file == "-" else args.file,
                       strict=args.strict)
    if args.json:
        out.write(_compact_json(_report_json(args.file, report)) + "\n")
    else:
        out.write("%s: %s\n" % (args.file, report.describe()))
        for error in report.errors:
            out.write("  %s: %s\n" % (type(error).__name__, error))
        if report.status == "torn-tail":
            out.write("  `%s repair %s` cuts the torn tail off (keeping a copy)\n"
                      % (_PROG, args.file))
    return 0 if report.ok else 1


def _cmd_repair(args, out) -> int:
    """``repair FILE``: cut a torn tail off, keeping a copy of it."""
    if args.file == "-":
        raise _CliError("repair changes a file: give its path, not -", 2)
    with _about(args.file):
        report = repair(args.file)
    if report.saved_to:
        out.write("%s: cut %d bytes of torn tail (%s) at offset %d, saved to %s; "
                  "%d records remain\n" % (args.file, report.size - report.end, report.tail,
                                           report.end, report.saved_to, report.records))
    else:
        out.write("%s: nothing to repair (%s)\n" % (args.file, report.describe()))
    return 0


# -- tail ---------------------------------------------------------------------

def _tail_start(journal, lines: int) -> None:
    """Move the reader to the last ``lines`` records (without decoding the rest)."""
    rx = journal.rx
    last = collections.deque(rx.scan(), maxlen=min(max(lines, 1), sys.maxsize))
    if not last:
        return
    if lines:
        rx.seek(last[0].header_offset, last[0].segment_start)
    else:
        rx.seek(last[-1].record_end, last[-1].segment_start)


class _Terminated(Exception):
    """SIGTERM arrived while following a journal."""


def _on_sigterm(signum, frame):
    raise _Terminated()


def _follow(path: str, where: Tuple[int, int, int], interval: float, show, out) -> None:
    """Print the records appended to ``path`` from ``where`` on, forever.

    ``where`` is (inode, header offset, segment start) of the next record,
    and the bytes just before it.
    A record is printed once complete: a zero (placeholder) header or a
    record cut short at the end of the file is a write in progress, read
    again at the next poll.  A file replaced, cut below that offset, or
    rewritten in place (the bytes before it changed) is followed from its
    start.
    """
    inode, position, segment, seen = where    # seen: the bytes before position, last read
    size = -1
    pending = False                  # the last read stopped at an incomplete record
    noted = None
    while True:
        time.sleep(interval)
        try:
            info = os.stat(path)
        except FileNotFoundError:
            continue
        if info.st_size == size and info.st_ino == inode and not pending:
            continue
        with _reading(path) as journal:
            buffer = journal.rx._buffer
            if info.st_ino != inode or _journal_size(journal) < position:
                _warn("%s: file %s; following it from its start" % (
                    path, "replaced" if info.st_ino != inode else "truncated"))
            elif buffer[max(0, position - 64):position] != seen:
                _warn("%s: file rewritten; following it from its start" % path)
            else:
                journal.rx.seek(position, segment)
            for result in _records(journal, path, note_stop=False):
                show(result)
            position, segment = journal.rx.position, journal.rx.segment_start
            seen = bytes(buffer[max(0, position - 64):position])
            stop = journal.stop
        inode, size = info.st_ino, info.st_size
        pending = stop is not None
        if pending and stop.reason == "unknown-record-type" and stop.record_type \
                and stop != noted:
            _warn("%s: note: %s; waiting" % (path, _describe_stop(stop, size)))
            noted = stop
        out.flush()


def _cmd_tail(args, out) -> int:
    """``tail FILE``: the last records; ``-f`` follows the file as it grows."""
    if args.file == "-" and args.follow:
        raise _CliError("tail -f follows a file, not standard input", 2)
    with _about(args.file):
        inode = None if args.file == "-" else os.stat(args.file).st_ino
    with _reading(args.file) as journal:
        show = _record_printer(args, out, _json_layout(journal))
        _tail_start(journal, args.lines)
        for result in _records(journal, args.file, note_stop=not args.follow):
            show(result)
        position = journal.rx.position
        where = (inode, position, journal.rx.segment_start,
                 bytes(journal.rx._buffer[max(0, position - 64):position]))
    out.flush()
    if not args.follow:
        return 0
    import signal
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:               # not the main thread: no handler
        previous = None
    try:
        _follow(args.file, where, args.interval, show, out)
    except (KeyboardInterrupt, _Terminated):
        return 0
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


# -- cat ----------------------------------------------------------------------

def _readable_part(path: str) -> JournalReport:
    """check() ``path``; a torn tail is left out (with a warning; an error
    with --strict), anything else wrong is an error."""
    with _about(path):
        report = check(_stdin_bytes() if path == "-" else path)
    if report.status == "torn-tail" and _STRICT[0]:
        raise _CliError("%s: %s (--strict)" % (path, report.describe()))
    if report.status == "torn-tail":
        _warn("%s: leaving out a torn tail (%s) of %d bytes at offset %d"
              % (path, report.tail, report.size - report.end, report.end))
    elif not report.ok:
        raise _CliError("%s: %s" % (path, report.describe()))
    return report


def _copy_bytes(path: str, length: int, target) -> None:
    """Copy the first ``length`` bytes of ``path`` to the open file ``target``."""
    with _about(path):
        source = io.BytesIO(_stdin_bytes()) if path == "-" else _open_file(path, "rb")
    with source:
        while length:
            with _about(path):
                chunk = source.read(min(length, _MIB))
            if not chunk:
                raise _CliError("%s: shrank while being copied" % path)
            target.write(chunk)
            length -= len(chunk)


def _cat_bytes(paths: Sequence[str], temp: str, output: str) -> int:
    """Concatenate the readable parts of ``paths`` into the file ``temp``
    (each becomes a segment); returns how many records they hold."""
    records = 0
    with _about(output), _open_file(temp, "wb") as target:
        for path in paths:
            part = _readable_part(path)
            records += part.records
            if part.end:
                _copy_bytes(path, part.end, target)
        if not target.tell():
            target.write(JOURNAL_MAGIC_NUMBER_BYTES)     # a journal, if an empty one
    return records


def _cat_entries(paths: Sequence[str], temp: str, output: str) -> int:
    """Write the entries of the readable parts of ``paths`` into a new
    journal at ``temp`` (one segment); returns how many there are."""
    records = 0
    layouts = []
    for path in paths:
        with _reading(path) as source:
            layouts.append(source)
            layout = _output_layout(layouts)
    with _about(output):
        journal = LogFileJournal(temp, layout=layout)
        journal.tx.prepare()
    with journal:
        for path in paths:
            with _reading(path) as source, _Progress(_file_size(path)) as progress:
                canonical = _canonical_test(source.rx)
                changed = 0
                batch = _Batch(journal, output)
                for result in _cat_records(source, path, progress):
                    batch.add(result.record)
                    records += 1
                    changed += not canonical(result)
                batch.flush()
            _note_changed(changed, path)
    return records


def _cat_records(source, path: str, progress: _Progress) -> Iterator[LogReadResult]:
    """The records cat takes from ``source``: those before its torn tail, or
    with --skip-bad every readable one (a corrupt record is reported and
    left out, as export does; a torn tail ends the file, with a note)."""
    if _SKIP_BAD[0]:
        yield from _records(source, path, progress)
        return
    end = _readable_part(path).end
    while source.rx.position < end:                 # the torn tail may not decode
        with _about(path):
            result = source.read()
        if result is None:
            break
        progress.update(result.record_end)
        yield result


def _cmd_cat(args, out) -> int:
    """``cat A B ... [-o OUT]``: concatenate journals, then check the result
    (written to standard output without ``-o``)."""
    if args.output is None or args.output == "-":
        return _cat_to_stdout(args, out)
    concatenate = _cat_entries if args.reencode or args.skip_bad else _cat_bytes
    with _replacing(args.output, args.force) as temp:
        records = concatenate(args.files, temp, args.output)
        with _about(args.output):
            report = check(temp)
        if not report.ok or report.records != records:
            raise _CliError("%s: the result does not read back as %d records: %s"
                            % (args.output, records, report.describe()))
    _warn("wrote %s from %s to %s" % (
        _plural(records, "record", "records"),
        _plural(len(args.files), "journal", "journals"), args.output))
    return 0


def _cat_to_stdout(args, out) -> int:
    """cat into a private temporary file, checked, then copied to stdout."""
    stream = getattr(out, "buffer", out)
    if getattr(stream, "isatty", lambda: False)():
        raise _CliError("cat: standard output is a terminal; give -o FILE or a pipe", 2)
    concatenate = _cat_entries if args.reencode or args.skip_bad else _cat_bytes
    with tempfile.TemporaryDirectory(prefix="logfile-journal-cat.") as directory:
        temp = os.path.join(directory, "cat.journal")
        records = concatenate(args.files, temp, "<stdout>")
        report = check(temp)
        if not report.ok or report.records != records:
            raise _CliError("<stdout>: the result does not read back as %d records: %s"
                            % (records, report.describe()))
        out.flush()
        with _open_file(temp, "rb") as source:
            shutil.copyfileobj(source, stream, _MIB)
        stream.flush()
    return 0


# -- Argument types -----------------------------------------------------------

def _bad_argument(message: str) -> Exception:
    """The error an argparse type raises: argparse prints ``message``."""
    import argparse
    return argparse.ArgumentTypeError(message)


def _number(text: str) -> int:
    """A non-negative integer, decimal or 0x hexadecimal (an argparse type)."""
    try:
        value = int(text, 16) if text.lower().startswith("0x") else int(text, 10)
    except ValueError:
        raise _bad_argument("not a number: %r" % text) from None
    if value < 0:
        raise _bad_argument("must not be negative: %r" % text)
    return value


def _positive(text: str) -> int:
    """A whole number of at least 1 (an argparse type)."""
    value = _number(text)
    if value < 1:
        raise _bad_argument("must be at least 1: %r" % text)
    return value


def _seconds(text: str) -> float:
    """A positive number of seconds (an argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 1e6:
        raise _bad_argument("not a positive number of seconds: %r" % text)
    return value


_CLASSES_BY_NAME = dict(
    [(cls.__name__, cls) for cls in ENTRY_CLASSES.values()]
    + [(name, cls) for cls, name in JSON_VARIANT_NAMES.items()])


def _record_types(text: str) -> Tuple[type, ...]:
    """Entry classes named by ``text``: comma-separated class names
    (``CreatePipeV1``), serde names (``create_pipe_v1``) or codes (``31``)."""
    classes = []
    for name in filter(None, (part.strip() for part in text.split(","))):
        cls = ENTRY_CLASSES.get(int(name)) if name.isascii() and name.isdigit() \
            else _CLASSES_BY_NAME.get(name)
        if cls is None:
            raise _bad_argument(
                "unknown record type %r (a name like CreatePipeV1 or create_pipe_v1, "
                "or a code 1-%d)" % (name, max(JournalEntryRecordType)))
        classes.append(cls)
    if not classes:
        raise _bad_argument("no record type given")
    return tuple(classes)


def _layout_name(text: str) -> str:
    """A layout name or alias (an argparse type)."""
    try:
        return get_layout(text).name
    except ValueError as exc:
        raise _bad_argument(str(exc)) from None


def _filter_category(text: str) -> str:
    """A FILTER_CATEGORIES name or alias (an argparse type)."""
    try:
        return filter_category(text)
    except ValueError as exc:
        raise _bad_argument(str(exc)) from None


def _offset_range(text: str) -> Tuple[Optional[int], Optional[int]]:
    """``START:END`` header offsets (either may be empty) -- an argparse type."""
    start, colon, end = text.partition(":")
    if not colon:
        raise _bad_argument("expected START:END, got %r" % text)
    return (_number(start) if start else None, _number(end) if end else None)


# -- The parser and main() ----------------------------------------------------

_DESCRIPTION = """\
Inspect, convert, check and repair Wasmer journal files (the LogFileJournal
of wasmer-journal, every released layout: wasmer 4.2 to 7.x)."""

_EPILOG = """\
exit status: 0 success, 1 journal error (the message names the file and the
offset), 2 usage error, 130 interrupted (143 SIGTERM, 129 SIGHUP), 141 standard
output closed early (e.g. by `| head`; nothing is printed).

Run `%(prog)s COMMAND --help` for the options of each command."""

# (name, function, help, epilog); arguments are added by _add_arguments().
_COMMANDS = (
    ("inspect", _cmd_inspect, "print the layout, then one line per record",
     "First the layout the file is in (see convert --help), then a line per\n"
     "record: its header offset, type and fields (bytes as\n"
     "length and the first 8 bytes in hex, memory regions as range and sizes).\n"
     "--json prints one JSON object per record instead."),
    ("export", _cmd_export, "print the entries as JSON (as `wasmer journal export`)",
     "One JSON object per line, each the serde form of wasmer's JournalEntry.\n"
     "--pretty prints wasmer's own layout instead (what `wasmer journal import`\n"
     "reads). With -o, the file is written only if the export completes."),
    ("import", _cmd_import, "build a journal from JSON lines or wasmer's export",
     "Reads JSON lines, wasmer's pretty stream, or a mix (INPUT - is stdin).\n"
     "A bad entry is reported with its line number, and OUT is left as it was\n"
     "(--skip-bad goes on past it, --keep-partial keeps what came before it).\n"
     "An existing OUT is refused unless --append or --force."),
    ("filter", _cmd_filter, "copy the records that match (or, --drop, the others)",
     "Criteria combine with AND; repeated --type options are OR'ed. Types are\n"
     "class names (CreatePipeV1), serde names (create_pipe_v1) or codes (31),\n"
     "also comma-separated. --fd matches every fd-like field; --thread matches\n"
     "SetThreadV1/CloseThreadV1. The output is a new journal (records are\n"
     "re-encoded at their new positions)."),
    ("stats", _cmd_stats, "counts and bytes per record type, memory, largest records",
     None),
    ("check", _cmd_check, "validate every record (exit status 1 if not ok)",
     "Status: ok, torn-tail, corrupt, unknown-record-type or invalid-magic;\n"
     "with --strict also non-canonical: valid records holding bytes wasmer would\n"
     "not write (nonzero padding, unused Option or address bytes)."),
    ("repair", _cmd_repair, "cut a torn tail off (keeping a copy in FILE.torn-OFFSET)",
     "Only a torn tail (an incomplete last record) is ever cut; corruption, an\n"
     "unknown record type or a wrong magic number are refused (exit status 1)."),
    ("tail", _cmd_tail, "print the last records; -f follows the file as it grows",
     "With -f, records appended later are printed once complete; stop with\n"
     "Ctrl-C or SIGTERM (exit status 0)."),
    ("extract", _cmd_extract, "extract the memory image or the file tree",
     "extract FILE memory MEMFILE writes what the memory updates leave: each one's\n"
     "data at its region's start, emptied at InitModuleV1 and ProcessExitV1, zero\n"
     "(sparse) where nothing was written. --at N stops at the N-th snapshot. MEMFILE\n"
     "is written beside its place and renamed into it: a failure leaves it as it was.\n"
     "extract FILE files DIR rebuilds the file tree the records make (what wasmer\n"
     "journal mount showed): the guest's root is DIR; nothing is made outside it,\n"
     "symbolic links are never followed, and each record refused (.. above DIR, a\n"
     "path through a link, a file past --max-file-size, ...) is listed with its\n"
     "offset. DIR must be new or empty (--force replaces it); it is built beside\n"
     "and renamed into place."),
    ("convert", _cmd_convert, "rewrite a journal for another wasmer (--layout)",
     "Re-encodes every entry in the layout of the wasmer named by --layout\n"
     "(wasmer-4.2, wasmer-4.3, wasmer-5, wasmer-6; or rkyv-0.7, rkyv-0.8, latest).\n"
     "An entry that layout cannot hold is refused, naming it and its offset;\n"
     "OUT is then not written."),
    ("compact", _cmd_compact, "drop what wasmer's CompactingJournal drops",
     "Keeps what wasmer-journal %s's CompactingJournal keeps: the last memory\n"
     "update of each range, the threads of the last snapshot, the descriptors that\n"
     "changed the file system; drops closed sockets, pipes and read-only files with\n"
     "their history, what create+truncate or unlink made moot, and what a process\n"
     "exit ends. Without -o FILE is compacted in place, as `wasmer journal compact`\n"
     "does; either way through a temporary file, synced and renamed: a failure\n"
     "leaves every file as it was. What was dropped is listed by type."
     % COMPACT_RULES_VERSION),
    ("cat", _cmd_cat, "concatenate journals into one",
     "Copies each input's readable part (a torn tail is left out with a\n"
     "warning), so each input becomes a segment of OUT; --reencode writes all\n"
     "entries into one fresh journal instead. The result is checked."),
)


def _add_arguments(name: str, parser) -> None:
    """The arguments of subcommand ``name``, added to its argparse ``parser``."""
    add = parser.add_argument
    force = "replace an existing output file"
    if name in ("inspect", "stats", "check"):
        add("files", nargs="+", metavar="FILE", help="the journal files (- for stdin)")
    if name in ("export", "filter", "repair", "tail"):
        add("file", metavar="FILE", help="the journal file")
    if name in ("inspect", "tail", "stats", "check"):
        add("--json", action="store_true", help="print JSON instead of text")
    if name in ("inspect", "tail"):
        add("--lz4-literals-only", action="store_true",
            help="with --json: byte fields as LZ4 blocks of literals only, as export's "
                 "option of that name writes them")
    if name in ("export", "filter", "stats", "cat"):
        add("--skip-bad", action="store_true",
            help="report a corrupt record and go on past it (to where valid records "
                 "resume), instead of stopping" + (
                     "; implies --reencode (the records after a skipped one move, and a "
                     "record's bytes depend on its offset)"
                     if name == "cat" else ""))
    if name in ("inspect", "export", "filter", "stats", "tail", "cat"):
        add("--strict", action="store_true",
            help="a journal that ends early (a torn tail, an unknown record type) is an "
                 "error (exit status 1), not a note")
    if name == "stats":
        add("--memory", action="store_true",
            help="map the memory image: which pages are written, how often, and which "
                 "snapshot holds each (JSON: memory_pages)")
        add("--page-size", type=_positive, default=WASM_PAGE_SIZE, metavar="BYTES",
            help="the page of --memory (default %d, a wasm page)" % WASM_PAGE_SIZE)
        add("--at", type=_positive, metavar="N",
            help="--memory as of the N-th snapshot (the counts are the whole file's)")
    if name == "inspect":
        add("--format", choices=("text", "wasmer"), default="text",
            help="wasmer: the lines wasmer's PrintingJournal prints, for the file's layout")
    layout_help = "one of %s (or an alias: %s)" % (", ".join(LAYOUTS), ", ".join(_LAYOUT_ALIASES))
    if name == "inspect":
        add("--layout", type=_layout_name, metavar="LAYOUT",
            help="the wasmer whose JSON and text to show (default: the file's); " + layout_help)
    if name == "export":
        add("--pretty", action="store_true",
            help="wasmer's pretty layout instead of one object per line")
        add("--layout", type=_layout_name, metavar="LAYOUT",
            help="the wasmer whose JSON names to use (default: the file's); " + layout_help)
        add("--wasmer-exact", action="store_true",
            help="print exactly what wasmer prints, even where its reading loses "
                 "something (unknown flag bits, an IPv6 flowinfo, exit codes past 255)")
        add("--lz4-literals-only", action="store_true",
            help="byte fields as LZ4 blocks of literals only: several times faster, and "
                 "import (ours and wasmer's) reads the same entries back, but not the "
                 "bytes wasmer prints (with --wasmer-exact: wasmer's values, these blocks)")
        add("-o", "--output", metavar="OUT", help="write to OUT instead of stdout")
        add("--force", action="store_true", help=force)
    elif name == "import":
        add("input", metavar="INPUT", help="JSON file, or - for stdin")
        add("out", metavar="OUT", help="the journal to write (- for standard output)")
        add("--layout", type=_layout_name, metavar="LAYOUT",
            help="the layout to write (default %s, or with --append the file's); %s"
            % (DEFAULT_LAYOUT, layout_help))
        bad = parser.add_mutually_exclusive_group()
        bad.add_argument("--skip-bad", action="store_true",
                         help="report bad entries and go on (exit status 0)")
        bad.add_argument("--keep-partial", action="store_true",
                         help="at a bad entry, stop but keep what was written before it "
                              "(exit status 1); otherwise OUT is left as it was")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--append", action="store_true",
                          help="append to an existing journal OUT")
        mode.add_argument("--force", action="store_true", help=force)
    elif name == "filter":
        add("out", metavar="OUT", help="the journal to write (- for standard output)")
        add("--type", action="append", type=_record_types, metavar="TYPE",
            help="record type (repeatable)")
        add("--fd", type=_number, metavar="N", help="records with a file descriptor N")
        add("--thread", type=_number, metavar="N", help="SetThreadV1/CloseThreadV1 of thread N")
        add("--range", type=_offset_range, metavar="START:END",
            help="records whose header offset is in [START, END)")
        add("--drop", action="store_true", help="drop the matching records, keep the rest")
        add("-f", "--filter-out", action="append", type=_filter_category, metavar="CATEGORY",
            help="leave out a category as wasmer journal filter -f does: mem, threads, fs, "
                 "core, snap, net or stdio (repeatable)")
        add("--force", action="store_true", help=force)
    elif name == "check":
        add("--strict", action="store_true",
            help="also report records wasmer would not write as they are "
                 "(status non-canonical, exit status 1)")
    elif name == "tail":
        add("-n", "--lines", type=_number, default=10, metavar="N",
            help="how many records (default 10)")
        add("-f", "--follow", action="store_true", help="print records as they are appended")
        add("--interval", type=_seconds, default=0.2, metavar="SECONDS",
            help="how often to look for new records with -f (default 0.2)")
    elif name == "extract":
        add("file", metavar="FILE", help="the journal (- for stdin)")
        add("what", choices=("memory", "files"),
            help="memory: the memory image; files: the file tree")
        add("target", metavar="MEMFILE|DIR",
            help="the file to write (memory; - for standard output), or the directory "
                 "to make (files)")
        add("--at", type=_positive, metavar="N", help="stop at the N-th snapshot (1 = first)")
        add("--max-file-size", type=_number, metavar="BYTES",
            help="files: refuse writes and sizes past BYTES (default %d)" % DEFAULT_MAX_FILE_SIZE)
        add("--force", action="store_true",
            help="replace an existing output file (memory) or non-empty directory (files)")
    elif name == "convert":
        add("input", metavar="IN", help="the journal to read")
        add("out", metavar="OUT", help="the journal to write (- for standard output)")
        add("--layout", type=_layout_name, required=True, metavar="LAYOUT",
            help=layout_help)
        add("--force", action="store_true", help=force)
    elif name == "compact":
        add("file", metavar="FILE", help="the journal (- for stdin, with -o)")
        add("-o", "--output", metavar="OUT",
            help="write the compacted journal to OUT (- for standard output; default: "
                 "replace FILE)")
        add("--force", action="store_true", help=force)
    elif name == "cat":
        add("files", nargs="+", metavar="FILE", help="the journals, in order")
        add("-o", "--output", metavar="OUT",
            help="the journal to write (default: standard output, when it is not a terminal)")
        add("--reencode", action="store_true",
            help="write the entries into one fresh journal (one segment)")
        add("--force", action="store_true", help=force)


# Commands that take several files, and run once for each.
_MULTI_FILE = ("inspect", "stats", "check")


def _each_file(function):
    """Run ``function`` for each of ``args.files`` (as ``args.file``): with
    several, inspect and stats head each file's part with its name; a file
    that fails is reported and the others still run.  The exit status is
    the worst one."""
    def run(args, out) -> int:
        worst = 0
        several = len(args.files) > 1
        for index, path in enumerate(args.files):
            args.file = path
            if several and function is not _cmd_check:
                out.write("%s==> %s <==\n" % ("\n" if index else "", path))
            try:
                status = function(args, out)
            except _CliError as exc:
                if not several:
                    raise
                _warn(exc.message)
                status = exc.status
            worst = max(worst, status)
        return worst
    return run


def _build_parser():
    """The argparse parser of the command line."""
    import argparse
    parser = argparse.ArgumentParser(
        prog=_PROG, description=_DESCRIPTION, epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version="%(prog)s " + __version__)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, function, summary, epilog in _COMMANDS:
        sub = commands.add_parser(name, help=summary, description=summary[0].upper()
                                  + summary[1:] + ".", epilog=epilog,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        _add_arguments(name, sub)
        sub.set_defaults(handler=_each_file(function) if name in _MULTI_FILE else function)
    return parser


def _silence_stdout() -> None:
    """Point stdout at os.devnull, so that flushing it at exit cannot fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass                  # not a real file (an in-process test): nothing to do


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the ``logfile-journal`` command line; returns the exit status.

    ``argv`` defaults to ``sys.argv[1:]``.  Output goes to sys.stdout,
    messages to sys.stderr.  Returns 0 on success, 1 on a journal error
    (reported as one line ``logfile-journal: FILE: message (at offset N)``),
    2 on a usage error, 130 when interrupted (143 and 129 on SIGTERM and
    SIGHUP, which clean up as Ctrl-C does) and 141 when stdout is a pipe
    closed early (nothing is printed then).  It never raises SystemExit.
    """
    import signal
    parser = _build_parser()
    del _STDIN[:]                          # read anew by this command, if it reads "-"
    _STRICT[0] = _SKIP_BAD[0] = False
    for stream in (sys.stdout, sys.stderr):
        # A terminal or pipe that is not UTF-8 gets \u2026 for "…", not a traceback.
        if getattr(stream, "errors", None) == "strict":
            try:
                stream.reconfigure(errors="backslashreplace")
            except (AttributeError, ValueError, io.UnsupportedOperation):
                pass
    previous = {}
    try:
        for name in ("SIGTERM", "SIGHUP"):
            number = getattr(signal, name, None)
            if number is not None:
                try:
                    previous[number] = signal.signal(number, _raise_signalled)
                except ValueError:         # not the main thread: leave signals be
                    break
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:          # --help, --version, usage errors
            status = exc.code if isinstance(exc.code, int) else 2
        else:
            _STRICT[0] = bool(getattr(args, "strict", False)) and args.command != "check"
            _SKIP_BAD[0] = bool(getattr(args, "skip_bad", False)) and args.command != "import"
            status = args.handler(args, _NamedOutput(sys.stdout))
    except _Signalled as exc:
        status = 128 + exc.signum
    except BrokenPipeError:
        status = _EXIT_SIGPIPE
    except _CliError as exc:
        _warn(exc.message)
        status = exc.status
    except (JournalError, OSError) as exc:       # not about a file named by the user
        _warn(str(exc))
        status = 1
    except KeyboardInterrupt:
        status = _EXIT_INTERRUPTED
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        status = _EXIT_SIGPIPE
    except OSError as exc:                       # e.g. > /dev/full: the output is incomplete
        _warn("<stdout>: %s" % (exc.strerror or exc))
        status = max(status, 1)
    except ValueError:
        pass
    if status == _EXIT_SIGPIPE:
        _silence_stdout()
    return status


if __name__ == "__main__":
    sys.exit(main())
