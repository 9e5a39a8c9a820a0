#!/usr/bin/env python3
"""Writes the reader fixtures: a split set and a big-endian file made by gguf-py's writer, and
one malformed file per reader rule (Spec/gguf.md §2), with the error each must raise.

    pip install gguf==0.19.0 numpy
    python3 Fixtures/gguf/make_reader_fixtures.py

- split/model-0000N-of-00003.gguf: gguf-py's `GGUFWriter(split_max_tensors=2)` (what
  `convert_hf_to_gguf.py --split-max-tensors 2` writes), five tensors over three shards.
- big-endian.gguf: gguf-py's writer with `endianess=GGUFEndian.BIG`.
- malformed/*.gguf and malformed/expected.json: gguf-py's writer refuses to write a broken
  file, so these are laid out by `layout()` below, which the script first checks against
  gguf-py: for the valid base it gives gguf-py's bytes exactly. Each malformed file is that
  base with one rule broken; expected.json gives, per file, the rule, the `WeightsError` code
  and a text its message must contain (the key, the tensor or the value), and whether
  gguf-py's own reader refuses the file too.

Deterministic: running it again gives the same bytes.
"""
import json
import os
import struct
import subprocess
import sys

import numpy as np
import gguf

HERE = os.path.dirname(os.path.abspath(__file__))
T = gguf.GGMLQuantizationType


def u32(v): return struct.pack("<I", v)
def u64(v): return struct.pack("<Q", v)
def string(b): return u64(len(b)) + b


# The valid base: four keys and two tensors, an F32 vector and a Q8_0 matrix.
A = np.arange(4, dtype=np.float32) * 0.5
B = gguf.quants.quantize(np.linspace(-1, 1, 64, dtype=np.float32).reshape(2, 32), T.Q8_0)


def base_pairs():
    return [
        (b"general.architecture", 8, string(b"fixture")),
        (b"test.count", 4, u32(7)),
        (b"test.flag", 7, b"\x01"),
        (b"test.list", 9, u32(5) + u64(3) + struct.pack("<3i", 1, 2, 3)),
    ]


def base_tensors():
    """(name, dimensions fastest first, ggml type, offset, bytes)."""
    return [(b"a", [4], 0, 0, A.tobytes()), (b"b", [32, 2], 8, 32, B.tobytes())]


def layout(pairs, tensors, magic=b"GGUF", version=3, tensor_count=None, key_count=None, alignment=32,
           cut=None, data_extra=b"", header_only=False):
    header = magic + u32(version) + u64(len(tensors) if tensor_count is None else tensor_count)
    header += u64(len(pairs) if key_count is None else key_count)
    for key, kind, payload in pairs:
        header += string(key) + u32(kind) + payload
    for name, dims, kind, offset, _ in tensors:
        header += string(name) + u32(len(dims)) + b"".join(u64(d) for d in dims) + u32(kind) + u64(offset)
    if header_only:
        return header
    out = header + b"\0" * (-len(header) % alignment)
    data = b""
    for _, _, _, offset, raw in sorted(tensors, key=lambda t: t[3]):
        if not raw:
            continue
        if len(data) < offset:
            data += b"\0" * (offset - len(data))
        data = data[:offset] + raw + data[offset + len(raw):]
        data += b"\0" * (-len(data) % alignment)
    out += data + data_extra
    return out[:cut] if cut is not None else out


