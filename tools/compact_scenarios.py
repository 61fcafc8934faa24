"""Journals that exercise every rule of wasmer's CompactingJournal, for `compact`.

``build()`` returns {file name: bytes}: journals this library writes in layout
wasmer-6 (which wasmer-journal 0.705.0 reads), deterministically.  The real
compactor (``oracle compact``, wasmer-journal 0.705.0's CompactingLogFileJournal)
compacts each, and the test suite checks that ``logfile_journal.compact()`` writes
the same records and the same bytes.

    python3 tools/compact_scenarios.py DIR    # writes DIR/compact-<name>.journal

tools/wasmer-oracle/regenerate_tools.sh runs this into
testdata/wasmer-journal-0.705.0/tools/ and compacts every file it wrote there into
``compact-<name>.compact.journal`` (+ ``.json``, the real reader's manifest).
"""

import ipaddress
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import logfile_journal as lj  # noqa: E402

LAYOUT = "wasmer-6"
RIGHTS = 0x1FFFFFFF
READ, CREATE, TRUNC, CREATE_TRUNC = 0, 1, 8, 9
T0 = 1_700_000_000_000_000_000


def _thread(id_, fill):
    return lj.SetThreadV1(id_, bytes([fill]) * 40, bytes([fill]) * 8, bytes([fill]) * 24,
                          lj.ThreadStartType.main_thread() if id_ == 1
                          else lj.ThreadStartType.thread_spawn(id_),
                          lj.WasiMemoryLayout(0, 1 << 16, 4096, 1 << 16), False)


def _open(fd, path, o_flags, v2=False):
    if v2:
        return lj.OpenFileDescriptorV2(fd, 3, 1, path, o_flags, RIGHTS, RIGHTS, 0, 1)
    return lj.OpenFileDescriptorV1(fd, 3, 1, path, o_flags, RIGHTS, RIGHTS, 0)


def _write(fd, offset, data):
    return lj.FileDescriptorWriteV1(fd, offset, data, False)


def _memory_threads():
    """Memory updates on the same and on other ranges, threads around snapshots."""
    mem = lj.UpdateMemoryRegionV1
    return [
        lj.InitModuleV1(bytes(range(32))),
        lj.TtySetV1(lj.Tty(80, 24, 640, 480, True, True, False, True, True), False),
        mem((0, 16), b"A" * 16), mem((0, 16), b"B" * 16),          # same range: last wins
        mem((0, 8), b"C" * 8),                                     # overlapping: both stay
        mem((0x10000, 0x10000 + 4096), b"page one " * 455 + b"x"),
        _thread(1, 1), _thread(2, 2), _thread(3, 3),
        lj.CloseThreadV1(2, None),                                 # gone before the snapshot
        _thread(1, 11),                                            # thread 1's last, so far
        lj.SnapshotV1(T0 + 1, lj.SnapshotTrigger.Idle),
        mem((0, 16), b"D" * 16),
        _thread(4, 4),                                             # after it: not alive
        lj.TtySetV1(lj.Tty(100, 30, 800, 600, False, True, True, False, True), True),
        lj.SetClockTimeV1(lj.Snapshot0Clockid.Realtime, T0 + 5),
        lj.ChangeDirectoryV1("/home"),
        _thread(3, 33),
        lj.CloseThreadV1(1, lj.ExitCode.other(0)),
        lj.SnapshotV1(T0 + 2, lj.SnapshotTrigger.Explicit),       # alive: 3 (as 33), 4
        _thread(3, 34),                                            # after the last snapshot
        mem((0x10000, 0x10000 + 4096), b"page two " * 455 + b"y"),
        mem((32, 32), b""),
        lj.ChangeDirectoryV1("/tmp"),
        lj.PortAddAddrV1(lj.IpCidr(ipaddress.ip_address("10.0.0.2"), 24)),
        lj.PortGatewaySetV1(ipaddress.ip_address("10.0.0.1")),
        lj.PortRouteClearV1(),
        lj.SnapshotV1(T0 + 3, lj.SnapshotTrigger.Sigint),
        mem((0, 16), b"E" * 16),
    ]


