"""Journals this library writes, to be judged by the real wasmer-journal readers.

``build(layout)`` returns {file name: bytes} for one layout, deterministically:
the test suite rebuilds them and compares with what the oracle judged.

Regenerate the verdicts (needs the oracle binaries, see wasmer-oracle/README.md):

    python3 tools/judged_journals.py          # writes testdata/judged/ and runs the oracles

The verdict of each file is ``testdata/judged/<layout>/<file>.<version>.json``: the
output of ``oracle read`` (every record validated by rkyv and read by the real
LogFileJournal, with its serde JSON).
"""

import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import logfile_journal as lj  # noqa: E402

#: Which pinned crate judges which layout (wasmer-5 files are read by the newest
#: reader: rkyv 0.8, and every record type they hold is still there).
JUDGES = {"wasmer-4.3": ("0.5.0", "0.10.0"), "wasmer-5": ("0.705.0",),
          "wasmer-6": ("0.705.0",)}
#: Verdicts that must refuse: another era's reader on a layout's values.journal.
CROSS = {"wasmer-4.3": ("0.705.0",), "wasmer-6": ("0.10.0",)}
OUT = os.path.join(ROOT, "testdata", "judged")


def _enum_values(layout):
    """One entry per value of every enum field the layout holds."""
    L = lj.get_layout(layout)
    entries = []
    for clock in lj.Snapshot0Clockid:
        entries.append(lj.SetClockTimeV1(clock, 1_700_000_000_000_000_000 + clock))
    for whence in lj.Whence:
        entries.append(lj.FileDescriptorSeekV1(3, -5 + whence, whence))
    for advice in lj.Advice:
        entries.append(lj.FileDescriptorAdviseV1(4, 10, 4096, advice))
    for trigger in lj.SnapshotTrigger:
        if trigger in L.triggers:
            entries.append(lj.SnapshotV1(1_700_000_000_123_456_789 + trigger, trigger))
    for op in lj.EpollCtl:
        entries.append(lj.EpollCtlV1(5, op, 6, lj.EpollEventCtl(1, 2, 6, 3, 4)
                                     if op != lj.EpollCtl.Del else None))
    for security in lj.StreamSecurity:
        entries.append(lj.PortBridgeV1("net\u00e9", "t\u00f6ken", security))
    for family in lj.Addressfamily:
        for socktype in lj.Socktype:
            entries.append(lj.SocketOpenV1(family, socktype, 6, 7))
    for option in lj.Sockoption:
        entries.append(lj.SocketSetOptFlagV1(8, option, option % 2 == 0))
        entries.append(lj.SocketSetOptSizeV1(8, option, 1 << option))
    for ty in lj.SocketOptTimeType:
        entries.append(lj.SocketSetOptTimeV1(8, ty, None if ty == 0 else ty * 10**9 + 7))
    for how in lj.SocketShutdownHow:
        entries.append(lj.SocketShutdownV1(8, how))
    for code in (None, lj.ExitCode.errno(44), lj.ExitCode.other(0), lj.ExitCode.other(3),
                 lj.ExitCode.other(255)):
        entries.append(lj.ProcessExitV1(code))
        entries.append(lj.CloseThreadV1(2, code))
    return entries


