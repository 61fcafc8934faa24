//! The oracle for wasmer-journal 0.705.0 (rkyv 0.8). Same structure as ../../common_07.rs
//! (the rkyv 0.7 releases); differences: rkyv 0.8 API, record types 61..=64,
//! CreatePipeV1 { read_fd, write_fd }, ExitCode(u16), SnapshotTrigger::Explicit,
//! WasiMemoryLayout::tls_base, StreamSecurity::AnyEncryption.

#[path = "../../shared.rs"]
mod shared;
#[path = "../../journal_tools.rs"]
mod journal_tools;

use crate::shared::{pattern, utf8_of_len, Codec, Decoded, Meta, SplitMix64};
use serde_json::{json, Value};
use std::borrow::Cow;
use std::fs::File;
use std::mem::{align_of, size_of};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use virtual_net::{IpCidr, StreamSecurity};
use wasmer_journal::*;
use wasmer_wasix_types::wasi;
use wasmer_wasix_types::wasix::{ThreadStartType, WasiMemoryLayout};

type E = JournalEntry<'static>;

// ------------------------------------------------------------------------------------------------
// Codec: validation + the crate's reader
// ------------------------------------------------------------------------------------------------

pub struct Codec08;

fn decoded(e: &JournalEntry<'_>) -> Decoded {
    Decoded {
        json: serde_json::to_value(e).expect("serde_json::to_value"),
        json_text: serde_json::to_string(e).expect("serde_json::to_string"),
        display: format!("{e}"),
    }
}

impl Codec for Codec08 {
    fn record_type_name(&self, t: u16) -> Option<String> {
        JournalEntryRecordType::try_from(t).ok().map(|r| format!("{r:?}"))
    }

