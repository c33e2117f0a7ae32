#!/usr/bin/python3
"""Checks that docs/ir.md's float op table (section 3) lists exactly the ops
of the code's float and tensor op tables (lib/ops/ops_float.c qp_ops_float,
lib/ops/ops_tensor.c qp_ops_tensor), so the document cannot drift from them.

    /usr/bin/python3 tests/conformance/doc_ops.py

Like doc_tables.py it reads the sources themselves, not a tool's output:
the op names are the first string of each row of the two C tables (a
row is a macro call one tab in), and the
document's are the first column of the first table under "## 3.", split at
commas.  Prints each difference and exits 1 when there is one.
"""
import os
import re
import sys

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def code_ops(path, table):
    with open(os.path.join(TOP, path)) as f:
        src = f.read()
    start = src.index("const qp_op_row %s[] = {" % table)
    body = src[start:src.index("\n};", start)]
    # A row starts, one tab in, with a row macro whose first argument is
    # the op name; its continuation lines are indented further.
    return re.findall(r'^\t[A-Z_]+\("([A-Za-z0-9_]+)"', body, re.M)


def doc_ops(path):
    with open(os.path.join(TOP, path)) as f:
        doc = f.read()
    sec = doc[doc.index("\n## 3. "):]
    sec = sec[:sec.index("\n## 4. ")]
    ops, in_table = [], False
    for line in sec.splitlines():
        if line.startswith("|"):
            in_table = True
            cell = line.split("|")[1].strip()
            if cell in ("op", "---") or set(cell) <= set("-:"):
                continue
            ops += [o.strip() for o in cell.split(",")]
        elif in_table:
            break
    return ops


def main():
    code = code_ops("lib/ops/ops_float.c", "qp_ops_float") + \
        code_ops("lib/ops/ops_tensor.c", "qp_ops_tensor")
    doc = doc_ops("docs/ir.md")
    bad = 0
    if not code or not doc:
        print("no ops found: code %d, docs/ir.md %d" % (len(code), len(doc)))
        return 1
    for what, ops in (("lib/ops/ops_float.c + lib/ops/ops_tensor.c", code), ("docs/ir.md", doc)):
        for o in sorted(set(o for o in ops if ops.count(o) > 1)):
            print("%s lists op %s twice" % (what, o))
            bad = 1
    for o in sorted(set(code) - set(doc)):
        print("op %s is in the op tables but not in docs/ir.md section 3" % o)
        bad = 1
    for o in sorted(set(doc) - set(code)):
        print("op %s is in docs/ir.md section 3 but in no float or tensor op table" % o)
        bad = 1
    return bad


if __name__ == "__main__":
    sys.exit(main())
