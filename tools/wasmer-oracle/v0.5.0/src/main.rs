//! wasmer-journal oracle, see ../README.md. The code is shared with the other rkyv-0.7 release.
#[path = "../../shared.rs"]
mod shared;
#[path = "../../common_07.rs"]
mod common;
#[path = "../../journal_tools.rs"]
mod journal_tools;

fn main() {
    common::main(include_str!("../Cargo.lock"))
}
