#!/usr/bin/python3
"""Checks the op tables of the documents against the tables in the code
they describe, so the documents cannot drift from them.

    /usr/bin/python3 tests/conformance/doc_ops.py [DOC...]

DOC is one of the names below (all of them when none is given):

  ir        docs/ir.md section 3 lists exactly the ops of the float and
            tensor op tables (lib/ops/ops_float.c qp_ops_float,
            lib/ops/ops_tensor.c qp_ops_tensor); section 6's table (after
            "**Ops") the lowered ops of runtime/qp_ops.h's QP_RT_OPS in
            opcode order, each
            with its input count (required and [optional]), exactly the
            attributes of its row (parameter schema in order, then its extra
            attributes; a[N] with N's count, a[Co]-like for a[]), and as
            "from" ops exactly those of the lowering rules
            (stages/lower/lower.c rules[]), each listed at an op its rule's
            code writes (the rule function and the functions it calls)
  binary    docs/binary.md section 5: the same ops, opcodes and input counts,
            and per op as many parameter words as the schema has (x[256]
            counts 256, x[Co] stands for a[])
  onnx2ir   docs/man/onnx2ir.md's op table: exactly the ONNX ops of
            stages/onnx2ir/ops.c onnx_ops[]
  keras2ir  docs/man/keras2ir.md: "Layers:" lists exactly the classes of
            stages/keras2ir/layers.c layer_table[], "Activations:" exactly
            the names supported_activation() accepts
  lower     docs/man/lower.md step 3: "SRC -> DST" for exactly the ops of
            lower.c rules[], DST one the rule's code writes
  fakequant docs/ir.md section 4.4's table lists, in its first column,
            exactly the ops of lib/exec/fqexact.c rules[]
  quantize  docs/man/quantize.md step 4: "the weights of ..." names exactly
            the rules of stages/quantize/quantize.c with a weight, "except
            X's bounds" exactly those that keep parameters float

Like doc_tables.py it reads the sources themselves, not a tool's output.
Prints each difference and exits 1 when there is one.
"""
import os
import re
import sys

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def read(path):
    with open(os.path.join(TOP, path)) as f:
        return f.read()


def block(src, start):
    """The text from the line starting with start to the next "\\n}"."""
    i = src.index(start)
    return src[i:src.index("\n}", i)]


def section(doc, num):
    """Section "## num. ..." of a document, up to the next "## "."""
    sec = doc[doc.index("\n## %d. " % num) + 1:]
    return sec[:sec.find("\n## ") + 1 or len(sec)]


def table(text):
    """The rows (lists of cells) of the first table in text, without the
    header and separator rows."""
    rows, seen = [], False
    for line in text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if seen and not all(set(c) <= set("-: ") for c in cells):
                rows.append(cells)
            seen = True
        elif seen:
            break
    return rows


def strip_parens(s):
    """s without its (balanced, possibly nested) parenthesised parts."""
    out, depth = [], 0
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        elif not depth:
            out.append(ch)
    return "".join(out)


def split_top(s, sep=","):
    """s split at sep outside brackets."""
    parts, depth, cur = [], 0, ""
    for ch in s:
        depth += ch == "["
        depth -= ch == "]"
        if ch == sep and not depth:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    return parts + [cur.strip()] if cur.strip() else parts


def first_sentence(s):
    """s up to the first "." outside parentheses that ends a sentence."""
    depth = 0
    for i, ch in enumerate(s):
        depth += (ch == "(") - (ch == ")")
        if ch == "." and not depth and s[i + 1:i + 2] in ("", " ", "\n"):
            return s[:i]
    return s


def split_list(s):
    """A prose list "a, b, c and d" (parentheses dropped) as its items."""
    items = []
    for part in strip_parens(" ".join(s.split())).split(","):
        items += [p.strip() for p in re.split(r"\band\b", part) if p.strip()]
    return items


def same_list(what, doc, code, doc_name, code_name):
    """Reports names in one list but not the other, and duplicates."""
    bad = []
    for name, ops in ((doc_name, doc), (code_name, code)):
        for o in sorted(set(o for o in ops if ops.count(o) > 1)):
            bad.append("%s lists %s %s twice" % (name, what, o))
    for o in sorted(set(code) - set(doc)):
        bad.append("%s %s is in %s but not in %s" % (what, o, code_name, doc_name))
    for o in sorted(set(doc) - set(code)):
        bad.append("%s %s is in %s but not in %s" % (what, o, doc_name, code_name))
    if not code or not doc:
        bad.append("no %s found: %s %d, %s %d" % (what, code_name, len(code), doc_name, len(doc)))
    return bad


# ---- the code's tables ---------------------------------------------------------

