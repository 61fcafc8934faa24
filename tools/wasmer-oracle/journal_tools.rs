//! `oracle filter`, `oracle memfile` and `oracle compact`: the crate's own journal-to-journal
//! tools (`FilteredJournal`, `MemFileJournal`, `CompactingLogFileJournal`) run on a journal file.
//! The API these use is the same in 0.5.0, 0.10.0 and 0.705.0, so this file is compiled by all
//! three packages (`#[path = "../../journal_tools.rs"] mod journal_tools;`). See ../README.md.

use crate::shared::{self, Codec, Meta};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

use wasmer_journal::*;

fn die(msg: String) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1)
}

fn basename(p: &Path) -> String {
    p.file_name().map(|s| s.to_string_lossy().to_string()).unwrap_or_default()
}

fn remove_if_exists(p: &Path) {
    match std::fs::remove_file(p) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => die(format!("{}: cannot remove: {e}", p.display())),
    }
}

fn print_manifest(codec: &dyn Codec, meta: &Meta, path: &Path) {
    match shared::read_manifest(codec, meta, path) {
        Ok(v) => print!("{}", shared::format_manifest(&v)),
        Err(e) => die(e),
    }
}

/// The filter categories, as `-f` takes them, and the builder call each one makes.
pub const FILTER_CATEGORIES: [&str; 7] = ["mem", "threads", "fs", "core", "snap", "net", "stdio"];

/// `oracle filter IN OUT [-f CAT]...`
///
/// `FilteredJournalBuilder::new().with_ignore_xxx(true)...build(LogFileJournal::new(OUT))`, then
/// `copy_journal(&LogFileJournal::new_readonly(IN), &filtered)`, then the manifest of OUT.
/// (`wasmer journal filter` does the same, through a `.staging.` file it renames; its CLI has no
/// `stdio` option, the builder has.)
pub fn cmd_filter(codec: &dyn Codec, meta: &Meta, args: &[String]) {
    let mut pos: Vec<PathBuf> = Vec::new();
    let mut cats: Vec<String> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        if args[i] == "-f" || args[i] == "--filter" {
            let c = args.get(i + 1).cloned().unwrap_or_else(|| shared::usage());
            if !FILTER_CATEGORIES.contains(&c.as_str()) {
                die(format!("unknown filter category {c:?} (one of {})", FILTER_CATEGORIES.join(", ")));
            }
            cats.push(c);
            i += 2;
        } else {
            pos.push(PathBuf::from(&args[i]));
            i += 1;
        }
    }
    if pos.len() != 2 {
        shared::usage();
    }
    let (inp, out) = (&pos[0], &pos[1]);

    let mut builder = FilteredJournalBuilder::new();
    for c in &cats {
        builder = match c.as_str() {
            "mem" => builder.with_ignore_memory(true),
            "threads" => builder.with_ignore_threads(true),
            "fs" => builder.with_ignore_fs(true),
            "core" => builder.with_ignore_core(true),
            "snap" => builder.with_ignore_snapshots(true),
            "net" => builder.with_ignore_networking(true),
            "stdio" => builder.with_ignore_stdio(true),
            _ => unreachable!(),
        };
    }

    let source = LogFileJournal::new_readonly(inp).unwrap_or_else(|e| die(format!("{}: new_readonly: {e}", inp.display())));
    remove_if_exists(out);
    let target = LogFileJournal::new(out).unwrap_or_else(|e| die(format!("{}: LogFileJournal::new: {e}", out.display())));
    let target = builder.build(target);
    copy_journal(&source, &target).unwrap_or_else(|e| die(format!("copy_journal: {e}")));
    target.flush().unwrap_or_else(|e| die(format!("flush: {e}")));
    drop(target);
    drop(source);

    print_manifest(codec, meta, out);
}

/// sha256 and length of a (possibly large, sparse) file, streamed.
fn sha256_file(p: &Path) -> (u64, String) {
    let mut f = std::fs::File::open(p).unwrap_or_else(|e| die(format!("{}: {e}", p.display())));
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).unwrap_or_else(|e| die(format!("{}: {e}", p.display())));
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    (n, shared::hex(&h.finalize()))
}

