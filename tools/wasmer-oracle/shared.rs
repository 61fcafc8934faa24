//! Version-independent part of the wasmer-journal oracle (used by all three packages through
//! `#[path = "../../shared.rs"] mod shared;`). Nothing in here knows a `JournalEntry` type: the
//! version-specific code plugs into [`Codec`].

#![allow(dead_code)]

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::path::Path;

/// `JOURNAL_MAGIC_NUMBER.to_be_bytes()` (0x310d6dd027362979).
pub const MAGIC: [u8; 8] = [0x31, 0x0d, 0x6d, 0xd0, 0x27, 0x36, 0x29, 0x79];

// ------------------------------------------------------------------------------------------------
// deterministic data
// ------------------------------------------------------------------------------------------------

/// splitmix64 (Steele, Lea, Flood 2014): the only randomness in the generators.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        v.truncate(n);
        v
    }
}

pub const TEXT: &str = "The quick brown fox jumps over the lazy dog. WASIX journal replay! 0123456789\n";

/// Deterministic byte patterns: 0 zeros, 1 repetitive text, 2 pseudo-random, 3 counter,
/// 4 mixture of blocks of the other kinds.
pub fn pattern(kind: usize, len: usize, seed: u64) -> Vec<u8> {
    let mut rng = SplitMix64(seed);
    match kind % 5 {
        0 => vec![0u8; len],
        1 => TEXT.as_bytes().iter().copied().cycle().take(len).collect(),
        2 => rng.bytes(len),
        3 => (0..len).map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed as u8)).collect(),
        _ => {
            let mut v = Vec::with_capacity(len);
            let mut k = 0usize;
            while v.len() < len {
                let block = 1 + (rng.next_u64() % 3000) as usize;
                let block = block.min(len - v.len());
                let sub = pattern(k % 4, block, rng.next_u64());
                v.extend_from_slice(&sub);
                k += 1;
            }
            v
        }
    }
}

/// A string of exactly `len` UTF-8 bytes that uses 1-, 2-, 3- and 4-byte characters
/// (and, with `specials`, `"`, `\`, TAB, LF, DEL and NUL).
pub fn utf8_of_len(len: usize, seed: u64, specials: bool) -> String {
    let pieces: &[&str] = if specials {
        &["a", "\"", "é", "\\", "€", "\t", "😀", "\n", "日", "\u{7f}", "\u{0}", "ß", "/", "𝄞"]
    } else {
        &["a", "é", "€", "😀", "/", "日", "ß", "𝄞", "z", ".", "ü", "本"]
    };
    let mut s = String::new();
    let mut i = seed as usize;
    while s.len() < len {
        let p = pieces[i % pieces.len()];
        i += 1;
        if s.len() + p.len() <= len {
            s.push_str(p);
        } else {
            s.push('x');
        }
    }
    assert_eq!(s.len(), len);
    s
}

// ------------------------------------------------------------------------------------------------
// hex / sha256 / Cargo.lock
// ------------------------------------------------------------------------------------------------

pub fn hex(b: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(H[(x >> 4) as usize] as char);
        s.push(H[(x & 15) as usize] as char);
    }
    s
}

pub fn sha256_hex(b: &[u8]) -> String {
    hex(&Sha256::digest(b))
}

struct LockPkg {
    name: String,
    version: String,
    deps: Vec<String>,
}

fn parse_lock(lock: &str) -> Vec<LockPkg> {
    let mut out = Vec::new();
    for chunk in lock.split("[[package]]").skip(1) {
        let mut name = String::new();
        let mut version = String::new();
        let mut deps = Vec::new();
        let mut in_deps = false;
        for line in chunk.lines() {
            let l = line.trim();
            if let Some(v) = l.strip_prefix("name = ") {
                name = v.trim_matches('"').to_string();
            } else if let Some(v) = l.strip_prefix("version = ") {
                version = v.trim_matches('"').to_string();
            } else if l.starts_with("dependencies = [") {
                in_deps = true;
            } else if in_deps {
                if l.starts_with(']') {
                    in_deps = false;
                } else {
                    deps.push(l.trim_end_matches(',').trim_matches('"').to_string());
                }
            }
        }
        out.push(LockPkg { name, version, deps });
    }
    out
}

/// Exact version of dependency `dep` of package `of`, as resolved in Cargo.lock.
pub fn lock_dep_version(lock: &str, of: &str, dep: &str) -> String {
    let pkgs = parse_lock(lock);
    let owner = pkgs.iter().find(|p| p.name == of).unwrap_or_else(|| panic!("{of} not in Cargo.lock"));
    for d in &owner.deps {
        let mut it = d.split(' ');
        if it.next() == Some(dep) {
            if let Some(v) = it.next() {
                return v.to_string();
            }
            let cands: Vec<_> = pkgs.iter().filter(|p| p.name == dep).collect();
            assert_eq!(cands.len(), 1, "ambiguous {dep}");
            return cands[0].version.clone();
        }
    }
    panic!("{of} has no dependency {dep} in Cargo.lock")
}

