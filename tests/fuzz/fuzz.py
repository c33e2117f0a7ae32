#!/usr/bin/python3
"""Mutation fuzzing of the qpipe readers (tests/fuzz/README.md).

Runs TOOL on mutants of the seed files and checks the promise every stage
makes about bad input: exit 0 or 1 (never a signal, never 2 for a file
problem), no sanitizer report, an error that starts with 'TOOL: ', and no
output file left behind after an error.  Mutants that break the promise are
kept in the --keep directory for replay.

Mutations follow the file's structure so they get past the first checksum
or parser: ONNX models are changed through the onnx package (attributes,
initializer dims and data, node inputs, op types, shapes, opsets), .keras
archives in their config.json (and sometimes their weights' bytes), Keras
.h5 files in their model_config attribute (through h5py), device binaries
in their u32 fields with the CRC-32C recomputed, JSON files (TPCs) member
by member, IR
files in their JSON header with the frame and CRC-32C rewritten; anything
else gets byte-level flips, truncations and splices.

Development tool only (Debian's python3 and python3-onnx); qpipe never
runs it.
"""
import argparse
import io
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures', 'gen'))
from qpir import crc32c  # noqa: E402  (the spec-only IR reader/writer's CRC-32C)

EXTREME = [-1, 0, 1, 2, 3, -2**31, 2**31 - 1, 2**40, 2**62, -2**62, 2**63 - 1, -2**63]
OPS = ['Conv', 'Relu', 'Add', 'MatMul', 'Gemm', 'Reshape', 'Transpose', 'Concat', 'Slice',
       'Pad', 'Resize', 'MaxPool', 'AveragePool', 'Softmax', 'Gather', 'Split', 'Tile',
       'Expand', 'Squeeze', 'Unsqueeze', 'ReduceMean', 'ConvTranspose', 'DepthToSpace',
       'BatchNormalization', 'Flatten']


def mutate_bytes(rng, b):
    b = bytearray(b)
    if not b:
        return bytes(rng.randrange(256) for _ in range(8))
    kind = rng.choice(['flip', 'trunc', 'overwrite', 'insert', 'splice'])
    if kind == 'flip':
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    elif kind == 'trunc':
        b = b[:rng.randrange(len(b))]
    elif kind == 'overwrite':
        i, v = rng.randrange(len(b)), rng.choice([0, 0xff, 0x7f, 0x80])
        for j in range(i, min(len(b), i + rng.randint(1, 16))):
            b[j] = v
    elif kind == 'insert':
        i = rng.randrange(len(b))
        b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    else:
        i, j = rng.randrange(len(b)), rng.randrange(len(b))
        b[j:j] = b[i:i + rng.randint(1, 64)]
    return bytes(b)


def mutate_json(rng, obj):
    """Changes, deletes or retypes one random member of a JSON value."""
    paths = []

    def walk(o, p):
        items = o.items() if isinstance(o, dict) else enumerate(o) if isinstance(o, list) else ()
        for k, v in items:
            paths.append(p + [k])
            walk(v, p + [k])
    walk(obj, [])
    if not paths:
        return obj
    path = rng.choice(paths)
    parent = obj
    for k in path[:-1]:
        parent = parent[k]
    k, cur = path[-1], parent[path[-1]]
    how = rng.choice(['del', 'neg', 'zero', 'big', 'str', 'null', 'list', 'type'])
    if how == 'del':
        del parent[k]
    elif how == 'neg':
        is_num = isinstance(cur, (int, float)) and not isinstance(cur, bool)
        parent[k] = -cur - 1 if is_num else -1
    elif how == 'zero':
        parent[k] = 0
    elif how == 'big':
        parent[k] = 2**40
    elif how == 'str':
        parent[k] = 'zz'
    elif how == 'null':
        parent[k] = None
    elif how == 'list':
        parent[k] = [] if isinstance(cur, list) else [cur, cur]
    else:
        parent[k] = 7 if isinstance(cur, dict) else {}
    return obj