def _files():
    """Files opened, written, closed; create+truncate, unlink, rename; stdio."""
    return [
        lj.InitModuleV1(bytes(8)),
        _write(1, 0, b"hello\n"), _write(1, 0, b"HELLO\n"),        # stdio: last per range
        _write(1, 0, b"hello again\n"), _write(2, 0, b"oops\n"), _write(1, 12, b"more\n"),
        _write(3, 0, b"never opened\n"),                           # fd 3: unknown, dropped
        # read only: opened, seeked, closed -> all of it goes
        _open(5, "etc/config", READ),
        lj.FileDescriptorSeekV1(5, 10, lj.Whence.Set),
        lj.CloseFileDescriptorV1(5),
        # opened without CREATE but then written: kept
        _open(5, "data/log", READ),
        lj.FileDescriptorSeekV1(5, 0, lj.Whence.End),
        _write(5, 0, b"appended"),
        lj.CloseFileDescriptorV1(5),
        # created: kept, with the last write of each range
        _open(6, "out/a.txt", CREATE),
        _write(6, 0, b"first"), _write(6, 0, b"final"), _write(6, 5, b"!"),
        lj.FileDescriptorSetSizeV1(6, 6),
        lj.FileDescriptorSetTimesV1(6, T0, T0, 0xF),
        lj.FileDescriptorAllocateV1(6, 0, 4096),
        lj.FileDescriptorAdviseV1(6, 0, 4096, lj.Advice.Sequential),
        lj.FileDescriptorSetRightsV1(6, RIGHTS, 0),
        lj.FileDescriptorSetFlagsV1(6, 1),
        lj.DuplicateFileDescriptorV1(6, 16),
        lj.CloseFileDescriptorV1(6),
        _write(16, 6, b"via dup"),
        lj.CloseFileDescriptorV1(16),
        # b.txt created and written, then created again with TRUNC: the first goes
        _open(7, "out/b.txt", CREATE),
        _write(7, 0, b"old b"),
        lj.CloseFileDescriptorV1(7),
        _open(7, "out/b.txt", CREATE_TRUNC),
        _write(7, 0, b"new b"),
        lj.CloseFileDescriptorV1(7),
        # c.txt still open when it is truncated by another open: its fd's records go nowhere
        _open(8, "out/c.txt", CREATE),
        _write(8, 0, b"c1"),
        _open(9, "out/c.txt", CREATE_TRUNC, v2=True),
        _write(8, 2, b"c2"),
        lj.CloseFileDescriptorV1(8),
        _write(9, 0, b"c3"),
        lj.FileDescriptorSetFdFlagsV1(9, 1),
        lj.DuplicateFileDescriptorV2(9, 19, True),
        lj.RenumberFileDescriptorV1(19, 20),
        lj.CloseFileDescriptorV1(9),
        lj.CloseFileDescriptorV1(20),
        # tmp.txt written then unlinked: all of it goes, the unlink stays
        _open(10, "out/tmp.txt", CREATE),
        _write(10, 0, b"scratch"),
        lj.CloseFileDescriptorV1(10),
        lj.UnlinkFileV1(3, "out/tmp.txt"),
        lj.UnlinkFileV1(3, "out/tmp.txt"),                          # the last unlink stays
        # rename: the source's history is kept (and a later unlink of it spares it),
        # the target's earlier history goes
        _open(11, "out/d.txt", CREATE), _write(11, 0, b"d"), lj.CloseFileDescriptorV1(11),
        _open(12, "out/e.txt", CREATE), _write(12, 0, b"e"), lj.CloseFileDescriptorV1(12),
        lj.PathRenameV1(3, "out/d.txt", 3, "out/e.txt"),
        lj.UnlinkFileV1(3, "out/d.txt"),
        # renumbered suspect, never written, left open: kept (it is still open)
        _open(13, "etc/hosts", READ, v2=True),
        lj.RenumberFileDescriptorV1(13, 14),
        lj.FileDescriptorSetFlagsV1(14, 0),
        # stdio duplicated and renumbered
        lj.DuplicateFileDescriptorV1(1, 21),
        _write(21, 100, b"to stdout"),
        lj.RenumberFileDescriptorV1(2, 22),
        _write(22, 0, b"to stderr"),
        lj.CloseFileDescriptorV1(0),
        # directories: the first create of a path; removed ones go; unlink cancels
        lj.CreateDirectoryV1(3, "out"), lj.CreateDirectoryV1(3, "out"),
        lj.PathSetTimesV1(3, 0, "out", T0, T0, 0xF),
        lj.CreateDirectoryV1(3, "gone"),
        lj.PathSetTimesV1(3, 0, "gone", T0, T0, 0xF),
        lj.RemoveDirectoryV1(3, "gone"),
        lj.PathSetTimesV1(3, 0, "gone", T0, T0, 0xF),               # removed path: dropped
        lj.RemoveDirectoryV1(3, "gone"),
        lj.PathSetTimesV1(3, 0, "out/e.txt", T0, T0, 0xF),          # any other path: kept
        lj.CreateDirectoryV1(3, "odd"),
        lj.UnlinkFileV1(3, "odd"),
        lj.CreateDirectoryV1(3, "odd"),                              # not again
        lj.CreateHardLinkV1(3, "out/e.txt", 0, 3, "out/f.txt"),
        lj.CreateSymbolicLinkV1("out/e.txt", 3, "out/g.txt"),
        lj.SnapshotV1(T0 + 10, lj.SnapshotTrigger.Idle),
    ]


