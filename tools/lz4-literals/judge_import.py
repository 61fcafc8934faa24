#!/usr/bin/env python3
"""Judge ``export --lz4-literals-only`` with wasmer's own import code.

For each journal of testdata/wasmer-journal-0.705.0 named below, export it
with logfile_journal (``--wasmer-exact --lz4-literals-only --layout
wasmer-6``: the values as wasmer prints them, which is what its import
accepts, the byte fields as literals-only LZ4 blocks, and the JSON names
of 0.705.0, as phases.journal alone does not tell its era), hand the lines
to the
wasmer-oracle built on wasmer-journal 0.705.0 (its ``json`` command:
``serde_json::from_str::<JournalEntry>``, which is what ``wasmer journal
import`` does with a line, then ``serde_json::to_string`` of the entry,
which is what ``wasmer journal export`` prints), and record, per line, the
sha256 of what went in and of what came out, in
testdata/lz4-literals/wasmer-import.tsv.  The test suite checks that that
export of ours still hashes to the first, and our ``--wasmer-exact``
export (lz4_flex's blocks) to the second: wasmer reads the literal blocks
back to the entries it would itself have printed.

    tools/lz4-literals/judge_import.py            # rewrite the verdict
    tools/lz4-literals/judge_import.py --check    # compare with it

Needs the oracle built (tools/wasmer-oracle/README.md, package v0.705.0).
"""
import hashlib
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
JOURNALS = ("variants.journal", "phases.journal")
TARGET = os.environ.get("CARGO_TARGET_DIR",
                        os.path.join(ROOT, "tools", "wasmer-oracle", "target"))
ORACLE = os.path.join(TARGET, "release", "wasmer-oracle-0_705_0")
VERDICT = os.path.join(ROOT, "testdata", "lz4-literals", "wasmer-import.tsv")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def verdict() -> str:
    rows = ["# journal\tline\tsha256 of our --wasmer-exact --lz4-literals-only line\t"
            "sha256 of wasmer-journal 0.705.0's serde_json::to_string of what it read"]
    with tempfile.TemporaryDirectory() as work:
        for name in JOURNALS:
            exported = os.path.join(work, name + ".jsonl")
            subprocess.run([sys.executable, os.path.join(ROOT, "logfile_journal.py"), "export",
                            "--wasmer-exact", "--lz4-literals-only", "--layout", "wasmer-6", "-o", exported,
                            os.path.join(ROOT, "testdata", "wasmer-journal-0.705.0", name)],
                           check=True)
            ours = open(exported, encoding="utf-8").read().splitlines()
            theirs = subprocess.run([ORACLE, "json", exported], check=True, capture_output=True,
                                    text=True).stdout.splitlines()
            assert len(ours) == len(theirs), (name, len(ours), len(theirs))
            for number, (line, wasmer) in enumerate(zip(ours, theirs), 1):
                if wasmer.startswith("error: "):
                    raise SystemExit("%s line %d: wasmer refuses it: %s" % (name, number, wasmer))
                rows.append("%s\t%d\t%s\t%s" % (name, number, sha256(line), sha256(wasmer)))
    return "\n".join(rows) + "\n"


def main() -> int:
    text = verdict()
    if sys.argv[1:] == ["--check"]:
        same = open(VERDICT, encoding="utf-8").read() == text
        print("testdata/lz4-literals/wasmer-import.tsv %s" % ("up to date" if same else "DIFFERS"))
        return 0 if same else 1
    with open(VERDICT, "w", encoding="utf-8") as stream:
        stream.write(text)
    print("wrote", VERDICT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