def write_gguf_py_base(path):
    writer = gguf.GGUFWriter(path, "fixture")
    writer.add_uint32("test.count", 7)
    writer.add_bool("test.flag", True)
    writer.add_array("test.list", [1, 2, 3])
    writer.add_tensor("a", A)
    writer.add_tensor("b", B, raw_dtype=T.Q8_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def replace_pair(pairs, key, kind=None, payload=None, new_key=None):
    out = []
    for k, t, p in pairs:
        if k == key:
            out.append((new_key or k, t if kind is None else kind, p if payload is None else payload))
        else:
            out.append((k, t, p))
    return out


def replace_tensor(tensors, name, **changes):
    out = []
    for n, dims, kind, offset, raw in tensors:
        if n == name:
            dims, kind, offset, raw = (changes.get("dims", dims), changes.get("kind", kind),
                                       changes.get("offset", offset), changes.get("raw", raw))
        out.append((n, dims, kind, offset, raw))
    return out


def nested(depth):
    """An INT32 array inside depth − 1 arrays of one array each."""
    payload = u32(5) + u64(1) + struct.pack("<i", 1)
    for _ in range(depth - 1):
        payload = u32(9) + u64(1) + payload
    return payload


def malformed():
    """(file, rule, code, mention, bytes)."""
    p, t = base_pairs(), base_tensors()
    header_end = len(layout(p, t, header_only=True))
    return [
        ("bad-magic.gguf", 1, "unsupportedFormat", "GGUF", layout(p, t, magic=b"GGUG")),
        ("version-1.gguf", 2, "unsupportedFormat", "1", layout(p, t, version=1)),
        ("version-4.gguf", 2, "unsupportedFormat", "4", layout(p, t, version=4)),
        ("truncated-in-pairs.gguf", 3, "invalidHeader", "byte offset", layout(p, t, cut=60)),
        ("truncated-in-tensor-infos.gguf", 3, "invalidHeader", "byte offset", layout(p, t, cut=header_end - 5)),
        ("key-count-over-63-bits.gguf", 4, "validationOverflow", "byte offset", layout(p, t, key_count=2**64 - 1)),
        ("key-count-past-the-file.gguf", 5, "invalidHeader", "byte offset", layout(p, t, key_count=1000)),
        ("tensor-count-past-the-file.gguf", 5, "invalidHeader", "byte offset", layout(p, t, tensor_count=1000)),
        ("string-past-the-file.gguf", 6, "invalidHeader", "byte offset",
         layout(replace_pair(p, b"general.architecture", payload=u64(100000) + b"fixture"), t)),
        ("key-not-utf8.gguf", 7, "invalidHeader", "byte offset", layout(replace_pair(p, b"test.count", new_key=b"test.\xff"), t)),
        ("unknown-value-type.gguf", 8, "invalidHeader", "13", layout(replace_pair(p, b"test.count", kind=13), t)),
        ("unknown-array-item-type.gguf", 8, "invalidHeader", "13",
         layout(replace_pair(p, b"test.list", payload=u32(13) + u64(3) + struct.pack("<3i", 1, 2, 3)), t)),
        ("array-count-past-the-file.gguf", 9, "invalidHeader", "byte offset",
         layout(replace_pair(p, b"test.list", payload=u32(5) + u64(1 << 40) + struct.pack("<3i", 1, 2, 3)), t)),
        ("arrays-nested-9-deep.gguf", 10, "invalidHeader", "test.list",
         layout(replace_pair(p, b"test.list", payload=nested(9)), t)),
        ("bool-2.gguf", 11, "invalidData", "test.flag", layout(replace_pair(p, b"test.flag", payload=b"\x02"), t)),
        ("duplicate-key.gguf", 12, "invalidHeader", "test.count", layout(p + [(b"test.count", 4, u32(8))], t)),
        ("alignment-48.gguf", 13, "invalidData", "general.alignment",
         layout(p + [(b"general.alignment", 4, u32(48))], t, alignment=48)),
        ("alignment-0.gguf", 13, "invalidData", "general.alignment", layout(p + [(b"general.alignment", 4, u32(0))], t)),
        ("alignment-uint64.gguf", 13, "invalidData", "general.alignment", layout(p + [(b"general.alignment", 10, u64(32))], t)),
        ("duplicate-tensor-name.gguf", 14, "duplicateTensorName", "a",
         layout(p, t + [(b"a", [4], 0, 64, A.tobytes())])),
        ("no-dimensions.gguf", 15, "invalidData", "a", layout(p, replace_tensor(t, b"a", dims=[]))),
        ("five-dimensions.gguf", 15, "invalidData", "a", layout(p, replace_tensor(t, b"a", dims=[1, 1, 4, 1, 1]))),
        ("dimension-product-overflows.gguf", 16, "validationOverflow", "a",
         layout(p, replace_tensor(t, b"a", dims=[1 << 32, 1 << 32]))),
        ("retired-ggml-type-4.gguf", 17, "unsupportedFormat", "a", layout(p, replace_tensor(t, b"a", kind=4))),
        ("unknown-ggml-type-99.gguf", 17, "unsupportedFormat", "a", layout(p, replace_tensor(t, b"a", kind=99))),
        ("row-not-whole-blocks.gguf", 18, "invalidData", "b", layout(p, replace_tensor(t, b"b", dims=[16, 4]))),
        ("misaligned-offset.gguf", 19, "invalidOffset", "b", layout(p, replace_tensor(t, b"b", offset=16))),
        ("tensor-past-the-end.gguf", 20, "invalidOffset", "b", layout(p, t)[:-40]),
        ("offset-past-the-end.gguf", 20, "invalidOffset", "b", layout(p, replace_tensor(t, b"b", offset=1 << 40, raw=b""))),
        ("overlapping-tensors.gguf", 21, "invalidOffset", "a",
         layout(p, replace_tensor(t, b"b", offset=0, raw=B.tobytes()) + [(b"c", [4], 0, 96, A.tobytes())])),
        ("gap-between-tensors.gguf", 21, "invalidOffset", "b", layout(p, replace_tensor(t, b"b", offset=64))),
        ("tensors-out-of-order.gguf", 21, "invalidOffset", "a",
         layout(p, replace_tensor(replace_tensor(t, b"a", offset=96), b"b", offset=0))),
    ]


def gguf_py_refuses(path):
    """Whether gguf-py's reader fails on the file (reading every tensor's data too), run in a
    child process held to 1 GiB of memory and 60 s: some files make it allocate without bound."""
    code = ("import resource, sys, warnings, numpy as np, gguf\n"
            "resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
            "warnings.simplefilter('ignore')\n"
            "reader = gguf.GGUFReader(sys.argv[1])\n"
            "[np.asarray(t.data).tobytes() for t in reader.tensors]\n")
    try:
        result = subprocess.run([sys.executable, "-c", code, path], capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        return True
    return result.returncode != 0


def write_split():
    directory = os.path.join(HERE, "split")
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        os.remove(os.path.join(directory, name))
    writer = gguf.GGUFWriter(os.path.join(directory, "model.gguf"), "fixture", split_max_tensors=2)
    writer.add_uint32("test.count", 7)
    rng = np.random.default_rng(20261203)
    for index in range(5):
        values = rng.standard_normal((2, 32)).astype(np.float32)
        if index % 2:
            writer.add_tensor(f"t{index}", gguf.quants.quantize(values, T.Q8_0), raw_dtype=T.Q8_0)
        else:
            writer.add_tensor(f"t{index}", values)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return sorted(os.listdir(directory))


def write_big_endian():
    path = os.path.join(HERE, "big-endian.gguf")
    writer = gguf.GGUFWriter(path, "fixture", endianess=gguf.GGUFEndian.BIG)
    writer.add_uint32("test.count", 7)
    writer.add_tensor("a", A)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def main():
    directory = os.path.join(HERE, "malformed")
    os.makedirs(directory, exist_ok=True)
    base = os.path.join(directory, "base.gguf")
    write_gguf_py_base(base)
    with open(base, "rb") as f:
        assert f.read() == layout(base_pairs(), base_tensors()), "layout() does not give gguf-py's bytes"
    expected = []
    for name, rule, code, mention, data in malformed():
        path = os.path.join(directory, name)
        with open(path, "wb") as f:
            f.write(data)
        expected.append({"file": name, "rule": rule, "code": code, "mentions": mention,
                         "gguf_py_refuses": gguf_py_refuses(path)})
    with open(os.path.join(directory, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("malformed:", len(expected), "files;", sum(e["gguf_py_refuses"] for e in expected), "refused by gguf-py too")
    print("split:", write_split())
    write_big_endian()


if __name__ == "__main__":
    main()