def _net():
    """Pipes, sockets, events and epoll, opened and closed."""
    local, peer = ("10.0.0.2", 8080), ("10.0.0.3", 5555)
    group = ipaddress.ip_address("224.0.0.1"), ipaddress.ip_address("0.0.0.0")
    return [
        lj.InitModuleV1(bytes(8)),
        # a pipe closed at one end: all of it goes; one left open stays
        lj.CreatePipeV1(5, 6), _write(6, 0, b"through the pipe"),
        lj.CloseFileDescriptorV1(6), lj.CloseFileDescriptorV1(5),
        lj.CreatePipeV1(7, 8), _write(8, 0, b"still open"), _write(8, 0, b"again"),
        lj.DuplicateFileDescriptorV1(7, 27),
        # a listening socket, an accepted one; the accepted one closed
        lj.SocketOpenV1(lj.Addressfamily.Inet4, lj.Socktype.Stream, 6, 10),
        lj.SocketSetOptFlagV1(10, lj.Sockoption.ReuseAddr, True),
        lj.SocketSetOptSizeV1(10, lj.Sockoption.RecvBufSize, 65536),
        lj.SocketSetOptTimeV1(10, lj.SocketOptTimeType.ReadTimeout, 10**9),
        lj.SocketBindV1(10, local), lj.SocketListenV1(10, 128),
        lj.SocketAcceptedV1(10, 11, local, peer, 0, True),
        lj.SocketSendV1(11, b"response", 0, False),
        lj.SocketShutdownV1(11, lj.SocketShutdownHow.Both),
        lj.CloseFileDescriptorV1(11),
        # a UDP socket: multicast, send-to, closed
        lj.SocketOpenV1(lj.Addressfamily.Inet4, lj.Socktype.Dgram, 17, 12),
        lj.SocketJoinIpv4MulticastV1(12, *group),
        lj.SocketSendToV1(12, b"datagram", 0, ("224.0.0.1", 9999), False),
        lj.SocketLeaveIpv4MulticastV1(12, *group),
        lj.CloseFileDescriptorV1(12),
        # a connected socket (accepted_sockets), renumbered (not followed), then closed
        lj.SocketConnectedV1(13, ("10.0.0.2", 40000), ("93.184.216.34", 443)),
        lj.SocketSendV1(13, b"GET /", 0, False),
        lj.RenumberFileDescriptorV1(13, 14),
        lj.SocketSendV1(14, b"lost", 0, False),
        lj.CloseFileDescriptorV1(13),
        # a socket left open, fed by sendfile from a file
        lj.SocketConnectedV1(15, ("10.0.0.2", 40001), ("93.184.216.34", 80)),
        _open(16, "www/index.html", READ),
        lj.SocketSendFileV1(15, 16, 0, 512),
        lj.SocketSendV1(15, b"tail", 0, False),
        # socket pairs: one closed, one open
        lj.SocketPairV1(17, 18), lj.SocketSendV1(17, b"ping", 0, False),
        lj.CloseFileDescriptorV1(18),
        lj.SocketPairV1(19, 20), lj.SocketSendV1(20, b"pong", 0, False),
        # events: one closed, one open
        lj.CreateEventV1(0, 0, 21), _write(21, 0, b"\1\0\0\0\0\0\0\0"),
        lj.CloseFileDescriptorV1(21),
        lj.CreateEventV1(1, 1, 22), lj.DuplicateFileDescriptorV1(22, 23),
        # epoll: its ctl on an open socket, on a closed fd; one closed, one open
        lj.EpollCreateV1(24),
        lj.EpollCtlV1(24, lj.EpollCtl.Add, 15, lj.EpollEventCtl(1, 2, 15, 3, 4)),
        lj.EpollCtlV1(24, lj.EpollCtl.Add, 11, lj.EpollEventCtl(1, 2, 11, 3, 4)),
        lj.EpollCreateV1(25),
        lj.CloseFileDescriptorV1(25),
        lj.EpollCtlV1(16, lj.EpollCtl.Mod, 15, lj.EpollEventCtl(1, 2, 15, 3, 4)),
        lj.PortBridgeV1("net", "token", lj.StreamSecurity.Unencrypted),
        lj.PortDhcpAcquireV1(), lj.PortUnbridgeV1(), lj.PortAddrClearV1(),
        lj.SnapshotV1(T0 + 20, lj.SnapshotTrigger.FirstListen),
    ]