def mutate_keras_zip(rng, b):
    z = zipfile.ZipFile(io.BytesIO(b))
    files = {i.filename: z.read(i.filename) for i in z.infolist()}
    cfg = json.loads(files['config.json'])
    for _ in range(rng.randint(1, 3)):
        cfg = mutate_json(rng, cfg)
    files['config.json'] = json.dumps(cfg).encode()
    if rng.random() < 0.3 and 'model.weights.h5' in files:
        files['model.weights.h5'] = mutate_bytes(rng, files['model.weights.h5'])
    out = io.BytesIO()
    with zipfile.ZipFile(out, 'w') as w:
        for name, data in files.items():
            w.writestr(name, data)
    return out.getvalue()


def mutate_keras_h5(rng, b):
    """Mutates a legacy Keras .h5's model_config attribute (JSON)."""
    import h5py
    buf = io.BytesIO(b)
    with h5py.File(buf, 'r+') as f:
        raw = f.attrs['model_config']
        cfg = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        for _ in range(rng.randint(1, 3)):
            cfg = mutate_json(rng, cfg)
        f.attrs['model_config'] = json.dumps(cfg)
    return buf.getvalue()


def mutate_ir_values(rng, header):
    """Sets one attribute, quant or stats number to an extreme but
    well-typed value, so the mutant passes the schema and reaches the op
    checks and kernels."""
    nodes = header.get('graph', {}).get('nodes', [])
    tensors = header.get('tensors', [])
    big = [v for v in EXTREME if abs(v) <= 2**53]
    if nodes and rng.random() < 0.6:
        attrs = rng.choice(nodes).get('attrs') or {}
        if not attrs:
            return
        a = attrs[rng.choice(list(attrs))]
        if 'int' in a:
            a['int'] = rng.choice(big)
        elif 'ints' in a and a['ints']:
            a['ints'][rng.randrange(len(a['ints']))] = rng.choice(big)
        elif 'float' in a:
            a['float'] = rng.choice([0.0, -1.0, 1e38, -1e38, 1e-45])
        elif 'floats' in a and a['floats']:
            a['floats'][rng.randrange(len(a['floats']))] = rng.choice([0.0, -1.0, 1e38])
    elif tensors:
        t = rng.choice(tensors)
        for key in ('quant', 'stats'):
            if key in t and rng.random() < 0.5:
                q = t[key]
                k = rng.choice(list(q))
                if isinstance(q[k], bool):
                    q[k] = not q[k]
                elif isinstance(q[k], (int, float)):
                    q[k] = rng.choice([0, 1, -1, 2, 16, 32, 2**31, 1e-30, 1e30])
                elif isinstance(q[k], list) and q[k]:
                    q[k][rng.randrange(len(q[k]))] = rng.choice([0, -1, 127, 128, -129, 1e-30, 1e30])
                return
        if t.get('shape'):
            t['shape'][rng.randrange(len(t['shape']))] = rng.choice([0, 1, 2, 3, 2**20])