pub fn lock_version(lock: &str, name: &str) -> String {
    let pkgs = parse_lock(lock);
    let c: Vec<_> = pkgs.iter().filter(|p| p.name == name).collect();
    assert_eq!(c.len(), 1, "{name}: {} versions in Cargo.lock", c.len());
    c[0].version.clone()
}

pub struct Meta {
    pub journal: String,
    pub rkyv: String,
    pub lz4_flex: String,
    pub wasmer: String,
}

impl Meta {
    pub fn from_lock(lock: &str) -> Meta {
        Meta {
            journal: lock_version(lock, "wasmer-journal"),
            rkyv: lock_dep_version(lock, "wasmer-journal", "rkyv"),
            lz4_flex: lock_dep_version(lock, "wasmer-journal", "lz4_flex"),
            wasmer: lock_dep_version(lock, "wasmer-journal", "wasmer"),
        }
    }
}

// ------------------------------------------------------------------------------------------------
// aligned copy of a file
// ------------------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
#[repr(C, align(16))]
struct Chunk([u8; 16]);

/// A copy of the file in a 16-aligned allocation, so that `&buf[off..]` has the same address
/// alignment modulo 16 as file offset `off` (what the mmap the real reader uses gives).
pub struct AlignedBuf {
    chunks: Vec<Chunk>,
    len: usize,
}

impl AlignedBuf {
    pub fn new(data: &[u8]) -> AlignedBuf {
        let mut chunks = vec![Chunk([0; 16]); data.len().div_ceil(16).max(1)];
        let p = chunks.as_mut_ptr() as *mut u8;
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), p, data.len()) };
        AlignedBuf { chunks, len: data.len() }
    }
    pub fn as_slice(&self) -> &[u8] {
        unsafe { std::slice::from_raw_parts(self.chunks.as_ptr() as *const u8, self.len) }
    }
}

// ------------------------------------------------------------------------------------------------
// the reader / judge
// ------------------------------------------------------------------------------------------------

/// One record as the version's `JournalEntry` gives it.
#[derive(Clone, Debug)]
pub struct Decoded {
    pub json: Value,
    pub json_text: String,
    pub display: String,
}

pub trait Codec {
    /// `Some(name)` when `JournalEntryRecordType::try_from(t)` succeeds in this version.
    fn record_type_name(&self, t: u16) -> Option<String>;
    /// rkyv validation of `body` as the archived type of record type `t` (body must be placed at
    /// its file alignment).
    fn validate(&self, t: u16, body: &[u8]) -> Result<(), String>;
    /// `JournalEntryRecordType::deserialize_archive` (unchecked!) on a body that passed `validate`.
    fn decode(&self, t: u16, body: &[u8]) -> Result<Decoded, String>;
    /// Open `path` with `LogFileJournal::new_readonly` and call `read()` `n` times (+1 more
    /// expecting `None` when `expect_end`). Returns (record_start, record_end, entry) for each.
    fn real_read(&self, path: &Path, n: usize, expect_end: bool) -> Result<Vec<(u64, u64, Decoded)>, String>;
}

/// rkyv's validation errors print absolute addresses; rewrite those near `base` (the body's
/// address) as `body+N` / `body-N` so that the judge's output is deterministic.
pub fn relativize(msg: &str, base: usize) -> String {
    let mut out = String::new();
    let b = msg.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'0' && i + 2 < b.len() && b[i + 1] == b'x' && b[i + 2].is_ascii_hexdigit() {
            let mut j = i + 2;
            while j < b.len() && b[j].is_ascii_hexdigit() {
                j += 1;
            }
            if let Ok(v) = u64::from_str_radix(&msg[i + 2..j], 16) {
                let d = v as i128 - base as i128;
                if v > 0xffff_ffff && d.abs() < (1i128 << 40) {
                    out.push_str(&if d >= 0 { format!("body+{d}") } else { format!("body-{}", -d) });
                    i = j;
                    continue;
                }
            }
            out.push_str(&msg[i..j]);
            i = j;
            continue;
        }
        let ch = msg[i..].chars().next().unwrap();
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

fn catch<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(e) => {
            let msg = if let Some(s) = e.downcast_ref::<&str>() {
                s.to_string()
            } else if let Some(s) = e.downcast_ref::<String>() {
                s.clone()
            } else {
                "unknown panic".to_string()
            };
            Err(format!("panic: {msg}"))
        }
    }
}