def code_ops(path, table_name):
    body = block(read(path), "const qp_op_row %s[] = {" % table_name)
    # A row starts, one tab in, with a row macro whose first argument is
    # the op name; its continuation lines are indented further.
    return re.findall(r'^\t[A-Z_]+\("([A-Za-z0-9_]+)"', body, re.M)


def rt_ops():
    """runtime/qp_ops.h's QP_RT_OPS rows, in order."""
    src = read("runtime/qp_ops.h")
    src = src[src.index("#define QP_RT_OPS(X)"):]
    rows = []
    for m in re.finditer(r'X\((\w+),\s*"(\w+)",\s*(\d+),\s*(\d+),\s*(\d+),\s*(\d+),'
                         r'\s*(\w+),\s*(\w+),[\s\\]*"([^"]*)"\)', src):
        vec, _, extra = m.group(9).partition("|")
        rows.append({"name": m.group(2), "opcode": int(m.group(3)),
                     "in_min": int(m.group(4)), "in_max": int(m.group(5)),
                     "params": [schema_entry(e) for e in vec.split()],
                     "extra": [schema_entry(e) for e in extra.split()]})
    return rows


def schema_entry(e):
    """"a" -> (a, None), "a[N]" -> (a, N), "a[]" -> (a, 0); "?" dropped."""
    m = re.match(r"^(\w+)(?:\[(\d*)\])?\??$", e)
    if not m:
        raise SystemExit("runtime/qp_ops.h: bad schema entry %r" % e)
    return m.group(1), None if m.group(2) is None else int(m.group(2) or 0)


def lower_rules():
    """lower.c rules[] as (op, the Q ops its function's code writes): the
    op names in its body and in the bodies of the functions it calls."""
    src = read("stages/lower/lower.c")
    rules = re.findall(r'\{"(\w+)", (\w+)\}', block(src, "static const rule rules[] = {"))
    bodies = dict(re.findall(r"^static [\w ]+?\**(\w+)\([^;{]*?\)\n\{\n(.*?)\n\}$",
                             src, re.M | re.S))
    rt = set(r["name"] for r in rt_ops())

    def writes(fn, seen):
        if fn in seen or fn not in bodies:
            return set()
        seen.add(fn)
        out = set(re.findall(r'"(\w+)"', bodies[fn])) & rt
        for callee in re.findall(r"\b(\w+)\(", bodies[fn]):
            out |= writes(callee, seen)
        return out

    return [(op, writes(fn, set())) for op, fn in rules]


# ---- the documents -------------------------------------------------------------

def check_ir():
    doc = read("docs/ir.md")
    # Section 3: the first column of its first table, split at commas.
    doc3 = []
    for row in table(section(doc, 3)):
        doc3 += [o.strip() for o in row[0].split(",")]
    code3 = code_ops("lib/ops/ops_float.c", "qp_ops_float") + \
        code_ops("lib/ops/ops_tensor.c", "qp_ops_tensor")
    bad = same_list("op", doc3, code3, "docs/ir.md section 3",
                    "lib/ops/ops_float.c + lib/ops/ops_tensor.c")
    # Section 6: the table after "**Ops".
    sec6 = section(doc, 6)
    rows = table(sec6[sec6.index("**Ops"):])
    ops = rt_ops()
    by_name = dict((r["name"], r) for r in ops)
    rules = lower_rules()
    doc6 = [r[0].strip("`") for r in rows]
    where = "docs/ir.md section 6"
    bad += same_list("lowered op", doc6, [r["name"] for r in ops], where, "runtime/qp_ops.h")
    if not bad and doc6 != [r["name"] for r in ops]:
        bad.append("%s does not list the lowered ops in opcode order" % where)
    sources = []
    for cells in rows:
        op = cells[0].strip("`")
        if op not in by_name or len(cells) < 4:
            continue
        r = by_name[op]
        bad += arity(where, op, cells[1], r)
        # Attributes: `name` or `name[count]`; "—" for none.
        got = re.findall(r"`(\w+)(?:\[(\w*)\])?`", cells[2])
        names = [n for n, _ in got]
        want = r["params"] + r["extra"]
        vec = [n for n, _ in r["params"]]
        if sorted(names) != sorted(n for n, _ in want):
            bad.append("%s: op %s has attributes %s, runtime/qp_ops.h %s" %
                       (where, op, " ".join(names) or "none", " ".join(n for n, _ in want) or "none"))
            got = []
        elif [n for n in names if n in vec] != vec:
            bad.append("%s: op %s lists its parameter attributes out of the schema's order (%s)" %
                       (where, op, " ".join(vec)))
        count = dict(want)
        for n, c in got:
            if count[n] == 0 and n in vec and not (c and not c.isdigit()):
                bad.append("%s: op %s attribute %s is any number of ints; write it %s[Co]-like" %
                           (where, op, n, n))
            elif c and (c.isdigit() != (count[n] is not None and count[n] > 0) or
                        (c.isdigit() and int(c) != count[n])):
                bad.append("%s: op %s attribute %s[%s], runtime/qp_ops.h %s" %
                           (where, op, n, c, n + ("[%d]" % count[n] if count[n] else "[]"
                                                  if count[n] == 0 else "")))
        # "from": the first capitalised word of each item is a source op.
        for item in split_top(strip_parens(cells[3])):
            m = re.search(r"\b[A-Z]\w*", item)
            if not m:
                continue
            src = m.group(0)
            sources.append(src)
            rule = [w for o, w in rules if o == src]
            if rule and op not in rule[0]:
                bad.append("%s: op %s is said to come from %s, but lower's rule for %s writes %s" %
                           (where, op, src, src, " ".join(sorted(rule[0])) or "no lowered op"))
    bad += same_list("lowered source op", sorted(set(sources)), [o for o, _ in rules],
                     where + " (from)", "stages/lower/lower.c rules[]")
    return bad