/// `oracle memfile IN MEMOUT [--at N]`
///
/// Every entry of `LogFileJournal::new_readonly(IN)` goes to `MemFileJournal::new(MEMOUT).write`
/// (MEMOUT is deleted first). With `--at N` it stops right after the N-th SnapshotV1 entry
/// (1-based) has been written. Prints a JSON summary of MEMOUT.
pub fn cmd_memfile(meta: &Meta, args: &[String]) {
    let mut pos: Vec<PathBuf> = Vec::new();
    let mut at: Option<u64> = None;
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--at" {
            let n = args.get(i + 1).and_then(|s| s.parse::<u64>().ok()).filter(|n| *n >= 1);
            at = Some(n.unwrap_or_else(|| die("--at needs a number >= 1".into())));
            i += 2;
        } else {
            pos.push(PathBuf::from(&args[i]));
            i += 1;
        }
    }
    if pos.len() != 2 {
        shared::usage();
    }
    let (inp, memout) = (&pos[0], &pos[1]);

    let source = LogFileJournal::new_readonly(inp).unwrap_or_else(|e| die(format!("{}: new_readonly: {e}", inp.display())));
    remove_if_exists(memout);
    let mem = MemFileJournal::new(memout).unwrap_or_else(|e| die(format!("{}: MemFileJournal::new: {e}", memout.display())));

    let mut written = 0u64;
    let mut snapshots = 0u64;
    let mut reached = false;
    loop {
        let r = source.read().unwrap_or_else(|e| die(format!("{}: read: {e}", inp.display())));
        let Some(r) = r else { break };
        let entry = r.into_inner();
        let is_snapshot = matches!(entry, JournalEntry::SnapshotV1 { .. });
        mem.write(entry).unwrap_or_else(|e| die(format!("MemFileJournal::write (entry {written}): {e}")));
        written += 1;
        if is_snapshot {
            snapshots += 1;
            if Some(snapshots) == at {
                reached = true;
                break;
            }
        }
    }
    mem.flush().unwrap_or_else(|e| die(format!("flush: {e}")));
    drop(mem);
    drop(source);

    let (size, sha) = sha256_file(memout);
    let v = json!({
        "file": basename(inp),
        "memfile": basename(memout),
        "size": size,
        "sha256": sha,
        "records_written": written,
        "at": at,
        "snapshots_written": snapshots,
        "at_reached": at.map(|_| reached),
        "version": meta.journal,
    });
    println!("{}", serde_json::to_string_pretty(&v).unwrap());
}

/// `oracle compact IN OUT`
///
/// OUT := a copy of IN, then exactly what `wasmer journal compact OUT` does:
/// `CompactingLogFileJournal::new(OUT)?.with_compact_on_drop()` and `drop` (that learns every
/// entry of OUT, compacts into `.compacting.OUT` and renames it over OUT). The drop swallows
/// errors (it only logs them), so the same compaction is also run on a scratch copy with an
/// explicit `compact_now()?`, whose errors are seen and whose result must be byte-identical.
/// Prints the manifest of OUT; the `CompactResult` goes to stderr.
pub fn cmd_compact(codec: &dyn Codec, meta: &Meta, args: &[String]) {
    if args.len() != 2 {
        shared::usage();
    }
    let (inp, out) = (PathBuf::from(&args[0]), PathBuf::from(&args[1]));
    let data = std::fs::read(&inp).unwrap_or_else(|e| die(format!("{}: {e}", inp.display())));
    // refuse what the oracle itself cannot read to the end cleanly
    let m = shared::read_manifest(codec, meta, &inp).unwrap_or_else(|e| die(e));
    if m["end"]["reason"] != "eof" || m["records"].as_array().unwrap().iter().any(|r| r["valid"] != true) {
        die(format!("{}: not a clean journal (end: {})", inp.display(), m["end"]));
    }

    let dir = out.parent().map(|p| p.to_path_buf()).filter(|p| !p.as_os_str().is_empty()).unwrap_or_else(|| PathBuf::from("."));
    let name = basename(&out);
    let staging = dir.join(format!(".compacting.{name}"));

    // 1. the CLI's way
    remove_if_exists(&out);
    remove_if_exists(&staging);
    std::fs::write(&out, &data).unwrap_or_else(|e| die(format!("{}: {e}", out.display())));
    {
        let compactor = CompactingLogFileJournal::new(&out)
            .unwrap_or_else(|e| die(format!("{}: CompactingLogFileJournal::new: {e}", out.display())))
            .with_compact_on_drop();
        drop(compactor);
    }
    if staging.exists() {
        die(format!("{}: compaction on drop left {} behind (it failed)", out.display(), staging.display()));
    }

    // 2. the same with an explicit compact_now(), to see errors and the CompactResult
    let check = dir.join(format!(".check.{name}"));
    let check_staging = dir.join(format!(".compacting..check.{name}"));
    remove_if_exists(&check);
    remove_if_exists(&check_staging);
    std::fs::write(&check, &data).unwrap_or_else(|e| die(format!("{}: {e}", check.display())));
    let result = {
        let mut j = CompactingLogFileJournal::new(&check)
            .unwrap_or_else(|e| die(format!("{}: CompactingLogFileJournal::new: {e}", check.display())));
        let r = j.compact_now().unwrap_or_else(|e| die(format!("{}: compact_now: {e}", check.display())));
        drop(j);
        r
    };
    let a = std::fs::read(&out).unwrap();
    let b = std::fs::read(&check).unwrap();
    remove_if_exists(&check);
    if a != b {
        die(format!("{}: compaction on drop and compact_now() gave different files", out.display()));
    }
    eprintln!(
        "compact {}: {} -> {} bytes, CompactResult {{ total_events: {}, total_size: {} }}",
        basename(&inp),
        data.len(),
        a.len(),
        result.total_events,
        result.total_size
    );

    print_manifest(codec, meta, &out);
}
