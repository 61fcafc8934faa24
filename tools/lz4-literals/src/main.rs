//! Reads lines of hex (each one `compress_prepend_size`-style buffer: a u32 LE size, then an
//! LZ4 block) and, for each, decompresses it with `lz4_flex::block::decompress_size_prepended`
//! of lz4_flex 0.11.7 and 0.14.2 -- the function wasmer-journal's serde `base64` helper calls
//! when `wasmer journal import` reads a byte field.  Also compresses the decompressed bytes
//! with each version's `compress_prepend_size`, which is what wasmer's export prints.
//!
//! Output, one line per input line, tab-separated:
//!   <line number> <decompressed hex, or "error: ..."> <0.14.2 verdict: "same" or "differs">
//!   <lz4_flex 0.11.7 compress_prepend_size hex> <0.14.2 compress hex: "same" or the hex>
use std::io::{self, BufRead, Write};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{:02x}", b)).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    let text = text.trim();
    assert!(text.len() % 2 == 0, "odd hex length");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn main() {
    let stdin = io::stdin();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for (number, line) in stdin.lock().lines().enumerate() {
        let line = line.expect("read");
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let buffer = unhex(&line);
        let old = lz4_flex_0_11::block::decompress_size_prepended(&buffer);
        let new = lz4_flex_0_14::block::decompress_size_prepended(&buffer);
        let (text, agree, compressed, compressed_new) = match (&old, &new) {
            (Ok(a), Ok(b)) => {
                let c11 = lz4_flex_0_11::block::compress_prepend_size(a);
                let c14 = lz4_flex_0_14::block::compress_prepend_size(a);
                (hex(a), if a == b { "same" } else { "differs" }, hex(&c11),
                 if c11 == c14 { "same".to_string() } else { hex(&c14) })
            }
            (Err(e), Err(_)) => (format!("error: {}", e), "same", String::new(), String::new()),
            _ => (format!("error in one version: {:?} / {:?}", old.is_ok(), new.is_ok()),
                  "differs", String::new(), String::new()),
        };
        writeln!(out, "{}\t{}\t{}\t{}\t{}", number + 1, text, agree, compressed, compressed_new)
            .expect("write");
    }
}
