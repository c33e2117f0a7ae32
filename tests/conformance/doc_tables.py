#!/usr/bin/python3
"""Rewrites the generated part of docs/conformance.md from a runner log.

    tests/conformance/run > /tmp/conformance.log
    /usr/bin/python3 tests/conformance/doc_tables.py /tmp/conformance.log

With --check before the log it writes nothing: it prints how the document
differs from what it would write and exits 1 when it does
(tests/cli/doc_tables.bats).

Everything from "## Result of the last run" to the end is regenerated: the
per-op table (the log's '# ' lines after the header line) and one table per
list (expected-skips, known-failures, node/VARIANTS.tsv), so the document
cannot disagree with the lists the runner reads.  The prose above that
heading is left alone.
"""
import difflib
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DOC = os.path.join(HERE, "..", "..", "docs", "conformance.md")


def rows(path):
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f
                if line.strip() and not line.startswith("#")]


def table(header, body):
    out = "| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n"
    return out + "".join("| " + " | ".join(r) + " |\n" for r in body)


def main():
    check = sys.argv[1] == "--check"
    with open(sys.argv[-1]) as f:
        log = f.read().splitlines()
    start = next(i for i, l in enumerate(log) if l.startswith("# op "))
    per_op = "\n".join(l[2:] for l in log[start:] if l.startswith("# ")) + "\n"
    total = re.split(r"\s+", per_op.strip().splitlines()[-1])
    with open(DOC) as f:
        old = f.read()
    doc = old[:old.index("## Result of the last run")]
    doc += """## Result of the last run

`known` = known failures (work to do), `skipped` = out of scope,
`upstream` = upstream forms refused by design (their variants are counted in
the other columns).  %s passed, %s failed.

```
%s```

## Out of scope (expected-skips)

Dtypes the IR does not have (it computes in float32 and holds float32,
int8..int64, uint8, bool), training-mode outputs (qpipe imports inference
graphs), non-tensor types, and a graph left with no inputs:

%s
## Known failures (to fix)

In scope, not working yet: each stops with a clear message naming the limit
(printed under the test's TAP line).  The op kernels and the importer own
these (lib/ops/ops_*.c, stages/onnx2ir).

%s
## Upstream forms refused by design (node/VARIANTS.tsv)

Each is also run as its variant (second column), which the tables above and
the per-op table count on its own.

%s""" % (total[1], total[2], per_op,
         table(["test", "reason"], rows(os.path.join(HERE, "expected-skips"))),
         table(["test", "reason"], rows(os.path.join(HERE, "known-failures"))),
         table(["upstream test", "variant", "why the upstream form is out of scope"],
               [[a, "`%s`" % b, c] for a, b, c in rows(os.path.join(HERE, "node", "VARIANTS.tsv"))]))
    if check:
        diff = list(difflib.unified_diff(old.splitlines(), doc.splitlines(),
                                         "docs/conformance.md", "from the run", lineterm=""))
        print("\n".join(diff))
        return 1 if diff else 0
    with open(DOC, "w") as f:
        f.write(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