/// Reads one journal file and returns its manifest (`oracle read` output).
pub fn read_manifest(codec: &dyn Codec, meta: &Meta, path: &Path) -> Result<Value, String> {
    let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let abuf = AlignedBuf::new(&data);
    let buf = abuf.as_slice();
    let len = data.len();

    let mut records: Vec<Map<String, Value>> = Vec::new();
    let mut real_prefix: Option<usize> = None; // records before the first invalid one
    let mut pos = 0usize;
    let end_offset;
    let end_reason: String;
    let mut end_extra = Map::new();

    if len >= 8 && data[0..8] != MAGIC {
        end_offset = 0;
        end_reason = "invalid magic".into();
    } else {
        if len >= 8 {
            pos = 8;
        }
        loop {
            let rem = len - pos;
            if rem == 0 {
                end_offset = pos;
                end_reason = "eof".into();
                break;
            }
            if rem < 8 {
                end_offset = pos;
                end_reason = "truncated header".into();
                break;
            }
            let h = &data[pos..pos + 8];
            if h == MAGIC {
                pos += 8;
                continue;
            }
            let rtype = u16::from_be_bytes([h[0], h[1]]);
            let rsize = u64::from_be_bytes([0, 0, h[2], h[3], h[4], h[5], h[6], h[7]]);
            let Some(name) = codec.record_type_name(rtype) else {
                end_offset = pos;
                end_reason = format!("unknown record type {rtype}");
                break;
            };
            let start = pos + 8;
            if rsize > (len - start) as u64 {
                end_offset = pos;
                end_reason = "truncated body".into();
                end_extra.insert("record_type".into(), json!(rtype));
                end_extra.insert("record_size".into(), json!(rsize));
                end_extra.insert("available".into(), json!(len - start));
                break;
            }
            let end = start + rsize as usize;
            let body = &buf[start..end];
            let mut r = Map::new();
            r.insert("index".into(), json!(records.len()));
            r.insert("header_offset".into(), json!(pos));
            r.insert("record_start".into(), json!(start));
            r.insert("record_end".into(), json!(end));
            r.insert("record_type".into(), json!(rtype));
            r.insert("variant".into(), json!(name));
            r.insert("header_hex".into(), json!(hex(h)));
            r.insert("body_hex".into(), json!(hex(body)));
            let v = catch(|| codec.validate(rtype, body)).map_err(|e| relativize(&e, body.as_ptr() as usize));
            let mut stop: Option<String> = None;
            match v {
                Err(e) => {
                    r.insert("valid".into(), json!(false));
                    r.insert("error".into(), json!(e));
                    r.insert("json".into(), Value::Null);
                    r.insert("json_text".into(), Value::Null);
                    r.insert("display".into(), Value::Null);
                    if real_prefix.is_none() {
                        real_prefix = Some(records.len());
                    }
                }
                Ok(()) => match catch(|| codec.decode(rtype, body)) {
                    Err(e) => {
                        // validated, but the crate's own deserializer failed: the real reader
                        // returns this error and stops.
                        r.insert("valid".into(), json!(true));
                        r.insert("error".into(), json!(e.clone()));
                        r.insert("json".into(), Value::Null);
                        r.insert("json_text".into(), Value::Null);
                        r.insert("display".into(), Value::Null);
                        if real_prefix.is_none() {
                            real_prefix = Some(records.len());
                        }
                        stop = Some(e);
                    }
                    Ok(d) => {
                        r.insert("valid".into(), json!(true));
                        r.insert("error".into(), Value::Null);
                        r.insert("json".into(), d.json);
                        r.insert("json_text".into(), json!(d.json_text));
                        r.insert("display".into(), json!(d.display));
                    }
                },
            }
            records.push(r);
            pos = end;
            if let Some(e) = stop {
                end_offset = pos;
                end_reason = e;
                break;
            }
        }
    }

    // Cross-check against the real reader loop (LogFileJournal::new_readonly + read()) on
    // the records it can safely be handed (everything before the first invalid record).
    let clean = real_prefix.is_none();
    let n_real = real_prefix.unwrap_or(records.len());
    let expect_end = clean && (end_reason == "eof" || end_reason == "truncated header" || end_reason.starts_with("unknown record type"));
    let mut real = Map::new();
    if len == 0 {
        real.insert("skipped".into(), json!("empty file: new_readonly cannot write the magic"));
    } else if end_reason == "invalid magic" {
        let r = codec.real_read(path, 0, false);
        real.insert("opened".into(), json!(r.is_ok()));
        if let Err(e) = r {
            real.insert("error".into(), json!(e));
        }
    } else {
        match codec.real_read(path, n_real, expect_end) {
            Err(e) => return Err(format!("{}: real reader failed: {e}", path.display())),
            Ok(got) => {
                assert_eq!(got.len(), n_real);
                for (i, (s, e, d)) in got.iter().enumerate() {
                    let r = &mut records[i];
                    let ok = r["record_start"] == json!(s)
                        && r["record_end"] == json!(e)
                        && r["json_text"] == json!(d.json_text)
                        && r["display"] == json!(d.display);
                    if !ok {
                        return Err(format!(
                            "{}: record {i}: real reader disagrees: ({s},{e},{}) vs {:?}",
                            path.display(),
                            d.json_text,
                            r
                        ));
                    }
                    r.insert("reader".into(), json!("LogFileJournal::read"));
                }
                for r in records.iter_mut().skip(n_real) {
                    if r["json_text"].is_string() {
                        r.insert("reader".into(), json!("deserialize_archive"));
                    } else {
                        r.insert("reader".into(), Value::Null);
                    }
                }
                real.insert("records_read".into(), json!(n_real));
                real.insert("end_confirmed".into(), json!(expect_end));
                real.insert("agrees".into(), json!(true));
            }
        }
    }

    let mut end = Map::new();
    end.insert("offset".into(), json!(end_offset));
    end.insert("reason".into(), json!(end_reason));
    end.extend(end_extra);

    let mut m = Map::new();
    m.insert("tool".into(), json!("wasmer-oracle"));
    m.insert("crate".into(), json!("wasmer-journal"));
    m.insert("version".into(), json!(meta.journal));
    m.insert("rkyv".into(), json!(meta.rkyv));
    m.insert("lz4_flex".into(), json!(meta.lz4_flex));
    m.insert("wasmer".into(), json!(meta.wasmer));
    m.insert(
        "file".into(),
        json!(path.file_name().map(|s| s.to_string_lossy().to_string()).unwrap_or_default()),
    );
    m.insert("file_size".into(), json!(len));
    m.insert("sha256".into(), json!(sha256_hex(&data)));
    m.insert("records".into(), Value::Array(records.into_iter().map(Value::Object).collect()));
    m.insert("end".into(), Value::Object(end));
    m.insert("real_reader".into(), Value::Object(real));
    Ok(Value::Object(m))
}