def _exit():
    """Runs ended by ProcessExitV1 / ClearEtherealV1 and begun by InitModuleV1."""
    mem = lj.UpdateMemoryRegionV1

    def run(n):
        return [
            lj.InitModuleV1(bytes([n]) * 8),
            lj.TtySetV1(lj.Tty(80 + n, 24, 0, 0, True, True, True, True, True), False),
            lj.ChangeDirectoryV1("/run%d" % n),
            mem((0, 4), b"run%d" % n), mem((4, 8), b"mem%d" % n),
            _thread(1, n), _thread(2, n),
            lj.SnapshotV1(T0 + 100 * n, lj.SnapshotTrigger.Idle),
            _write(1, 0, b"stdout of run %d\n" % n),
            lj.CreatePipeV1(30 + n, 40 + n),
            lj.SocketOpenV1(lj.Addressfamily.Inet6, lj.Socktype.Stream, 6, 50 + n),
            _open(60 + n, "etc/run%d" % n, READ),                  # suspect, left open
            _open(70 + n, "var/run%d.log" % n, CREATE),            # kept, left open
            _write(70 + n, 0, b"log of run %d" % n),
            lj.CreateDirectoryV1(3, "var/run%d" % n),
            lj.EpollCreateV1(80 + n),
            lj.CreateEventV1(0, 0, 90 + n),
        ]
    return (run(1) + [lj.ProcessExitV1(lj.ExitCode.other(1))]
            + run(2) + [lj.ClearEtherealV1(), mem((0, 4), b"late"), _thread(3, 3),
                        lj.SnapshotV1(T0 + 250, lj.SnapshotTrigger.Idle),
                        _write(2, 0, b"after clear\n"),
                        lj.ProcessExitV1(lj.ExitCode.other(2))]
            + run(3) + [lj.ProcessExitV1(None), lj.InitModuleV1(bytes(32)),
                        mem((0, 4), b"last")])


class _SplitMix64:
    """A fixed-seed generator whose numbers no Python release changes."""

    def __init__(self, seed):
        self.state = seed

    def below(self, n):
        self.state = (self.state + 0x9E3779B97F4A7C15) & (1 << 64) - 1
        z = self.state
        z = (z ^ z >> 30) * 0xBF58476D1CE4E5B9 & (1 << 64) - 1
        z = (z ^ z >> 27) * 0x94D049BB133111EB & (1 << 64) - 1
        return (z ^ z >> 31) % n

    def choice(self, items):
        return items[self.below(len(items))]