def arity(where, op, cell, r):
    """Input count of "x [..], w, [b [..]]" (bracketed: optional)."""
    items = split_top(strip_parens(cell))
    opt = sum(1 for i in items if i.startswith("["))
    # "[x2 … x16]": optional inputs 2 to 16, each one item.
    for i in items:
        m = re.match(r"\[\w*?(\d+) … \w*?(\d+)\]$", i)
        if m:
            extra = int(m.group(2)) - int(m.group(1))
            opt += extra
            items = items + [i] * extra
    if (len(items) - opt, len(items)) != (r["in_min"], r["in_max"]):
        return ["%s: op %s has %d required and %d optional inputs, runtime/qp_ops.h %d and %d" %
                (where, op, len(items) - opt, opt, r["in_min"], r["in_max"] - r["in_min"])]
    return []


def check_binary():
    rows = table(section(read("docs/binary.md"), 5))
    ops = rt_ops()
    by_name = dict((r["name"], r) for r in ops)
    where = "docs/binary.md section 5"
    names = [c[1] for c in rows]
    bad = same_list("lowered op", names, [r["name"] for r in ops], where, "runtime/qp_ops.h")
    if not bad and names != [r["name"] for r in ops]:
        bad.append("%s does not list the lowered ops in opcode order" % where)
    for cells in rows:
        if cells[1] not in by_name or len(cells) < 4:
            continue
        r = by_name[cells[1]]
        if cells[0] != str(r["opcode"]):
            bad.append("%s: op %s has code %s, runtime/qp_ops.h %d" %
                       (where, cells[1], cells[0], r["opcode"]))
        bad += arity(where, cells[1], cells[2].split("→")[0], r)
        # Parameter words: "—" none, x[256] 256 ints, x[Co] any number.
        doc = []
        for w in strip_parens(cells[3]).split():
            m = re.match(r"^\w+(?:\[(\w+)\])?$", w)
            if w == "—":
                continue
            if not m:
                bad.append("%s: op %s: cannot read parameter %r" % (where, cells[1], w))
            elif m.group(1) and m.group(1).isdigit():
                doc += ["int"] * int(m.group(1))
            else:
                doc += ["ints"] if m.group(1) else ["int"]
        want = []
        for _, c in r["params"]:
            want += ["ints"] if c == 0 else ["int"] * (c or 1)
        if doc != want:
            bad.append("%s: op %s lists %d fixed and %d variable-length parameters, "
                       "runtime/qp_ops.h %d and %d" %
                       (where, cells[1], doc.count("int"), doc.count("ints"),
                        want.count("int"), want.count("ints")))
    return bad


def check_onnx2ir():
    src = block(read("stages/onnx2ir/ops.c"), "const onnx_op onnx_ops[] = {")
    code = [a or b for a, b in re.findall(r'^\t(?:[A-Z]+\("(\w+)"\)|\{"(\w+)")', src, re.M)]
    doc = []
    for row in table(read("docs/man/onnx2ir.md")):
        # "initializers" is a row about the graph, not an op.
        doc += [o.strip() for o in row[0].split(",") if o.strip()[:1].isupper()]
    return same_list("ONNX op", doc, code, "docs/man/onnx2ir.md", "stages/onnx2ir/ops.c onnx_ops[]")


def expand_slash(item):
    """"MaxPooling1D/2D" -> MaxPooling1D MaxPooling2D; "a / b" -> a b."""
    parts = [p.strip() for p in item.split("/")]
    out = [parts[0]]
    for p in parts[1:]:
        m = re.match(r"^(\w*?)\d+D$", out[0])
        out.append(m.group(1) + p if m and re.match(r"^\d+D$", p) else p)
    return out