def mutate_ir(rng, b):
    """Mutates the JSON header and rebuilds a valid frame (docs/ir.md section 1)."""
    hlen = struct.unpack_from('<Q', b, 16)[0]
    header = json.loads(b[24:24 + hlen])
    blob = b[(24 + hlen + 63) // 64 * 64:len(b) - 16]
    for _ in range(rng.randint(1, 3)):
        if rng.random() < 0.6:
            mutate_ir_values(rng, header)
        else:
            header = mutate_json(rng, header)
    h = json.dumps(header, separators=(',', ':')).encode()
    out = bytearray(b[:16]) + struct.pack('<Q', len(h)) + h
    out += bytes((24 + len(h) + 63) // 64 * 64 - len(out)) + blob
    out += struct.pack('<Q', len(out) + 16)
    out += struct.pack('<I', crc32c(bytes(out))) + b'QPEN'
    return bytes(out)


def mutate_onnx(rng, b):
    import onnx
    from onnx import AttributeProto, TensorProto
    m = onnx.load_from_string(b)
    g = m.graph
    for _ in range(rng.randint(1, 2)):
        kind = rng.choice(['attr', 'attr', 'attr', 'init', 'input', 'op', 'shape', 'opset', 'dtype'])
        if kind == 'attr' and len(g.node):
            n = rng.choice(g.node)
            if not len(n.attribute):
                continue
            a = rng.choice(n.attribute)
            if a.type == AttributeProto.INTS and len(a.ints):
                a.ints[rng.randrange(len(a.ints))] = rng.choice(EXTREME)
                if rng.random() < 0.2:
                    a.ints.append(1)
                if rng.random() < 0.2:
                    del a.ints[-1]
            elif a.type == AttributeProto.INT:
                a.i = rng.choice(EXTREME)
            elif a.type == AttributeProto.FLOAT:
                a.f = rng.choice([float('nan'), float('inf'), -1.0, 0.0, 1e30])
            elif a.type == AttributeProto.STRING:
                a.s = rng.choice([b'', b'zz', b'NOTSET', b'SAME_UPPER'])
            elif a.type == AttributeProto.TENSOR and len(a.t.dims):
                a.t.dims[rng.randrange(len(a.t.dims))] = rng.choice([0, 1, 5, 2**40])
        elif kind == 'init' and len(g.initializer):
            t = rng.choice(g.initializer)
            if rng.random() < 0.5 and len(t.dims):
                t.dims[rng.randrange(len(t.dims))] = rng.choice([0, 1, 2, 7, 2**33, -3])
            elif t.raw_data and t.data_type == TensorProto.INT64:
                vals = list(struct.unpack('<%dq' % (len(t.raw_data) // 8), t.raw_data))
                if vals:
                    vals[rng.randrange(len(vals))] = rng.choice(EXTREME)
                    t.raw_data = struct.pack('<%dq' % len(vals), *vals)
            elif t.raw_data:
                t.raw_data = t.raw_data[:rng.randrange(len(t.raw_data) + 1)]
        elif kind == 'input' and len(g.node):
            n = rng.choice(g.node)
            c = rng.random()
            if c < 0.3 and len(n.input):
                del n.input[-1]
            elif c < 0.6 and len(n.input):
                n.input[rng.randrange(len(n.input))] = rng.choice(
                    ['', 'nope', n.output[0] if len(n.output) else 'x'])
            elif c < 0.8:
                n.input.append(rng.choice(['', n.input[0] if len(n.input) else 'x']))
            elif len(n.output):
                n.output[0] = rng.choice(['', g.node[0].output[0] if len(g.node[0].output) else 'y'])
        elif kind == 'op' and len(g.node):
            rng.choice(g.node).op_type = rng.choice(OPS)
        elif kind == 'shape' and len(g.input):
            tt = rng.choice(g.input).type.tensor_type
            if tt.HasField('shape') and len(tt.shape.dim):
                rng.choice(tt.shape.dim).dim_value = rng.choice([0, 1, 3, 2**31, 2**40])
        elif kind == 'opset' and len(m.opset_import):
            m.opset_import[0].version = rng.choice([1, 7, 11, 13, 17, 20, 21, 99])
        elif kind == 'dtype' and len(g.input):
            rng.choice(g.input).type.tensor_type.elem_type = rng.choice([0, 1, 2, 6, 7, 9, 10, 11, 16, 99])
    return m.SerializeToString()


def mutate_device_bin(rng, b):
    """Changes u32/i32 fields or bytes of a device binary (docs/binary.md)
    and recomputes its CRC-32C, so the mutant reaches the field checks."""
    b = bytearray(b)
    body = len(b) - 8
    for _ in range(rng.randint(1, 4)):
        if rng.random() < 0.6:
            i = rng.randrange(body // 4) * 4
            v = rng.choice([0, 1, 2, 3, 7, 16, 64, 255, 256, 65535, 65536, 2**31 - 1, 2**31, 2**32 - 1])
            struct.pack_into('<I', b, i, v)
        else:
            b[rng.randrange(body)] ^= 1 << rng.randrange(8)
    struct.pack_into('<I', b, body, crc32c(bytes(b[:body])))
    return bytes(b)


def mutate_json_file(rng, b):
    """A JSON document (a TPC) with one to three members changed."""
    doc = json.loads(b)
    for _ in range(rng.randint(1, 3)):
        doc = mutate_json(rng, doc)
    return json.dumps(doc, indent=1).encode()


def mutate(rng, path, data):
    ext = os.path.splitext(path)[1]
    structured = {'.onnx': mutate_onnx, '.keras': mutate_keras_zip, '.ir': mutate_ir,
                  '.h5': mutate_keras_h5, '.hdf5': mutate_keras_h5,
                  '.bin': mutate_device_bin, '.json': mutate_json_file}.get(ext)
    if structured and rng.random() < 0.85:
        try:
            return structured(rng, data)
        except Exception:   # a seed the structured mutator cannot parse
            pass
    return mutate_bytes(rng, data)


def check(tool, proc, out_path):
    """The promise broken by one run, or None."""
    err = proc.stderr.decode(errors='replace')
    # With allocator_may_return_null, an absurd request is a NULL the code
    # handles, and ASan only warns about it.
    reports = '\n'.join(line for line in err.splitlines()
                        if 'AddressSanitizer failed to allocate' not in line)
    if proc.returncode not in (0, 1):
        return 'exit %d' % proc.returncode
    if 'Sanitizer' in reports or 'runtime error:' in reports:
        return 'sanitizer report'
    if proc.returncode == 1 and not reports.startswith(tool + ': '):
        return 'error not in the "%s: file: message" form' % tool
    if proc.returncode == 1 and out_path and os.path.exists(out_path):
        return 'output left behind after an error'
    return None


def main():
    ap = argparse.ArgumentParser(
        description='Mutation-fuzz a qpipe tool (see tests/fuzz/README.md).',
        epilog='In TOOL_ARGS, @OUT@ stands for the output path and @IN@ for the mutant '
               '(default: the mutant is the first argument). Example: '
               'tests/fuzz/fuzz.py --bin build-asan/bin --runs 500 onnx2ir '
               'tests/fixtures/onnx/*.onnx -- -o @OUT@')
    ap.add_argument('--bin', default='build-asan/bin', help='directory of the tools (default: %(default)s)')
    ap.add_argument('--runs', type=int, default=200, help='number of mutants (default: %(default)s)')
    ap.add_argument('--seed', type=int, default=1, help='random seed; same seed, same mutants')
    ap.add_argument('--keep', default='fuzz-failures', help='where failing mutants go (default: %(default)s)')
    ap.add_argument('--timeout', type=float, default=60, help='seconds per run (default: %(default)s)')
    ap.add_argument('tool')
    ap.add_argument('seeds', nargs='+', help='seed files; then -- and the tool arguments')
    argv = sys.argv[1:]
    cut = argv.index('--') if '--' in argv else len(argv)
    args, tool_args = ap.parse_args(argv[:cut]), argv[cut + 1:]
    rng = random.Random(args.seed)
    supp = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lsan.supp')
    env = dict(os.environ, ASAN_OPTIONS='detect_leaks=1:allocator_may_return_null=1',
               LSAN_OPTIONS='suppressions=%s:print_suppressions=0' % supp,
               UBSAN_OPTIONS='halt_on_error=1:print_stacktrace=1')
    failures = accepted = 0
    with tempfile.TemporaryDirectory(prefix='qpipe-fuzz-') as work:
        for i in range(args.runs):
            seed_path = rng.choice(args.seeds)
            ext = os.path.splitext(seed_path)[1]
            with open(seed_path, 'rb') as f:
                mutant = mutate(rng, seed_path, f.read())
            in_path, out_path = os.path.join(work, 'in' + ext), os.path.join(work, 'out')
            with open(in_path, 'wb') as f:
                f.write(mutant)
            if os.path.exists(out_path):
                os.unlink(out_path)
            uses_out = any('@OUT@' in a for a in tool_args)
            subst = [a.replace('@OUT@', out_path).replace('@IN@', in_path) for a in tool_args]
            first = [] if any('@IN@' in a for a in tool_args) else [in_path]
            cmd = [os.path.join(args.bin, args.tool)] + first + subst
            try:
                proc = subprocess.run(cmd, capture_output=True, timeout=args.timeout, env=env)
                problem = check(args.tool, proc, out_path if uses_out else None)
                accepted += proc.returncode == 0
                detail = proc.stderr.decode(errors='replace')[:400]
            except subprocess.TimeoutExpired:
                problem, detail = 'timeout', ''
            if problem:
                failures += 1
                os.makedirs(args.keep, exist_ok=True)
                kept = os.path.join(args.keep, '%s_%d_%d%s' % (args.tool, args.seed, i, ext))
                shutil.copy(in_path, kept)
                print('%s: %s (from %s)\n  %s' % (kept, problem, seed_path,
                                                  detail.replace('\n', '\n  ')), flush=True)
    # Accepted mutants are not failures (many edits keep a file valid); the
    # count shows how deep the mutations got past the readers' checks.
    print('%s: %d runs, %d accepted, %d failures' % (args.tool, args.runs, accepted, failures))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