def _random(count=600, seed=2026):
    """Records of every kind the compactor tracks, on few fds and paths, so
    that they meet: opens over open fds, closes of dups, renumbers onto
    pipes, renames onto created directories... (exits are rare, and only in
    the first half, so that the second half's records meet for long)."""
    rnd = _SplitMix64(seed)
    paths = ["a", "b", "c", "d", "d/e"]
    peer = ("10.0.0.1", 1), ("10.0.0.2", 2)
    kinds = [
        lambda fd, other, p, q: lj.UpdateMemoryRegionV1(
            (8 * rnd.below(3), 8 * rnd.below(3) + 8), bytes([rnd.below(256)]) * 8),
        lambda fd, other, p, q: _thread(1 + rnd.below(3), rnd.below(256)),
        lambda fd, other, p, q: lj.CloseThreadV1(1 + rnd.below(3), None),
        lambda fd, other, p, q: lj.SnapshotV1(T0 + rnd.below(1000), lj.SnapshotTrigger.Idle),
        lambda fd, other, p, q: _open(fd, p, rnd.choice([READ, CREATE, TRUNC, CREATE_TRUNC]),
                                      v2=rnd.below(3) == 0),
        lambda fd, other, p, q: _write(fd, rnd.below(3), b"xy"[:1 + rnd.below(2)]),
        lambda fd, other, p, q: lj.FileDescriptorSetSizeV1(fd, 3),
        lambda fd, other, p, q: lj.FileDescriptorSeekV1(fd, 1, lj.Whence.Set),
        lambda fd, other, p, q: lj.FileDescriptorSetFlagsV1(fd, 1),
        lambda fd, other, p, q: lj.FileDescriptorSetFdFlagsV1(fd, 1),
        lambda fd, other, p, q: lj.CloseFileDescriptorV1(fd),
        lambda fd, other, p, q: lj.CloseFileDescriptorV1(fd),
        lambda fd, other, p, q: lj.DuplicateFileDescriptorV1(fd, other),
        lambda fd, other, p, q: lj.DuplicateFileDescriptorV2(fd, other, True),
        lambda fd, other, p, q: lj.RenumberFileDescriptorV1(fd, other),
        lambda fd, other, p, q: lj.CreateDirectoryV1(3, p),
        lambda fd, other, p, q: lj.RemoveDirectoryV1(3, p),
        lambda fd, other, p, q: lj.UnlinkFileV1(3, p),
        lambda fd, other, p, q: lj.PathRenameV1(3, p, 3, q),
        lambda fd, other, p, q: lj.PathSetTimesV1(3, 0, p, T0, T0, 1),
        lambda fd, other, p, q: lj.CreatePipeV1(fd, other),
        lambda fd, other, p, q: lj.SocketOpenV1(lj.Addressfamily.Inet4, lj.Socktype.Stream,
                                                6, fd),
        lambda fd, other, p, q: lj.SocketConnectedV1(fd, *peer),
        lambda fd, other, p, q: lj.SocketAcceptedV1(other, fd, *peer, 0, False),
        lambda fd, other, p, q: lj.SocketPairV1(fd, other),
        lambda fd, other, p, q: lj.SocketSendV1(fd, b"s", 0, False),
        lambda fd, other, p, q: lj.CreateEventV1(0, 0, fd),
        lambda fd, other, p, q: lj.EpollCreateV1(fd),
        lambda fd, other, p, q: lj.EpollCtlV1(fd, lj.EpollCtl.Add, other,
                                              lj.EpollEventCtl(1, 2, other, 3, 4)),
        lambda fd, other, p, q: lj.TtySetV1(
            lj.Tty(80, 24, 0, 0, True, True, True, True, True), False),
        lambda fd, other, p, q: lj.ChangeDirectoryV1(p),
        lambda fd, other, p, q: lj.ProcessExitV1(None),
        lambda fd, other, p, q: lj.InitModuleV1(bytes(8)),
        lambda fd, other, p, q: lj.ClearEtherealV1(),
    ]
    entries = []
    while len(entries) < count:
        kind = rnd.below(len(kinds))
        if kind >= len(kinds) - 3 and (rnd.below(20) or len(entries) > count // 2):
            continue                           # exits, inits, clears: rare, and early
        entries.append(kinds[kind](rnd.below(12), rnd.below(12), rnd.choice(paths),
                                   rnd.choice(paths)))
    return entries


SCENARIOS = {"memory-threads": (_memory_threads, 1), "files": (_files, 1),
             "net": (_net, 1), "exit": (_exit, 3), "random": (_random, 2)}


def _journal(entries, sessions):
    """The bytes of a journal of ``entries`` written in ``sessions`` sessions."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "j")
        chunk = -(-len(entries) // sessions)
        for start in range(0, len(entries), chunk):
            with lj.LogFileJournal(path, layout=LAYOUT, sync="never") as journal:
                journal.write_many(entries[start:start + chunk])
        with open(path, "rb") as file:
            return file.read()


def build():
    """{file name: bytes} of every scenario journal."""
    return {"compact-%s.journal" % name: _journal(make(), sessions)
            for name, (make, sessions) in SCENARIOS.items()}


def main(argv):
    if len(argv) != 1:
        sys.exit("usage: compact_scenarios.py DIR")
    for name, data in build().items():
        with open(os.path.join(argv[0], name), "wb") as file:
            file.write(data)


if __name__ == "__main__":
    main(sys.argv[1:])