    fn validate(&self, t: u16, body: &[u8]) -> Result<(), String> {
        use JournalEntryRecordType as R;
        let rt = R::try_from(t).map_err(|e| e.to_string())?;
        macro_rules! chk {
            ($ty:ty) => {
                rkyv::access::<rkyv::Archived<$ty>, rkyv::rancor::BoxedError>(body).map(|_| ()).map_err(|e| format!("{e}"))
            };
        }
        match rt {
            R::InitModuleV1 => chk!(JournalEntryInitModuleV1),
            R::ClearEtherealV1 => chk!(JournalEntryClearEtherealV1),
            R::ProcessExitV1 => chk!(JournalEntryProcessExitV1),
            R::SetThreadV1 => chk!(JournalEntrySetThreadV1<'static>),
            R::CloseThreadV1 => chk!(JournalEntryCloseThreadV1),
            R::FileDescriptorSeekV1 => chk!(JournalEntryFileDescriptorSeekV1),
            R::FileDescriptorWriteV1 => chk!(JournalEntryFileDescriptorWriteV1<'static>),
            R::UpdateMemoryRegionV1 => chk!(JournalEntryUpdateMemoryRegionV1<'static>),
            R::SetClockTimeV1 => chk!(JournalEntrySetClockTimeV1),
            R::OpenFileDescriptorV1 => chk!(JournalEntryOpenFileDescriptorV1<'static>),
            R::OpenFileDescriptorV2 => chk!(JournalEntryOpenFileDescriptorV2<'static>),
            R::CloseFileDescriptorV1 => chk!(JournalEntryCloseFileDescriptorV1),
            R::RenumberFileDescriptorV1 => chk!(JournalEntryRenumberFileDescriptorV1),
            R::DuplicateFileDescriptorV1 => chk!(JournalEntryDuplicateFileDescriptorV1),
            R::DuplicateFileDescriptorV2 => chk!(JournalEntryDuplicateFileDescriptorV2),
            R::CreateDirectoryV1 => chk!(JournalEntryCreateDirectoryV1<'static>),
            R::RemoveDirectoryV1 => chk!(JournalEntryRemoveDirectoryV1<'static>),
            R::PathSetTimesV1 => chk!(JournalEntryPathSetTimesV1<'static>),
            R::FileDescriptorSetTimesV1 => chk!(JournalEntryFileDescriptorSetTimesV1),
            R::FileDescriptorSetSizeV1 => chk!(JournalEntryFileDescriptorSetSizeV1),
            R::FileDescriptorSetFdFlagsV1 => chk!(JournalEntryFileDescriptorSetFdFlagsV1),
            R::FileDescriptorSetFlagsV1 => chk!(JournalEntryFileDescriptorSetFlagsV1),
            R::FileDescriptorSetRightsV1 => chk!(JournalEntryFileDescriptorSetRightsV1),
            R::FileDescriptorAdviseV1 => chk!(JournalEntryFileDescriptorAdviseV1),
            R::FileDescriptorAllocateV1 => chk!(JournalEntryFileDescriptorAllocateV1),
            R::CreateHardLinkV1 => chk!(JournalEntryCreateHardLinkV1<'static>),
            R::CreateSymbolicLinkV1 => chk!(JournalEntryCreateSymbolicLinkV1<'static>),
            R::UnlinkFileV1 => chk!(JournalEntryUnlinkFileV1<'static>),
            R::PathRenameV1 => chk!(JournalEntryPathRenameV1<'static>),
            R::ChangeDirectoryV1 => chk!(JournalEntryChangeDirectoryV1<'static>),
            R::EpollCreateV1 => chk!(JournalEntryEpollCreateV1),
            R::EpollCtlV1 => chk!(JournalEntryEpollCtlV1),
            R::TtySetV1 => chk!(JournalEntryTtySetV1),
            R::CreatePipeV1 => chk!(JournalEntryCreatePipeV1),
            R::CreateEventV1 => chk!(JournalEntryCreateEventV1),
            R::PortAddAddrV1 => chk!(JournalEntryPortAddAddrV1),
            R::PortDelAddrV1 => chk!(JournalEntryPortDelAddrV1),
            // serialize_archive writes `serialize_using(&(), serializer)` for these four and
            // deserialize_archive never looks at the body.
            R::PortAddrClearV1 | R::PortUnbridgeV1 | R::PortDhcpAcquireV1 | R::PortRouteClearV1 => chk!(()),
            R::PortBridgeV1 => chk!(JournalEntryPortBridgeV1<'static>),
            R::PortGatewaySetV1 => chk!(JournalEntryPortGatewaySetV1),
            R::PortRouteAddV1 => chk!(JournalEntryPortRouteAddV1),
            R::PortRouteDelV1 => chk!(JournalEntryPortRouteDelV1),
            R::SocketOpenV1 => chk!(JournalEntrySocketOpenV1),
            R::SocketPairV1 => chk!(JournalEntrySocketPairV1),
            R::SocketListenV1 => chk!(JournalEntrySocketListenV1),
            R::SocketBindV1 => chk!(JournalEntrySocketBindV1),
            R::SocketConnectedV1 => chk!(JournalEntrySocketConnectedV1),
            R::SocketAcceptedV1 => chk!(JournalEntrySocketAcceptedV1),
            R::SocketJoinIpv4MulticastV1 => chk!(JournalEntrySocketJoinIpv4MulticastV1),
            R::SocketJoinIpv6MulticastV1 => chk!(JournalEntrySocketJoinIpv6MulticastV1),
            R::SocketLeaveIpv4MulticastV1 => chk!(JournalEntrySocketLeaveIpv4MulticastV1),
            R::SocketLeaveIpv6MulticastV1 => chk!(JournalEntrySocketLeaveIpv6MulticastV1),
            R::SocketSendFileV1 => chk!(JournalEntrySocketSendFileV1),
            R::SocketSendToV1 => chk!(JournalEntrySocketSendToV1<'static>),
            R::SocketSendV1 => chk!(JournalEntrySocketSendV1<'static>),
            R::SocketSetOptFlagV1 => chk!(JournalEntrySocketSetOptFlagV1),
            R::SocketSetOptSizeV1 => chk!(JournalEntrySocketSetOptSizeV1),
            R::SocketSetOptTimeV1 => chk!(JournalEntrySocketSetOptTimeV1),
            R::SocketShutdownV1 => chk!(JournalEntrySocketShutdownV1),
            R::SnapshotV1 => chk!(JournalEntrySnapshotV1),
        }
    }

    fn decode(&self, t: u16, body: &[u8]) -> Result<Decoded, String> {
        let rt = JournalEntryRecordType::try_from(t).map_err(|e| e.to_string())?;
        // SAFETY: only called on bodies that passed `validate` for this record type.
        let e = unsafe { rt.deserialize_archive(body) }.map_err(|e| format!("{e}"))?;
        Ok(decoded(&e))
    }

    fn real_read(&self, path: &Path, n: usize, expect_end: bool) -> Result<Vec<(u64, u64, Decoded)>, String> {
        let j = LogFileJournal::new_readonly(path).map_err(|e| format!("{e}"))?;
        let mut out = Vec::new();
        for i in 0..n {
            let r = j.read().map_err(|e| format!("{e}"))?.ok_or_else(|| format!("read() returned None at record {i}"))?;
            out.push((r.record_start, r.record_end, decoded(&r.record)));
        }
        if expect_end {
            if let Some(r) = j.read().map_err(|e| format!("{e}"))? {
                return Err(format!("read() returned an extra record at {}", r.record_start));
            }
        }
        Ok(out)
    }
}

// ------------------------------------------------------------------------------------------------
// writing through the real LogFileJournal
// ------------------------------------------------------------------------------------------------

/// One session of `LogFileJournal::new(path)`; checks the offsets `write` reports.
struct Session {
    j: LogFileJournal,
    /// offset of the next header
    end: u64,
}

impl Session {
    fn open(path: &Path) -> Session {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let j = LogFileJournal::new(path).expect("LogFileJournal::new");
        Session { j, end: if size == 0 { 8 } else { size } }
    }
    fn from_file(path: &Path) -> Session {
        let f = File::options().read(true).write(true).create(true).truncate(false).open(path).unwrap();
        let size = f.metadata().unwrap().len();
        let j = LogFileJournal::from_file(f).expect("LogFileJournal::from_file");
        Session { j, end: if size == 0 { 8 } else { size } }
    }
    fn write(&mut self, e: E) -> LogWriteResult {
        let r = self.j.write(e).expect("write");
        assert_eq!(r.record_start, self.end + 8, "record_start");
        self.end = r.record_end;
        r
    }
    /// Writes `e` so that its body starts at `record_start % 16 == phase`, inserting a
    /// header-only PortAddrClearV1 (8 bytes) first when needed. (A CreatePipeV1 is 8+8 = 16
    /// bytes and would not change the phase.)
    fn write_at(&mut self, phase: u64, e: E) -> LogWriteResult {
        if (self.end + 8) % 16 != phase {
            self.write(JournalEntry::PortAddrClearV1);
        }
        let r = self.write(e);
        assert_eq!(r.record_start % 16, phase);
        r
    }
    fn close(self) {
        self.j.flush().unwrap();
        drop(self.j);
    }
}

fn fresh(path: &Path) {
    let _ = std::fs::remove_file(path);
}

// ------------------------------------------------------------------------------------------------
// values
// ------------------------------------------------------------------------------------------------

fn t(secs: u64, nanos: u32) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::new(secs, nanos)
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> Ipv4Addr {
    Ipv4Addr::new(a, b, c, d)
}

fn ipv6s() -> Vec<Ipv6Addr> {
    vec![
        Ipv6Addr::UNSPECIFIED,
        Ipv6Addr::LOCALHOST,
        "2001:db8:85a3::8a2e:370:7334".parse().unwrap(),
        Ipv6Addr::new(0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff),
        "::ffff:192.0.2.128".parse().unwrap(),
        "fe80::1".parse().unwrap(),
    ]
}

fn ipv4s() -> Vec<Ipv4Addr> {
    vec![v4(0, 0, 0, 0), v4(127, 0, 0, 1), v4(192, 168, 1, 254), v4(255, 255, 255, 255), v4(224, 0, 0, 251)]
}

fn sockaddrs() -> Vec<SocketAddr> {
    vec![
        SocketAddr::V4(SocketAddrV4::new(v4(127, 0, 0, 1), 8080)),
        SocketAddr::V4(SocketAddrV4::new(v4(0, 0, 0, 0), 0)),
        SocketAddr::V4(SocketAddrV4::new(v4(255, 255, 255, 255), 65535)),
        SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::LOCALHOST, 443, 0, 0)),
        SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 1234, 0x12345, 7)),
        SocketAddr::V6(SocketAddrV6::new(
            Ipv6Addr::new(0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff),
            65535,
            u32::MAX,
            u32::MAX,
        )),
    ]
}

fn errnos() -> Vec<wasi::Errno> {
    use wasi::Errno::*;
    vec![Success, Toobig, Access, Badf, Inval, Noent, Notcapable, Shutdown, Memviolation, Unknown]
}

/// ExitCode is `struct ExitCode(u16)` in this version: `From<Errno>` and `From<i32>` take the
/// value modulo 256, `From<u16>` keeps it; serialize_archive always stores
/// `JournalExitCodeV1::Other(raw as i32)`.
fn exit_codes() -> Vec<Option<wasi::ExitCode>> {
    let mut v = vec![None];
    for e in errnos() {
        v.push(Some(wasi::ExitCode::from(e)));
    }
    for o in [0i32, 1, -1, 255, 256, i32::MIN, i32::MAX] {
        v.push(Some(wasi::ExitCode::from(o)));
    }
    for o in [0u16, 300, u16::MAX] {
        v.push(Some(wasi::ExitCode::from(o)));
    }
    v
}

fn durations() -> Vec<Option<Duration>> {
    vec![
        None,
        Some(Duration::ZERO),
        Some(Duration::new(1, 500_000_000)),
        Some(Duration::new(86_400, 1)),
        Some(Duration::new(u64::MAX, 999_999_999)),
    ]
}

fn layout(a: u64, b: u64, c: u64, d: u64) -> WasiMemoryLayout {
    WasiMemoryLayout { stack_upper: a, stack_lower: b, guard_size: c, stack_size: d, tls_base: None }
}

fn tty(cols: u32, rows: u32, flags: [bool; 5]) -> wasi::Tty {
    wasi::Tty {
        cols,
        rows,
        width: cols * 8,
        height: rows * 16,
        stdin_tty: flags[0],
        stdout_tty: flags[1],
        stderr_tty: flags[2],
        echo: flags[3],
        line_buffered: flags[4],
    }
}

fn cow_bytes(v: Vec<u8>) -> Cow<'static, [u8]> {
    Cow::Owned(v)
}

fn cow_str(s: &str) -> Cow<'static, str> {
    Cow::Owned(s.to_string())
}

fn mem_region(start: u64, raw: &[u8]) -> E {
    JournalEntry::UpdateMemoryRegionV1 {
        region: start..start + raw.len() as u64,
        compressed_data: cow_bytes(lz4_flex::block::compress_prepend_size(raw)),
    }
}

fn set_thread(id: u32, cs: Vec<u8>, ms: Vec<u8>, sd: Vec<u8>, start: ThreadStartType, l: WasiMemoryLayout, is_64bit: bool) -> E {
    JournalEntry::SetThreadV1 {
        id,
        call_stack: cow_bytes(cs),
        memory_stack: cow_bytes(ms),
        store_data: cow_bytes(sd),
        start,
        layout: l,
        is_64bit,
    }
}

/// One entry of every variant, in record-type order, then extra entries so that every enum
/// value and the edge values appear.
fn variants_entries() -> Vec<E> {
    use JournalEntry as J;
    let mut rng = SplitMix64(0x5eed_0001);
    let mut v: Vec<E> = Vec::new();
    let p = |s: &str| cow_str(s);

    // --- one of each, record type order 1..=60 ---
    v.push(J::InitModuleV1 { wasm_hash: vec![0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04].into_boxed_slice() });
    v.push(J::ProcessExitV1 { exit_code: Some(wasi::ExitCode::from(wasi::Errno::Success)) });
    v.push(set_thread(1, pattern(2, 116, 1), pattern(1, 16, 2), pattern(3, 136, 3), ThreadStartType::MainThread, layout(0, 1024, 16, 1024), false));
    v.push(J::CloseThreadV1 { id: 1, exit_code: Some(wasi::ExitCode::from(7i32)) });
    v.push(J::FileDescriptorSeekV1 { fd: 3, offset: -1, whence: wasi::Whence::Cur });
    v.push(J::FileDescriptorWriteV1 { fd: 1, offset: 0, data: cow_bytes(b"hello journal\n".to_vec()), is_64bit: false });
    v.push(mem_region(0x10000, &pattern(4, 4096, 7)));
    v.push(J::SetClockTimeV1 { clock_id: wasi::Snapshot0Clockid::Realtime, time: 1_700_000_000_123_456_789 });
    v.push(J::OpenFileDescriptorV1 {
        fd: 5,
        dirfd: 3,
        dirflags: 1,
        path: p("/home/user/données/日本/😀.txt"),
        o_flags: wasi::Oflags::CREATE | wasi::Oflags::TRUNC,
        fs_rights_base: wasi::Rights::all(),
        fs_rights_inheriting: wasi::Rights::empty(),
        fs_flags: wasi::Fdflags::APPEND | wasi::Fdflags::NONBLOCK,
    });
    v.push(J::CloseFileDescriptorV1 { fd: 5 });
    v.push(J::RenumberFileDescriptorV1 { old_fd: 6, new_fd: 7 });
    v.push(J::DuplicateFileDescriptorV1 { original_fd: 7, copied_fd: 8 });
    v.push(J::CreateDirectoryV1 { fd: 3, path: p("tmp/nouveau répertoire") });
    v.push(J::RemoveDirectoryV1 { fd: 3, path: p("tmp/€uro") });
    v.push(J::PathSetTimesV1 {
        fd: 3,
        flags: 1,
        path: p("a/b/c"),
        st_atim: 1,
        st_mtim: u64::MAX,
        fst_flags: wasi::Fstflags::SET_ATIM | wasi::Fstflags::SET_MTIM_NOW,
    });
    v.push(J::FileDescriptorSetTimesV1 { fd: 4, st_atim: 0, st_mtim: 1_600_000_000_000_000_000, fst_flags: wasi::Fstflags::all() });
    v.push(J::FileDescriptorSetSizeV1 { fd: 4, st_size: 1 << 40 });
    v.push(J::FileDescriptorSetFlagsV1 { fd: 4, flags: wasi::Fdflags::all() });
    v.push(J::FileDescriptorSetRightsV1 { fd: 4, fs_rights_base: wasi::Rights::all(), fs_rights_inheriting: wasi::Rights::FD_READ | wasi::Rights::FD_WRITE });
    v.push(J::FileDescriptorAdviseV1 { fd: 4, offset: 0, len: 4096, advice: wasi::Advice::Sequential });
    v.push(J::FileDescriptorAllocateV1 { fd: 4, offset: 4096, len: 8192 });
    v.push(J::CreateHardLinkV1 { old_fd: 3, old_path: p("orig"), old_flags: 1, new_fd: 3, new_path: p("lien dur") });
    v.push(J::CreateSymbolicLinkV1 { old_path: p("../target"), fd: 3, new_path: p("symlink→") });
    v.push(J::UnlinkFileV1 { fd: 3, path: p("trash.bin") });
    v.push(J::PathRenameV1 { old_fd: 3, old_path: p("old name"), new_fd: 4, new_path: p("new name ✓") });
    v.push(J::ChangeDirectoryV1 { path: p("/") });
    v.push(J::EpollCreateV1 { fd: 9 });
    v.push(J::EpollCtlV1 {
        epfd: 9,
        op: wasi::EpollCtl::Add,
        fd: 10,
        event: Some(wasi::EpollEventCtl { events: wasi::EpollType::EPOLLIN | wasi::EpollType::EPOLLET, ptr: 0x1000, fd: 10, data1: 1, data2: 2 }),
    });
    v.push(J::TtySetV1 { tty: tty(80, 24, [true, true, true, true, true]), line_feeds: true });
    v.push(J::CreatePipeV1 { read_fd: 11, write_fd: 12 });
    v.push(J::CreateEventV1 { initial_val: 0, flags: 0, fd: 13 });
    v.push(J::PortAddAddrV1 { cidr: IpCidr { ip: IpAddr::V4(v4(10, 0, 0, 2)), prefix: 24 } });
    v.push(J::PortDelAddrV1 { addr: IpAddr::V4(v4(10, 0, 0, 2)) });
    v.push(J::PortAddrClearV1);
    v.push(J::PortBridgeV1 { network: p("wasmer.network"), token: p("tökén-123"), security: StreamSecurity::Unencrypted });
    v.push(J::PortUnbridgeV1);
    v.push(J::PortDhcpAcquireV1);
    v.push(J::PortGatewaySetV1 { ip: IpAddr::V4(v4(10, 0, 0, 1)) });
    v.push(J::PortRouteAddV1 {
        cidr: IpCidr { ip: IpAddr::V4(v4(0, 0, 0, 0)), prefix: 0 },
        via_router: IpAddr::V4(v4(10, 0, 0, 1)),
        preferred_until: None,
        expires_at: Some(Duration::new(3600, 0)),
    });
    v.push(J::PortRouteClearV1);
    v.push(J::PortRouteDelV1 { ip: IpAddr::V4(v4(0, 0, 0, 0)) });
    v.push(J::SocketOpenV1 { af: wasi::Addressfamily::Inet4, ty: wasi::Socktype::Stream, pt: wasi::SockProto::Tcp, fd: 14 });
    v.push(J::SocketListenV1 { fd: 14, backlog: 128 });
    v.push(J::SocketBindV1 { fd: 14, addr: sockaddrs()[0] });
    v.push(J::SocketConnectedV1 { fd: 15, local_addr: sockaddrs()[0], peer_addr: sockaddrs()[4] });
    v.push(J::SocketAcceptedV1 { listen_fd: 14, fd: 16, local_addr: sockaddrs()[0], peer_addr: sockaddrs()[3], fd_flags: wasi::Fdflags::NONBLOCK, non_blocking: true });
    v.push(J::SocketJoinIpv4MulticastV1 { fd: 17, multiaddr: v4(224, 0, 0, 251), iface: v4(0, 0, 0, 0) });
    v.push(J::SocketJoinIpv6MulticastV1 { fd: 17, multi_addr: "ff02::fb".parse().unwrap(), iface: 2 });
    v.push(J::SocketLeaveIpv4MulticastV1 { fd: 17, multi_addr: v4(224, 0, 0, 251), iface: v4(192, 168, 1, 2) });
    v.push(J::SocketLeaveIpv6MulticastV1 { fd: 17, multi_addr: "ff02::fb".parse().unwrap(), iface: u32::MAX });
    v.push(J::SocketSendFileV1 { socket_fd: 15, file_fd: 4, offset: 0, count: u64::MAX });
    v.push(J::SocketSendToV1 { fd: 18, data: cow_bytes(b"datagram".to_vec()), flags: 0, addr: sockaddrs()[5], is_64bit: true });
    v.push(J::SocketSendV1 { fd: 15, data: cow_bytes(pattern(2, 33, 11)), flags: 0, is_64bit: false });
    v.push(J::SocketSetOptFlagV1 { fd: 15, opt: wasi::Sockoption::NoDelay, flag: true });
    v.push(J::SocketSetOptSizeV1 { fd: 15, opt: wasi::Sockoption::RecvBufSize, size: 65536 });
    v.push(J::SocketSetOptTimeV1 { fd: 15, ty: SocketOptTimeType::ReadTimeout, time: Some(Duration::from_millis(1500)) });
    v.push(J::SocketShutdownV1 { fd: 15, how: SocketShutdownHow::Both });
    v.push(J::SnapshotV1 { when: t(1_700_000_000, 123_456_789), trigger: SnapshotTrigger::Idle });
    v.push(J::ClearEtherealV1);
    v.push(J::OpenFileDescriptorV2 {
        fd: 21,
        dirfd: 3,
        dirflags: 1,
        path: p("v2/ouvert/é.txt"),
        o_flags: wasi::Oflags::CREATE | wasi::Oflags::EXCL,
        fs_rights_base: wasi::Rights::all(),
        fs_rights_inheriting: wasi::Rights::FD_READ,
        fs_flags: wasi::Fdflags::SYNC,
        fd_flags: wasi::Fdflagsext::CLOEXEC,
    });
    v.push(J::DuplicateFileDescriptorV2 { original_fd: 21, copied_fd: 22, cloexec: true });
    v.push(J::FileDescriptorSetFdFlagsV1 { fd: 22, flags: wasi::Fdflagsext::CLOEXEC });
    v.push(J::SocketPairV1 { fd1: 23, fd2: 24 });

    // --- extra values ---
    v.push(J::InitModuleV1 { wasm_hash: (0u8..32).map(|i| i.wrapping_mul(37).wrapping_add(5)).collect::<Vec<_>>().into_boxed_slice() });
    v.push(J::InitModuleV1 { wasm_hash: Vec::new().into_boxed_slice() });
    for ec in exit_codes() {
        v.push(J::ProcessExitV1 { exit_code: ec });
    }
    for (i, ec) in exit_codes().into_iter().enumerate().step_by(3) {
        v.push(J::CloseThreadV1 { id: if i == 0 { u32::MAX } else { i as u32 }, exit_code: ec });
    }
    v.push(set_thread(u32::MAX, vec![], vec![], vec![], ThreadStartType::ThreadSpawn { start_ptr: u64::MAX }, WasiMemoryLayout { tls_base: Some(0x1234_5678), ..layout(u64::MAX, 0, u64::MAX, u64::MAX) }, true));
    v.push(set_thread(0, pattern(0, 1, 0), pattern(2, 31, 5), pattern(1, 300, 6), ThreadStartType::ThreadSpawn { start_ptr: 0 }, layout(1 << 20, 1 << 16, 4096, (1 << 20) - (1 << 16)), false));
    for (i, w) in [wasi::Whence::Set, wasi::Whence::Cur, wasi::Whence::End, wasi::Whence::Unknown].into_iter().enumerate() {
        let off = [0i64, i64::MIN, i64::MAX, -1][i];
        v.push(J::FileDescriptorSeekV1 { fd: u32::MAX - i as u32, offset: off, whence: w });
    }
    v.push(J::FileDescriptorWriteV1 { fd: u32::MAX, offset: u64::MAX, data: cow_bytes(vec![]), is_64bit: true });
    v.push(J::FileDescriptorWriteV1 { fd: 0, offset: 0, data: cow_bytes(utf8_of_len(40, 3, true).into_bytes()), is_64bit: false });
    use wasi::Snapshot0Clockid as C;
    for (i, c) in [C::Realtime, C::Monotonic, C::ProcessCputimeId, C::ThreadCputimeId, C::Unknown].into_iter().enumerate() {
        v.push(J::SetClockTimeV1 { clock_id: c, time: [0, u64::MAX, 1, 999_999_999, 1 << 63][i] });
    }
    v.push(J::OpenFileDescriptorV1 {
        fd: u32::MAX,
        dirfd: 0,
        dirflags: 0,
        path: p(""),
        o_flags: wasi::Oflags::empty(),
        fs_rights_base: wasi::Rights::empty(),
        fs_rights_inheriting: wasi::Rights::all(),
        fs_flags: wasi::Fdflags::empty(),
    });
    v.push(J::OpenFileDescriptorV1 {
        fd: 0,
        dirfd: u32::MAX,
        dirflags: u32::MAX,
        path: p(&utf8_of_len(64, 1, true)),
        o_flags: wasi::Oflags::all(),
        fs_rights_base: wasi::Rights::all(),
        fs_rights_inheriting: wasi::Rights::all(),
        fs_flags: wasi::Fdflags::all(),
    });
    // bits the WASI flag types do not define: stored raw, dropped by from_bits_truncate on read
    v.push(J::OpenFileDescriptorV1 {
        fd: 1,
        dirfd: 2,
        dirflags: 0x8000_0001,
        path: p("unknown-bits"),
        o_flags: wasi::Oflags::from_bits_preserve(0xffff),
        fs_rights_base: wasi::Rights::from_bits_preserve(u64::MAX),
        fs_rights_inheriting: wasi::Rights::from_bits_preserve(1 << 63),
        fs_flags: wasi::Fdflags::from_bits_preserve(0xffff),
    });
    v.push(J::OpenFileDescriptorV2 {
        fd: u32::MAX,
        dirfd: 0,
        dirflags: 0,
        path: p(""),
        o_flags: wasi::Oflags::empty(),
        fs_rights_base: wasi::Rights::empty(),
        fs_rights_inheriting: wasi::Rights::all(),
        fs_flags: wasi::Fdflags::empty(),
        fd_flags: wasi::Fdflagsext::empty(),
    });
    v.push(J::OpenFileDescriptorV2 {
        fd: 0,
        dirfd: u32::MAX,
        dirflags: u32::MAX,
        path: p(&utf8_of_len(64, 1, true)),
        o_flags: wasi::Oflags::all(),
        fs_rights_base: wasi::Rights::all(),
        fs_rights_inheriting: wasi::Rights::all(),
        fs_flags: wasi::Fdflags::all(),
        fd_flags: wasi::Fdflagsext::all(),
    });
    v.push(J::OpenFileDescriptorV2 {
        fd: 1,
        dirfd: 2,
        dirflags: 0x8000_0001,
        path: p("unknown-bits"),
        o_flags: wasi::Oflags::from_bits_preserve(0xffff),
        fs_rights_base: wasi::Rights::from_bits_preserve(u64::MAX),
        fs_rights_inheriting: wasi::Rights::from_bits_preserve(1 << 63),
        fs_flags: wasi::Fdflags::from_bits_preserve(0xffff),
        fd_flags: wasi::Fdflagsext::from_bits_preserve(0xffff),
    });
    v.push(J::DuplicateFileDescriptorV2 { original_fd: u32::MAX, copied_fd: 0, cloexec: false });
    v.push(J::DuplicateFileDescriptorV2 { original_fd: 0, copied_fd: u32::MAX, cloexec: true });
    v.push(J::FileDescriptorSetFdFlagsV1 { fd: u32::MAX, flags: wasi::Fdflagsext::empty() });
    v.push(J::FileDescriptorSetFdFlagsV1 { fd: 0, flags: wasi::Fdflagsext::from_bits_preserve(0x8001) });
    v.push(J::SocketPairV1 { fd1: u32::MAX, fd2: 0 });
    v.push(J::SocketPairV1 { fd1: 0, fd2: u32::MAX });
    v.push(J::RenumberFileDescriptorV1 { old_fd: u32::MAX, new_fd: 0 });
    v.push(J::DuplicateFileDescriptorV1 { original_fd: 0, copied_fd: u32::MAX });
    v.push(J::CreateDirectoryV1 { fd: u32::MAX, path: p("") });
    v.push(J::RemoveDirectoryV1 { fd: 0, path: p(&utf8_of_len(17, 4, false)) });
    v.push(J::PathSetTimesV1 { fd: 0, flags: 0, path: p(""), st_atim: u64::MAX, st_mtim: 0, fst_flags: wasi::Fstflags::empty() });
    v.push(J::PathSetTimesV1 { fd: 1, flags: u32::MAX, path: p("x"), st_atim: 5, st_mtim: 6, fst_flags: wasi::Fstflags::from_bits_preserve(0xfff0) });
    v.push(J::FileDescriptorSetTimesV1 { fd: u32::MAX, st_atim: u64::MAX, st_mtim: u64::MAX, fst_flags: wasi::Fstflags::empty() });
    v.push(J::FileDescriptorSetSizeV1 { fd: 0, st_size: 0 });
    v.push(J::FileDescriptorSetSizeV1 { fd: u32::MAX, st_size: u64::MAX });
    v.push(J::FileDescriptorSetFlagsV1 { fd: 0, flags: wasi::Fdflags::empty() });
    v.push(J::FileDescriptorSetFlagsV1 { fd: 1, flags: wasi::Fdflags::from_bits_preserve(0x8021) });
    v.push(J::FileDescriptorSetRightsV1 { fd: 0, fs_rights_base: wasi::Rights::empty(), fs_rights_inheriting: wasi::Rights::empty() });
    use wasi::Advice as A;
    for (i, a) in [A::Normal, A::Sequential, A::Random, A::Willneed, A::Dontneed, A::Noreuse, A::Unknown].into_iter().enumerate() {
        v.push(J::FileDescriptorAdviseV1 { fd: i as u32, offset: if i == 6 { u64::MAX } else { i as u64 * 4096 }, len: if i == 6 { u64::MAX } else { 0 }, advice: a });
    }
    v.push(J::FileDescriptorAllocateV1 { fd: u32::MAX, offset: u64::MAX, len: u64::MAX });
    v.push(J::CreateHardLinkV1 { old_fd: u32::MAX, old_path: p(""), old_flags: u32::MAX, new_fd: 0, new_path: p(&utf8_of_len(33, 2, false)) });
    v.push(J::CreateSymbolicLinkV1 { old_path: p(&utf8_of_len(31, 5, true)), fd: u32::MAX, new_path: p("") });
    v.push(J::UnlinkFileV1 { fd: u32::MAX, path: p("𝄞𝄞𝄞") });
    v.push(J::PathRenameV1 { old_fd: 0, old_path: p(""), new_fd: u32::MAX, new_path: p("") });
    v.push(J::ChangeDirectoryV1 { path: p(&utf8_of_len(100, 9, true)) });
    v.push(J::ChangeDirectoryV1 { path: p("") });
    v.push(J::EpollCreateV1 { fd: u32::MAX });
    use wasi::EpollCtl as EC;
    for (i, op) in [EC::Add, EC::Mod, EC::Del, EC::Unknown].into_iter().enumerate() {
        let event = if i % 2 == 1 {
            None
        } else {
            Some(wasi::EpollEventCtl {
                events: if i == 0 { wasi::EpollType::all() } else { wasi::EpollType::empty() },
                ptr: if i == 0 { u64::MAX } else { 0 },
                fd: u32::MAX,
                data1: u32::MAX,
                data2: u64::MAX,
            })
        };
        v.push(J::EpollCtlV1 { epfd: i as u32, op, fd: 100 + i as u32, event });
    }
    v.push(J::TtySetV1 { tty: tty(0, 0, [false; 5]), line_feeds: false });
    v.push(J::TtySetV1 { tty: tty(1, 2, [true, false, true, false, true]), line_feeds: true });
    v.push(J::TtySetV1 { tty: wasi::Tty { cols: u32::MAX, rows: u32::MAX, width: u32::MAX, height: u32::MAX, stdin_tty: false, stdout_tty: true, stderr_tty: false, echo: true, line_buffered: false }, line_feeds: false });
    v.push(J::CreatePipeV1 { read_fd: 0, write_fd: u32::MAX });
    v.push(J::CreateEventV1 { initial_val: u64::MAX, flags: u16::MAX, fd: u32::MAX });
    v.push(J::CreateEventV1 { initial_val: 1, flags: 1, fd: 0 });
    for (i, ip) in ipv6s().into_iter().enumerate() {
        v.push(J::PortAddAddrV1 { cidr: IpCidr { ip: IpAddr::V6(ip), prefix: [0, 128, 64, 255, 96, 10][i] } });
    }
    for ip in ipv4s() {
        v.push(J::PortDelAddrV1 { addr: IpAddr::V4(ip) });
    }
    for ip in ipv6s() {
        v.push(J::PortDelAddrV1 { addr: IpAddr::V6(ip) });
    }
    for (i, s) in [StreamSecurity::Unencrypted, StreamSecurity::AnyEncryption, StreamSecurity::ClassicEncryption, StreamSecurity::DoubleEncryption].into_iter().enumerate() {
        v.push(J::PortBridgeV1 { network: p(["", "n", "réseau-🌐", "x.y.z"][i]), token: p(&utf8_of_len(i * 11, i as u64, i == 2)), security: s });
    }
    v.push(J::PortGatewaySetV1 { ip: IpAddr::V6(ipv6s()[2]) });
    v.push(J::PortGatewaySetV1 { ip: IpAddr::V4(v4(255, 255, 255, 255)) });
    for (i, d) in durations().into_iter().enumerate() {
        let d2 = durations()[(i + 2) % 5];
        let ip = if i % 2 == 0 { IpAddr::V6(ipv6s()[i % 6]) } else { IpAddr::V4(ipv4s()[i % 5]) };
        v.push(J::PortRouteAddV1 { cidr: IpCidr { ip, prefix: (i * 30) as u8 }, via_router: IpAddr::V6(ipv6s()[(i + 1) % 6]), preferred_until: d, expires_at: d2 });
    }
    v.push(J::PortRouteDelV1 { ip: IpAddr::V6(Ipv6Addr::UNSPECIFIED) });
    use wasi::Addressfamily as AF;
    use wasi::Socktype as ST;
    let protos = [wasi::SockProto::Ip, wasi::SockProto::Icmp, wasi::SockProto::Udp, wasi::SockProto::Ipv6, wasi::SockProto::Icmpv6, wasi::SockProto::Mptcp, wasi::SockProto::Max];
    let afs = [AF::Unspec, AF::Inet4, AF::Inet6, AF::Unix];
    let sts = [ST::Unknown, ST::Stream, ST::Dgram, ST::Raw, ST::Seqpacket];
    for i in 0..7 {
        v.push(J::SocketOpenV1 { af: afs[i % 4], ty: sts[i % 5], pt: protos[i], fd: if i == 6 { u32::MAX } else { 20 + i as u32 } });
    }
    v.push(J::SocketListenV1 { fd: u32::MAX, backlog: 0 });
    v.push(J::SocketListenV1 { fd: 0, backlog: u32::MAX });
    for a in sockaddrs().into_iter().skip(1) {
        v.push(J::SocketBindV1 { fd: 30, addr: a });
    }
    let sa = sockaddrs();
    v.push(J::SocketConnectedV1 { fd: u32::MAX, local_addr: sa[5], peer_addr: sa[2] });
    v.push(J::SocketConnectedV1 { fd: 0, local_addr: sa[1], peer_addr: sa[3] });
    v.push(J::SocketAcceptedV1 { listen_fd: u32::MAX, fd: 0, local_addr: sa[4], peer_addr: sa[5], fd_flags: wasi::Fdflags::empty(), non_blocking: false });
    v.push(J::SocketAcceptedV1 { listen_fd: 0, fd: u32::MAX, local_addr: sa[2], peer_addr: sa[1], fd_flags: wasi::Fdflags::all(), non_blocking: true });
    v.push(J::SocketJoinIpv4MulticastV1 { fd: u32::MAX, multiaddr: v4(255, 255, 255, 255), iface: v4(255, 255, 255, 255) });
    v.push(J::SocketJoinIpv6MulticastV1 { fd: 0, multi_addr: ipv6s()[3], iface: 0 });
    v.push(J::SocketLeaveIpv4MulticastV1 { fd: 0, multi_addr: v4(0, 0, 0, 0), iface: v4(0, 0, 0, 0) });
    v.push(J::SocketLeaveIpv6MulticastV1 { fd: u32::MAX, multi_addr: ipv6s()[4], iface: 1 });
    v.push(J::SocketSendFileV1 { socket_fd: u32::MAX, file_fd: u32::MAX, offset: u64::MAX, count: 0 });
    for (i, a) in sa.iter().enumerate() {
        v.push(J::SocketSendToV1 { fd: i as u32, data: cow_bytes(pattern(i, i * 7, i as u64)), flags: [0, 1, u16::MAX, 0x8000, 2, 3][i], addr: *a, is_64bit: i % 2 == 0 });
    }
    v.push(J::SocketSendV1 { fd: u32::MAX, data: cow_bytes(vec![]), flags: u16::MAX, is_64bit: true });
    use wasi::Sockoption as SO;
    let opts = [
        SO::Noop, SO::ReusePort, SO::ReuseAddr, SO::NoDelay, SO::DontRoute, SO::OnlyV6, SO::Broadcast, SO::MulticastLoopV4, SO::MulticastLoopV6,
        SO::Promiscuous, SO::Listening, SO::LastError, SO::KeepAlive, SO::Linger, SO::OobInline, SO::RecvBufSize, SO::SendBufSize, SO::RecvLowat,
        SO::SendLowat, SO::RecvTimeout, SO::SendTimeout, SO::ConnectTimeout, SO::AcceptTimeout, SO::Ttl, SO::MulticastTtlV4, SO::Type, SO::Proto,
    ];
    for (i, o) in opts.iter().enumerate() {
        v.push(J::SocketSetOptFlagV1 { fd: i as u32, opt: *o, flag: i % 2 == 0 });
        v.push(J::SocketSetOptSizeV1 { fd: i as u32, opt: *o, size: [0, 1, u64::MAX, 4096][i % 4] });
    }
    use SocketOptTimeType as TT;
    for (i, ty) in [TT::ReadTimeout, TT::WriteTimeout, TT::AcceptTimeout, TT::ConnectTimeout, TT::BindTimeout, TT::Linger].into_iter().enumerate() {
        v.push(J::SocketSetOptTimeV1 { fd: i as u32, ty, time: durations()[i % 5] });
    }
    for (i, how) in [SocketShutdownHow::Read, SocketShutdownHow::Write, SocketShutdownHow::Both].into_iter().enumerate() {
        v.push(J::SocketShutdownV1 { fd: [0, u32::MAX, 7][i], how });
    }
    use SnapshotTrigger as S;
    let triggers = [
        S::Idle, S::FirstListen, S::FirstEnviron, S::FirstStdin, S::FirstSigint, S::PeriodicInterval, S::Sigint, S::Sigalrm, S::Sigtstp, S::Sigstop,
        S::NonDeterministicCall, S::Bootstrap, S::Transaction, S::Explicit,
    ];
    let whens = [
        SystemTime::UNIX_EPOCH,
        t(0, 1),
        t(1_000_000_000, 999_999_999),
        t(i64::MAX as u64, 999_999_999),
        SystemTime::UNIX_EPOCH - Duration::new(1, 500_000_000), // before the epoch: stored as 0
        t(4_102_444_800, 0),
    ];
    for (i, tr) in triggers.into_iter().enumerate() {
        v.push(J::SnapshotV1 { when: whens[i % whens.len()], trigger: tr });
    }
    let _ = rng.next_u64();
    v
}

const PHASE_LENS: [usize; 17] = [0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255, 256, 300];

fn gen_phases(path: &Path) {
    use JournalEntry as J;
    fresh(path);
    let mut s = Session::open(path);
    for len in 0..=300usize {
        for phase in [0u64, 8] {
            let data = pattern(len % 5, len, (len as u64) << 1 | (phase >> 3));
            s.write_at(phase, J::FileDescriptorWriteV1 { fd: 3 + (len % 7) as u32, offset: len as u64 * 1000, data: cow_bytes(data), is_64bit: len % 2 == 1 });
        }
    }
    for (k, &len) in PHASE_LENS.iter().enumerate() {
        for phase in [0u64, 8] {
            let seed = (k as u64) << 8 | phase;
            s.write_at(phase, J::SocketSendV1 { fd: 15, data: cow_bytes(pattern(k + 2, len, seed)), flags: k as u16, is_64bit: phase == 8 });
            let small = pattern(3, (k * 5) % 23, seed);
            let ly = layout(1 << 20, 1 << 16, 4096, 983_040);
            s.write_at(phase, set_thread(k as u32, pattern(2, len, seed), small.clone(), small.clone(), ThreadStartType::MainThread, ly.clone(), false));
            s.write_at(phase, set_thread(k as u32, small.clone(), pattern(1, len, seed), small.clone(), ThreadStartType::ThreadSpawn { start_ptr: len as u64 }, ly.clone(), true));
            s.write_at(phase, set_thread(k as u32, small.clone(), small.clone(), pattern(4, len, seed), ThreadStartType::MainThread, ly, phase == 0));
            s.write_at(phase, J::ChangeDirectoryV1 { path: cow_str(&utf8_of_len(len, seed, k % 3 == 0)) });
            s.write_at(phase, J::CreateDirectoryV1 { fd: k as u32, path: cow_str(&utf8_of_len(len, seed + 1, false)) });
            s.write_at(phase, mem_region(len as u64 * 4096, &pattern(k, len, seed)));
        }
    }
    // larger memory regions, both phases
    let big: [(usize, usize); 7] = [(4096, 0), (4096, 2), (65535, 1), (65536, 4), (70000, 2), (200000, 4), (200000, 0)];
    for (i, (len, kind)) in big.into_iter().enumerate() {
        for phase in [0u64, 8] {
            s.write_at(phase, mem_region(0x100_0000 * (i as u64 + 1), &pattern(kind, len, 0xb16 + i as u64 + phase)));
        }
    }
    s.close();
}

fn gen_reopen(path: &Path) {
    use JournalEntry as J;
    fresh(path);
    // session 1: 6 records, padded so that the file ends at 8 (mod 16)
    let mut s = Session::open(path);
    s.write(J::InitModuleV1 { wasm_hash: vec![1, 2, 3, 4, 5, 6, 7, 8].into_boxed_slice() });
    s.write(set_thread(1, pattern(2, 40, 1), pattern(1, 17, 2), vec![], ThreadStartType::MainThread, layout(0, 1024, 16, 1024), false));
    s.write(J::FileDescriptorWriteV1 { fd: 1, offset: 0, data: cow_bytes(b"session one\n".to_vec()), is_64bit: false });
    s.write(J::CreatePipeV1 { read_fd: 3, write_fd: 4 });
    s.write(J::ChangeDirectoryV1 { path: cow_str("/tmp/sessión") });
    if s.end % 16 != 8 {
        s.write(J::PortDhcpAcquireV1);
    } else {
        s.write(J::SocketListenV1 { fd: 9, backlog: 1 });
    }
    assert_eq!(s.end % 16, 8);
    s.close();
    assert_eq!(std::fs::metadata(path).unwrap().len() % 16, 8);
    // session 2: opened at 8 (mod 16); first record has a vector that must be 16-aligned in
    // absolute file position. Ends at 0 (mod 16).
    let mut s = Session::open(path);
    s.write(J::FileDescriptorWriteV1 { fd: 1, offset: 12, data: cow_bytes(pattern(2, 45, 9)), is_64bit: true });
    s.write(mem_region(0x2000, &pattern(1, 1000, 3)));
    s.write(J::SocketSendV1 { fd: 5, data: cow_bytes(pattern(3, 9, 3)), flags: 1, is_64bit: false });
    s.write(J::SnapshotV1 { when: t(1_700_000_100, 5), trigger: SnapshotTrigger::PeriodicInterval });
    s.write(J::CreateDirectoryV1 { fd: 3, path: cow_str("dir-😀") });
    s.write(J::PortAddrClearV1);
    if s.end % 16 != 0 {
        s.write(J::PortUnbridgeV1);
    }
    s.write(J::CloseFileDescriptorV1 { fd: 4 });
    s.close();
    assert_eq!(std::fs::metadata(path).unwrap().len() % 16, 0);
    // session 3
    let mut s = Session::open(path);
    s.write(J::SocketSendV1 { fd: 5, data: cow_bytes(pattern(2, 100, 4)), flags: 0, is_64bit: true });
    s.write(J::ProcessExitV1 { exit_code: None });
    s.write(set_thread(2, vec![], pattern(0, 64, 0), pattern(2, 3, 1), ThreadStartType::ThreadSpawn { start_ptr: 0xdead_beef }, layout(4096, 0, 0, 4096), true));
    s.write(J::CloseThreadV1 { id: 2, exit_code: Some(wasi::ExitCode::from(3i32)) });
    s.write(J::SnapshotV1 { when: t(1_700_000_200, 0), trigger: SnapshotTrigger::Idle });
    s.close();
}

/// `test_save_and_load_journal_events` of this version's log_file.rs, entries and sessions
/// exactly (the reads it does in between do not touch the file).
fn gen_seed_test(path: &Path) {
    use JournalEntry as J;
    fresh(path);
    let thread = || J::SetThreadV1 {
        id: 1,
        call_stack: vec![11; 116].into(),
        memory_stack: vec![22; 16].into(),
        store_data: vec![33; 136].into(),
        is_64bit: false,
        layout: WasiMemoryLayout { stack_upper: 0, stack_lower: 1024, guard_size: 16, stack_size: 1024, tls_base: None },
        start: ThreadStartType::MainThread,
    };
    let journal = Session::from_file(path);
    let mut journal = journal;
    journal.write(J::CreatePipeV1 { read_fd: 1, write_fd: 2 });
    journal.write(thread());
    journal.write(J::PortAddrClearV1);
    journal.close();

    let mut journal = Session::open(path);
    let mut got = Vec::new();
    while let Some(r) = journal.j.read().unwrap() {
        got.push(r.into_inner().into_owned());
    }
    assert_eq!(got, vec![J::CreatePipeV1 { read_fd: 1, write_fd: 2 }, thread(), J::PortAddrClearV1]);
    journal.write(J::SocketSendV1 { fd: 1234, data: [12; 1024].to_vec().into(), flags: 123, is_64bit: true });
    assert!(journal.j.read().unwrap().is_none());
    journal.close();

    let mut journal = Session::open(path);
    journal.write(J::CreatePipeV1 { read_fd: 1234, write_fd: 5432 });
    let mut n = 0;
    while journal.j.read().unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 4);
    journal.close();

    let journal = Session::open(path);
    let mut n = 0;
    while journal.j.read().unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 5);
    journal.close();
}

// ------------------------------------------------------------------------------------------------
// layout
// ------------------------------------------------------------------------------------------------

fn fsize<T, F>(_: fn(&T) -> &F) -> usize {
    size_of::<F>()
}
fn falign<T, F>(_: fn(&T) -> &F) -> usize {
    align_of::<F>()
}

macro_rules! structs {
    ($($orig:ident $(<$lt:lifetime>)? => $arch:ident $(<$lt2:lifetime>)? { $($f:ident : $t:literal),* $(,)? };)*) => {
        fn layout_structs() -> Vec<Value> {
            let mut out = Vec::new();
            $({
                type A = $arch $(<$lt2>)?;
                #[allow(unused_mut)]
                let mut fields: Vec<Value> = Vec::new();
                $(
                    fields.push(json!({
                        "name": stringify!($f),
                        "declared_type": $t,
                        "offset": core::mem::offset_of!(A, $f),
                        "size": fsize(|s: &A| &s.$f),
                        "align": falign(|s: &A| &s.$f),
                    }));
                )*
                out.push(json!({"type": stringify!($arch), "size": size_of::<A>(), "align": align_of::<A>(), "fields": fields}));
            })*
            out
        }
    };
}

macro_rules! unit_enums {
    ($($orig:ident => $arch:ident { $($v:ident),* $(,)? };)*) => {
        fn layout_enums() -> Vec<Value> {
            let mut out = Vec::new();
            $({
                let mut vs: Vec<Value> = Vec::new();
                $(
                    let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&$orig::$v).unwrap();
                    // and back through the archived type, as the reader does it
                    let back = rkyv::access::<$arch, rkyv::rancor::Error>(&bytes[..]).unwrap();
                    assert!(matches!(back, $arch::$v));
                    vs.push(json!({
                        "name": stringify!($v),
                        "rust_discriminant": $orig::$v as i64,
                        "archived_hex": shared::hex(&bytes),
                    }));
                )*
                out.push(json!({"type": stringify!($arch), "size": size_of::<$arch>(), "align": align_of::<$arch>(), "variants": vs}));
            })*
            out
        }
    };
}

include!("layout_items.rs");

fn sample<T>(name: &str, v: &T) -> Value
where
    T: for<'a> rkyv::Serialize<rkyv::api::high::HighSerializer<rkyv::util::AlignedVec, rkyv::ser::allocator::ArenaHandle<'a>, rkyv::rancor::Error>>,
{
    let b = rkyv::to_bytes::<rkyv::rancor::Error>(v).unwrap();
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    json!({"value": name, "archived_hex": shared::hex(&b)})
}

macro_rules! other {
    ($name:literal, $ty:ty, [$($s:expr),* $(,)?]) => {
        json!({"type": $name, "size": size_of::<rkyv::Archived<$ty>>(), "align": align_of::<rkyv::Archived<$ty>>(),
               "samples": vec![$(sample(stringify!($s), &$s)),*]})
    };
}

fn layout_json(meta: &Meta) -> Value {
    let mut rts = Vec::new();
    for t in 0..=u16::MAX {
        if let Ok(r) = JournalEntryRecordType::try_from(t) {
            rts.push(json!({"name": format!("{r:?}"), "value": t}));
        }
    }
    let others = vec![
        other!("ArchivedJournalExitCodeV1", JournalExitCodeV1, [JournalExitCodeV1::Errno(0), JournalExitCodeV1::Errno(0xabcd), JournalExitCodeV1::Other(-2), JournalExitCodeV1::Other(i32::MIN)]),
        other!("ArchivedJournalThreadStartTypeV1", JournalThreadStartTypeV1, [JournalThreadStartTypeV1::MainThread, JournalThreadStartTypeV1::ThreadSpawn { start_ptr: 0x0102030405060708 }]),
        other!("ArchivedOption<ArchivedJournalExitCodeV1>", Option<JournalExitCodeV1>, [None::<JournalExitCodeV1>, Some(JournalExitCodeV1::Errno(0x1234)), Some(JournalExitCodeV1::Other(-1))]),
        other!("ArchivedOption<ArchivedJournalEpollEventCtlV1>", Option<JournalEpollEventCtlV1>, [None::<JournalEpollEventCtlV1>, Some(JournalEpollEventCtlV1 { events: 0x11223344, ptr: 0x0102030405060708, fd: 0xa1a2a3a4, data1: 0xb1b2b3b4, data2: 0xc1c2c3c4c5c6c7c8 })]),
        other!("ArchivedIpAddr", IpAddr, [IpAddr::V4(v4(1, 2, 3, 4)), IpAddr::V6("102:304:506:708:90a:b0c:d0e:f10".parse::<Ipv6Addr>().unwrap())]),
        other!("ArchivedIpv4Addr", Ipv4Addr, [v4(1, 2, 3, 4)]),
        other!("ArchivedIpv6Addr", Ipv6Addr, ["102:304:506:708:90a:b0c:d0e:f10".parse::<Ipv6Addr>().unwrap()]),
        other!("ArchivedSocketAddr", SocketAddr, [SocketAddr::V4(SocketAddrV4::new(v4(1, 2, 3, 4), 0x5060)), SocketAddr::V6(SocketAddrV6::new("102:304:506:708:90a:b0c:d0e:f10".parse().unwrap(), 0x1112, 0x13141516, 0x17181920))]),
        other!("ArchivedDuration", Duration, [Duration::new(0x0102030405060708, 0x0a0b0c0d)]),
        other!("ArchivedOption<ArchivedDuration>", Option<Duration>, [None::<Duration>, Some(Duration::new(0x0102030405060708, 0x0a0b0c0d))]),
        other!("ArchivedBox<[u8]> (InitModuleV1.wasm_hash)", Box<[u8]>, [vec![0xaau8, 0xbb, 0xcc].into_boxed_slice()]),
        other!("ArchivedVec<u8> (AlignedCowVec / AlignedCowStr)", AlignedCowVec<'static, u8>, [AlignedCowVec::<u8>::from(vec![0xaau8, 0xbb, 0xcc])]),
        other!("ArchivedVec<u8> (AlignedCowStr)", AlignedCowStr<'static>, [AlignedCowStr::from(String::from("héllo"))]),
        other!("ArchivedJournalIpCidrV1", JournalIpCidrV1, [JournalIpCidrV1 { ip: IpAddr::V4(v4(10, 0, 0, 1)), prefix: 24 }]),
        other!("ArchivedJournalWasiMemoryLayout", JournalWasiMemoryLayout, [JournalWasiMemoryLayout { stack_upper: 1, stack_lower: 2, guard_size: 3, stack_size: 4 }]),
        other!("() (PortAddrClearV1/PortUnbridgeV1/PortDhcpAcquireV1/PortRouteClearV1 body)", (), [()]),
        other!("ArchivedJournalEntryClearEtherealV1", JournalEntryClearEtherealV1, [JournalEntryClearEtherealV1 {}]),
    ];
    json!({
        "tool": "wasmer-oracle",
        "crate": "wasmer-journal",
        "version": meta.journal,
        "rkyv": meta.rkyv,
        "note": "measured with core::mem::size_of/align_of/offset_of! on the crate's archived types (x86_64, little-endian); archived_hex = rkyv::to_bytes of the value alone (root at the end)",
        "record_types": rts,
        "record_structs": layout_structs(),
        "unit_enums": layout_enums(),
        "other_types": others,
    })
}

// ------------------------------------------------------------------------------------------------
// main
// ------------------------------------------------------------------------------------------------

fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(v).unwrap() + "\n").unwrap();
}

fn generate(out: &Path, meta: &Meta) {
    std::fs::create_dir_all(out).unwrap();
    let codec = Codec08;
    let j = |n: &str| -> PathBuf { out.join(n) };

    let p = j("variants.journal");
    fresh(&p);
    let mut s = Session::open(&p);
    for e in variants_entries() {
        s.write(e);
    }
    s.close();

    gen_phases(&j("phases.journal"));
    gen_reopen(&j("reopen.journal"));

    let mut cat = std::fs::read(j("variants.journal")).unwrap();
    cat.extend(std::fs::read(j("reopen.journal")).unwrap());
    std::fs::write(j("concat.journal"), cat).unwrap();

    gen_seed_test(&j("seed_test.journal"));

    for n in ["variants.journal", "phases.journal", "reopen.journal", "concat.journal", "seed_test.journal"] {
        shared::write_manifest_for(&codec, meta, &j(n));
    }
    write_json(&j("layout.json"), &layout_json(meta));
}

/// `json IN`: each line of IN (JSON lines, as `wasmer journal import` reads them) through
/// the crate's serde: `serde_json::from_str::<JournalEntry>` (byte fields: base64, then
/// lz4_flex `decompress_size_prepended`), then `serde_json::to_string` of the entry
/// (`compress_prepend_size`, as `wasmer journal export` writes it), one line each, or
/// `error: ...` where the crate refuses the line.
fn cmd_json(args: &[String]) {
    let text = std::fs::read_to_string(&args[0]).expect("read the JSON lines");
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        match serde_json::from_str::<JournalEntry<'_>>(line) {
            Ok(entry) => println!("{}", serde_json::to_string(&entry).expect("serialize")),
            Err(err) => println!("error: {err}"),
        }
    }
}

fn main() {
    let meta = Meta::from_lock(include_str!("../Cargo.lock"));
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(|s| s.as_str()) {
        Some("generate") if args.len() == 2 => generate(Path::new(&args[1]), &meta),
        Some("read") => shared::cmd_read(&Codec08, &meta, &args[1..]),
        Some("filter") => journal_tools::cmd_filter(&Codec08, &meta, &args[1..]),
        Some("memfile") => journal_tools::cmd_memfile(&meta, &args[1..]),
        Some("compact") => journal_tools::cmd_compact(&Codec08, &meta, &args[1..]),
        Some("json") if args.len() == 2 => cmd_json(&args[1..]),
        Some("layout") => {
            let v = layout_json(&meta);
            match args.get(1) {
                Some(o) => write_json(Path::new(o), &v),
                None => println!("{}", serde_json::to_string_pretty(&v).unwrap()),
            }
        }
        _ => shared::usage(),
    }
}