def check_keras2ir():
    doc = read("docs/man/keras2ir.md")
    src = read("stages/keras2ir/layers.c")
    layers = re.findall(r'^\t\{"(\w+)", ', block(src, "static const keras_layer_def layer_table[] = {"),
                        re.M)
    acts = re.findall(r'"(\w+)"', block(src, "static int supported_activation(const char *act)"))
    doc = " ".join(doc.split())
    text = doc[doc.index(" Layers: ") + 9:]
    text, _, act_text = text.partition("Activations: ")
    act_text = first_sentence(act_text)
    doc_layers, doc_acts = [], []
    for item in split_list(text.rstrip().rstrip(".")):
        doc_layers += expand_slash(item.split()[0])
    for item in split_list(act_text):
        doc_acts += [a.split()[0] for a in expand_slash(item)]
    return same_list("Keras layer", doc_layers, layers, "docs/man/keras2ir.md (Layers:)",
                     "stages/keras2ir/layers.c layer_table[]") + \
        same_list("Keras activation", doc_acts, acts, "docs/man/keras2ir.md (Activations:)",
                  "stages/keras2ir/layers.c supported_activation()")


def check_lower():
    doc = " ".join(read("docs/man/lower.md").split())
    text = doc[doc.index("replaces each float op by its integer op —") + 42:]
    text = text[:text.index("— with")]
    rules = lower_rules()
    writes = dict(rules)
    rt = [r["name"] for r in rt_ops()]
    where = "docs/man/lower.md (step 3)"
    bad, srcs = [], []
    for item in split_top(strip_parens(text)):
        if "→" not in item:
            bad.append("%s: %r is not 'OP → QOP'" % (where, item))
            continue
        left, dst = [s.strip() for s in item.split("→")]
        if dst not in rt:
            bad.append("%s: %s is not a lowered op of runtime/qp_ops.h" % (where, dst))
        for piece in left.split("/"):
            for p in re.split(r"\band\b", piece):
                m = re.search(r"\b[A-Z]\w*", p)
                if not m:
                    continue
                srcs.append(m.group(0))
                if m.group(0) in writes and dst not in writes[m.group(0)]:
                    bad.append("%s: %s → %s, but lower's rule for %s writes %s" %
                               (where, m.group(0), dst, m.group(0),
                                " ".join(sorted(writes[m.group(0)])) or "no lowered op"))
    return bad + same_list("lowered source op", srcs, [o for o, _ in rules], where,
                           "stages/lower/lower.c rules[]")


def check_quantize():
    doc = " ".join(read("docs/man/quantize.md").split())
    rules = re.findall(r'\{"(\w+)", (-?\d+), (-?\d+), \w+, (\d+)\}',
                       block(read("stages/quantize/quantize.c"), "static const quant_rule rules[] = {"))
    weights = re.search(r"quantizes the weights of (.+?) per output channel", doc)
    bounds = re.search(r"except (.+?), which stay float", doc)
    where = "docs/man/quantize.md (step 4)"
    if not weights or not bounds:
        return ["%s: no 'the weights of ... per output channel' or 'except ..., which stay float'" %
                where]
    doc_w = [i.split()[0] for i in split_list(weights.group(1))]
    doc_f = re.findall(r"\b(\w+)'s\b", bounds.group(1))
    return same_list("op with weights", doc_w, [o for o, w, _, _ in rules if int(w) >= 0],
                     where, "stages/quantize/quantize.c rules[]") + \
        same_list("op with float parameters", doc_f, [o for o, _, _, f in rules if int(f)],
                  where + " (except ...)", "stages/quantize/quantize.c rules[]")


def check_fakequant():
    doc = read("docs/ir.md")
    sec = doc[doc.index("\n### 4.4 "):]
    sec = sec[:sec.index("\n## ")]
    ops = []
    for row in table(sec):
        ops += [o for o in re.findall(r"\b[A-Z]\w*", strip_parens(row[0]))]
    src = block(read("lib/exec/fqexact.c"), "} rules[] = {")
    code = re.findall(r'^\t\{"(\w+)", ', src, re.M)
    return same_list("integer-exact op", ops, code, "docs/ir.md section 4.4",
                     "lib/exec/fqexact.c rules[]")


CHECKS = {"ir": check_ir, "fakequant": check_fakequant, "binary": check_binary, "onnx2ir": check_onnx2ir,
          "keras2ir": check_keras2ir, "lower": check_lower, "quantize": check_quantize}


def main(argv):
    bad = 0
    for name in argv or sorted(CHECKS):
        if name not in CHECKS:
            print("doc_ops.py: unknown document %r (one of %s)" % (name, ", ".join(sorted(CHECKS))))
            return 2
        for line in CHECKS[name]():
            print(line)
            bad = 1
    return bad


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