def _values(layout):
    """Every record type the layout holds, with values wasmer's own reader keeps."""
    L = lj.get_layout(layout)
    rnd = random.Random(layout)
    data = bytes(rnd.getrandbits(8) for _ in range(300))
    entries = [
        lj.InitModuleV1(bytes(range(1, 9))),
        lj.InitModuleV1(bytes(range(32))),
        lj.ClearEtherealV1(),
        lj.UpdateMemoryRegionV1((0x10000, 0x10000 + 4096), (b"journal " * 512)),
        lj.UpdateMemoryRegionV1((0, 300), data),
        lj.UpdateMemoryRegionV1((7, 7), b""),
        lj.SetThreadV1(1, data[:116], data[:16], data[:136], lj.ThreadStartType.main_thread(),
                       lj.WasiMemoryLayout(0, 1024, 16, 1024), False),
        lj.SetThreadV1(2, b"", b"\x01", data, lj.ThreadStartType.thread_spawn(0xDEADBEEF),
                       lj.WasiMemoryLayout(1 << 20, 1 << 16, 4096, 983040), True),
        lj.FileDescriptorWriteV1(1, 0, b"hello\n", False),
        lj.OpenFileDescriptorV1(5, 3, 1, "/home/\u00e9l\u00e8ve/\u6587\u4ef6.txt", 9,
                                0x1FFFFFFF, 0x1FFFFFFF, 1),
        lj.CloseFileDescriptorV1(5),
        lj.RenumberFileDescriptorV1(5, 6),
        lj.DuplicateFileDescriptorV1(1, 10),
        lj.CreateDirectoryV1(3, "dir"),
        lj.RemoveDirectoryV1(3, "dir"),
        lj.PathSetTimesV1(3, 1, "file", 10**18, 2 * 10**18, 0xF),
        lj.FileDescriptorSetTimesV1(5, 10**18, 2 * 10**18, 0x5),
        lj.FileDescriptorSetSizeV1(5, 1 << 40),
        lj.FileDescriptorSetFlagsV1(5, 0x1F),
        lj.FileDescriptorSetRightsV1(5, (1 << 39) - 1, 0),
        lj.FileDescriptorAllocateV1(5, 0, 1 << 20),
        lj.CreateHardLinkV1(3, "a", 0, 3, "b"),
        lj.CreateSymbolicLinkV1("target", 3, "link"),
        lj.UnlinkFileV1(3, "link"),
        lj.PathRenameV1(3, "a", 3, "c"),
        lj.ChangeDirectoryV1("/tmp"),
        lj.EpollCreateV1(9),
        lj.TtySetV1(lj.Tty(80, 24, 640, 480, True, True, False, True, True), False),
        lj.CreatePipeV1(11, 12),
        lj.CreateEventV1(0, 1, 13),
        lj.PortAddAddrV1(lj.IpCidr(lj.ipaddress.ip_address("10.0.0.2"), 24)),
        lj.PortDelAddrV1(lj.ipaddress.ip_address("fe80::1")),
        lj.PortAddrClearV1(),
        lj.PortUnbridgeV1(),
        lj.PortDhcpAcquireV1(),
        lj.PortGatewaySetV1(lj.ipaddress.ip_address("10.0.0.1")),
        lj.PortRouteAddV1(lj.IpCidr(lj.ipaddress.ip_address("::"), 0),
                          lj.ipaddress.ip_address("::1"), 10**9, None),
        lj.PortRouteClearV1(),
        lj.PortRouteDelV1(lj.ipaddress.ip_address("192.168.1.0")),
        lj.SocketListenV1(14, 128),
        lj.SocketBindV1(14, ("0.0.0.0", 8080)),
        lj.SocketConnectedV1(15, ("127.0.0.1", 40000), ("fe80::1", 443, 0, 7)),
        lj.SocketAcceptedV1(14, 16, ("10.0.0.2", 8080), ("10.0.0.3", 5555), 4, True),
        lj.SocketJoinIpv4MulticastV1(15, lj.ipaddress.ip_address("224.0.0.1"),
                                     lj.ipaddress.ip_address("0.0.0.0")),
        lj.SocketJoinIpv6MulticastV1(15, lj.ipaddress.ip_address("ff02::1"), 2),
        lj.SocketLeaveIpv4MulticastV1(15, lj.ipaddress.ip_address("224.0.0.1"),
                                      lj.ipaddress.ip_address("0.0.0.0")),
        lj.SocketLeaveIpv6MulticastV1(15, lj.ipaddress.ip_address("ff02::1"), 2),
        lj.SocketSendFileV1(15, 5, 0, 4096),
        lj.SocketSendToV1(17, b"datagram", 0, ("::1", 53, 0, 0), True),
        lj.SocketSendV1(15, data[:27], 2, True),
    ]
    if 64 in L.record_types:
        entries += [
            lj.OpenFileDescriptorV2(7, 3, 1, "/tmp/\u00e9t\u00e9", 9, 0x1FFFFFFF, 0, 4, 1),
            lj.DuplicateFileDescriptorV2(1, 10, True),
            lj.FileDescriptorSetFdFlagsV1(7, 1),
            lj.SocketPairV1(18, 19),
        ]
    return entries + _enum_values(layout)


def _phases(layout):
    """Byte vectors of every length 0..300 at both 16-byte phases."""
    entries = []
    pad = lj.PortAddrClearV1()                   # a header alone: 8 bytes flip the phase
    position = 8
    for length in range(301):
        data = bytes((length + i) & 0xFF for i in range(length))
        for phase in (0, 8):
            if (position + 8) % 16 != phase:
                entries.append(pad)
                position += 8
            entry = lj.FileDescriptorWriteV1(1, length, data, length % 2 == 0)
            entries.append(entry)
            position += len(lj.encode_record(entry, position, layout))
    for length in (0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255, 256, 300):
        text = ("d\u00e9j\u00e0" * 100).encode()[:length].decode("utf-8", "ignore")
        entries += [lj.ChangeDirectoryV1(text), pad, lj.ChangeDirectoryV1(text),
                    lj.UpdateMemoryRegionV1((0, length), bytes(length)),
                    lj.SocketSendV1(1, b"x" * length, 0, False)]
    return entries


def _journal(layout, entries, sessions=1):
    """The bytes of a journal holding ``entries``, written in ``sessions``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "j")
        chunk = -(-len(entries) // sessions)
        for start in range(0, len(entries), chunk):
            with lj.LogFileJournal(path, layout=layout, sync="never") as journal:
                for entry in entries[start:start + chunk]:
                    journal.write(entry)
        with open(path, "rb") as file:
            return file.read()


def build(layout):
    """{file name: bytes} of the journals judged for ``layout``."""
    return {
        "values.journal": _journal(layout, _values(layout)),
        "phases.journal": _journal(layout, _phases(layout)),
        "reopen.journal": _journal(layout, _values(layout)[:12], sessions=3),
    }


def main():
    target = os.environ.get("CARGO_TARGET_DIR",
                            os.path.join(HERE, "wasmer-oracle", "target"))
    for layout, versions in JUDGES.items():
        folder = os.path.join(OUT, layout)
        os.makedirs(folder, exist_ok=True)
        for name, data in build(layout).items():
            path = os.path.join(folder, name)
            with open(path, "wb") as file:
                file.write(data)
            for version in versions + (CROSS.get(layout, ()) if name == "values.journal"
                                       else ()):
                binary = os.path.join(target, "release",
                                      "wasmer-oracle-" + version.replace(".", "_"))
                verdict = "%s.%s.json" % (path, version)
                subprocess.run([binary, "read", "-o", verdict, path], check=True)
                print("judged", os.path.relpath(path, ROOT), "with", version)


if __name__ == "__main__":
    main()