/// Top-level keys one per line, each record on one line.
pub fn format_manifest(v: &Value) -> String {
    let obj = v.as_object().expect("object");
    let mut s = String::from("{");
    let n = obj.len();
    for (i, (k, val)) in obj.iter().enumerate() {
        s.push_str(&serde_json::to_string(k).unwrap());
        s.push_str(": ");
        match val {
            Value::Array(a) if !a.is_empty() => {
                s.push_str("[\n");
                for (j, x) in a.iter().enumerate() {
                    s.push_str("  ");
                    s.push_str(&serde_json::to_string(x).unwrap());
                    if j + 1 < a.len() {
                        s.push(',');
                    }
                    s.push('\n');
                }
                s.push(']');
            }
            _ => s.push_str(&serde_json::to_string(val).unwrap()),
        }
        if i + 1 < n {
            s.push_str(",\n ");
        }
    }
    s.push_str("}\n");
    s
}

pub fn usage() -> ! {
    eprintln!(
        "usage: oracle generate OUTDIR\n       oracle read [-o OUT] FILE [FILE...]\n       oracle layout [OUT]\n       \
         oracle filter IN OUT [-f mem|threads|fs|core|snap|net|stdio]...\n       oracle memfile IN MEMOUT [--at N]\n       \
         oracle compact IN OUT"
    );
    std::process::exit(2)
}

/// `oracle read [-o OUT] FILE...`
pub fn cmd_read(codec: &dyn Codec, meta: &Meta, args: &[String]) {
    let mut out: Option<String> = None;
    let mut files = Vec::new();
    let mut i = 0;
    while i < args.len() {
        if args[i] == "-o" {
            out = Some(args.get(i + 1).cloned().unwrap_or_else(|| usage()));
            i += 2;
        } else {
            files.push(args[i].clone());
            i += 1;
        }
    }
    if files.is_empty() {
        usage();
    }
    let mut text = String::new();
    let mut failed = false;
    for f in &files {
        match read_manifest(codec, meta, Path::new(f)) {
            Ok(v) => text.push_str(&format_manifest(&v)),
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    match out {
        Some(o) => std::fs::write(&o, text).expect("write output"),
        None => print!("{text}"),
    }
    if failed {
        std::process::exit(1);
    }
}

/// Writes `NAME.json` next to the journal.
pub fn write_manifest_for(codec: &dyn Codec, meta: &Meta, journal: &Path) {
    let v = read_manifest(codec, meta, journal).unwrap_or_else(|e| panic!("{e}"));
    let end = &v["end"]["reason"];
    assert_eq!(end, "eof", "{}: generated journal must read to eof", journal.display());
    for r in v["records"].as_array().unwrap() {
        assert_eq!(r["valid"], json!(true), "{}: invalid record {r}", journal.display());
    }
    let mut p = journal.as_os_str().to_owned();
    p.push(".json");
    std::fs::write(p, format_manifest(&v)).expect("write manifest");
}
