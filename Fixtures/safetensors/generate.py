#!/usr/bin/env python3
"""Regenerate the safetensors golden fixtures in this directory.

Run from anywhere: `python3 generate.py`. The output is deterministic: running it
twice gives byte-identical files and manifests.

Three kinds of files are produced:

* valid/, made_by "reference": written by the reference writer itself, the Rust
  binding `safetensors._safetensors_rust.serialize_file` of the pinned
  safetensors package.
* valid/, made_by "hand": bytes assembled here, each one checked to be accepted
  by the reference reader. Some are laid out exactly as the reference writer
  would lay them out (`canonical_layout: true`, used for the two F6 dtypes that
  the Python binding cannot write), the others deliberately are not.
* malformed/: one file per reader rule, each checked to be rejected by the
  reference reader (or, where noted, accepted by it while our reader rejects).

See README.md for the meaning of every manifest field.
"""

import hashlib
import json
import os
import struct

import numpy as np
import safetensors
from safetensors import _safetensors_rust as st_rust

HERE = os.path.dirname(os.path.abspath(__file__))
VALID_DIR = os.path.join(HERE, "valid")
MALFORMED_DIR = os.path.join(HERE, "malformed")

PINNED = {"safetensors": "0.8.0", "numpy": "2.4.6"}

# The dtype table in the reference's enum order (lowest first):
# (format code, bits per element, name the 0.8.0 Python binding's TensorSpec takes).
# The binding has no name for the two F6 dtypes, so those are written by hand.
DTYPES = [
    ("BOOL", 8, "bool"),
    ("F4", 4, "float4_e2m1fn_x2"),
    ("F6_E2M3", 6, None),
    ("F6_E3M2", 6, None),
    ("U8", 8, "uint8"),
    ("I8", 8, "int8"),
    ("F8_E5M2", 8, "float8_e5m2"),
    ("F8_E4M3", 8, "float8_e4m3fn"),
    ("F8_E8M0", 8, "float8_e8m0fnu"),
    ("F8_E4M3FNUZ", 8, "float8_e4m3fnuz"),
    ("F8_E5M2FNUZ", 8, "float8_e5m2fnuz"),
    ("I16", 16, "int16"),
    ("U16", 16, "uint16"),
    ("F16", 16, "float16"),
    ("BF16", 16, "bfloat16"),
    ("I32", 32, "int32"),
    ("U32", 32, "uint32"),
    ("F32", 32, "float32"),
    ("C64", 64, "complex64"),
    ("F64", 64, "float64"),
    ("I64", 64, "int64"),
    ("U64", 64, "uint64"),
]
DTYPE_RANK = {code: rank for rank, (code, _, _) in enumerate(DTYPES)}
DTYPE_BITS = {code: bits for code, bits, _ in DTYPES}
BINDING_NAME = {code: name for code, _, name in DTYPES}

# Which substring the reference's error text carries for each of our rule names.
RULE_SIGNATURE = {
    "headerTooSmall": "header too small",
    "headerTooLarge": "header too large",
    "invalidHeaderLength": "invalid header length",
    "invalidHeader": "invalid UTF-8 in header",
    "invalidHeaderDeserialization": "invalid JSON in header",
    "invalidOffset": "invalid offset for tensor",
    "validationOverflow": "overflow computing buffer size",
    "misalignedSlice": "does not end up at a byte boundary",
    "tensorInvalidInfo": "invalid shape, data type, or offset for tensor",
    "metadataIncompleteBuffer": "incomplete metadata, file not fully covered",
    "duplicateTensorName": None,  # the reference accepts these
}
RULES_NAMING_A_TENSOR = {
    "invalidOffset", "tensorInvalidInfo", "misalignedSlice",
    "validationOverflow", "duplicateTensorName",
}
MAX_HEADER = 100_000_000


# ---------------------------------------------------------------- data

def element_count(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def byte_size(code, shape):
    bits = element_count(shape) * DTYPE_BITS[code]
    assert bits % 8 == 0, (code, shape)
    return bits // 8


def pattern(i, nbytes):
    """Deterministic filler bytes for tensor number i of a file."""
    return bytes((j * 131 + 17 * i + 7) & 0xFF for j in range(nbytes))


def bool_pattern(i, nbytes):
    """Deterministic 0/1 bytes for a BOOL tensor number i."""
    return bytes(((j * 131 + 17 * i + 7) >> 3) & 1 for j in range(nbytes))


def filler(i, code, shape):
    n = byte_size(code, shape)
    return bool_pattern(i, n) if code == "BOOL" else pattern(i, n)


def tensors_with_filler(items):
    """items: [(name, code, shape)] -> [(name, code, shape, data)], data by index."""
    return [(name, code, list(shape), filler(i, code, shape))
            for i, (name, code, shape) in enumerate(items)]


# ---------------------------------------------------------------- writers

def reference_write(tensors, metadata, path):
    """Write with the reference writer (Rust binding); returns the file's bytes.

    tensors: [(name, code, shape, data)] in generator insertion order.
    """
    keep_alive = []
    specs = {}
    for name, code, shape, data in tensors:
        binding = BINDING_NAME[code]
        if binding is None:
            raise ValueError(f"the Python binding cannot write {code}")
        assert len(data) == byte_size(code, shape)
        buf = np.frombuffer(bytearray(data) if data else bytearray(1), dtype=np.uint8)
        keep_alive.append(buf)
        spec_shape = list(shape)
        if code == "F4":
            # The binding takes the packed storage shape (two F4 per byte) and
            # doubles the last axis itself.
            assert spec_shape and spec_shape[-1] % 2 == 0
            spec_shape[-1] //= 2
        specs[name] = st_rust.TensorSpec(dtype=binding, shape=spec_shape,
                                         data_ptr=buf.ctypes.data, data_len=len(data))
    in_memory = st_rust.serialize(specs, metadata)
    st_rust.serialize_file(specs, path, metadata)
    del keep_alive
    with open(path, "rb") as f:
        on_disk = f.read()
    assert on_disk == in_memory, "serialize and serialize_file disagree"
    for name, code, shape, _ in tensors:
        assert specs[name].shape == list(shape), (name, specs[name].shape, shape)
    return on_disk


def json_string(s):
    """A JSON string literal escaped the way the reference (serde_json) does."""
    short = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f",
             "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    out = ['"']
    for ch in s:
        if ch in short:
            out.append(short[ch])
        elif ord(ch) < 0x20:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def canonical_bytes(tensors, metadata):
    """Our own statement of the reference writer's layout (see README).

    Used for the F6 files the binding cannot write, and cross-checked by
    check.py against every file the reference wrote.
    """
    ordered = sorted(tensors, key=lambda t: (-DTYPE_RANK[t[1]], t[0].encode("utf-8")))
    parts = []
    if metadata is not None:
        items = ",".join(json_string(k) + ":" + json_string(metadata[k])
                         for k in sorted(metadata, key=lambda k: k.encode("utf-8")))
        parts.append('"__metadata__":{' + items + "}")
    offset = 0
    data = []
    for name, code, shape, blob in ordered:
        assert len(blob) == byte_size(code, shape)
        end = offset + len(blob)
        parts.append(json_string(name) + ':{"dtype":"' + code + '","shape":['
                     + ",".join(str(d) for d in shape)
                     + '],"data_offsets":[' + f"{offset},{end}" + "]}")
        data.append(blob)
        offset = end
    header = ("{" + ",".join(parts) + "}").encode("utf-8")
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + b"".join(data)


def pack(header, data=b"", n=None):
    """8-byte little-endian length + header + data; n overrides the length."""
    if isinstance(header, str):
        header = header.encode("utf-8")
    return struct.pack("<Q", len(header) if n is None else n) + header + data


def entry(code, shape, begin, end):
    return ('{"dtype":"%s","shape":[%s],"data_offsets":[%d,%d]}'
            % (code, ",".join(str(d) for d in shape), begin, end))


# ---------------------------------------------------------------- reading

def header_pairs(blob):
    """(N, ordered [(key, value)] of the header) using Python's json module."""
    n = struct.unpack("<Q", blob[:8])[0]
    pairs = json.loads(blob[8:8 + n].decode("utf-8"), object_pairs_hook=lambda p: p)
    return n, pairs


def reference_read(blob, path):
    """Run both reference readers; returns (deserialize result or error, safe_open result or error)."""
    try:
        got = st_rust.deserialize(blob)
        deser = ("ok", {name: (info["dtype"], list(info["shape"]), bytes(info["data"]))
                        for name, info in got})
    except Exception as e:  # noqa: BLE001 - any rejection is what we record
        deser = ("error", str(e))
    try:
        with safetensors.safe_open(path, framework="numpy") as f:
            opened = ("ok", {"keys": list(f.keys()), "metadata": f.metadata()})
    except Exception as e:  # noqa: BLE001
        opened = ("error", str(e))
    return deser, opened


def sha256(blob):
    return hashlib.sha256(blob).hexdigest()


# ---------------------------------------------------------------- valid files

def valid_reference_specs():
    """[(file, description, tensors, metadata)] for files written by the reference."""
    specs = []
    writable = [(code, bits) for code, bits, binding in DTYPES if binding is not None]

    specs.append((
        "all_dtypes_except_f6.safetensors",
        "One [2,4] tensor of each of the 20 dtypes the Python binding can write, "
        "inserted in enum order with names whose alphabetical order differs from the dtype order.",
        tensors_with_filler([("t_" + code, code, [2, 4]) for code, _ in writable]),
        None))
    for code, _ in writable:
        specs.append((
            f"dtype_{code}.safetensors",
            f"A single {code} tensor of shape [2,4].",
            tensors_with_filler([("x", code, [2, 4])]),
            None))
    specs.append((
        "empty_and_scalar.safetensors",
        "Zero-size tensors ([0,3], [0]) and scalars ([]) mixed with normal ones; "
        "two empty tensors share offset 0, ordered by dtype.",
        tensors_with_filler([
            ("weight", "F32", [2, 3]),
            ("a_empty", "F32", [0, 3]),
            ("b_scalar", "F32", []),
            ("empty_i64", "I64", [0, 3]),
            ("count", "I64", []),
            ("bias", "F16", [3]),
            ("z_empty_f16", "F16", [0]),
            ("flag", "BOOL", []),
            ("no_flags", "BOOL", [0]),
        ]),
        None))
    specs.append((
        "meta_none.safetensors",
        "Two tensors, no metadata: no __metadata__ key is written.",
        tensors_with_filler([("b", "F32", [3]), ("a", "U8", [5])]),
        None))
    specs.append((
        "meta_format_pt.safetensors",
        "Two tensors with exactly one metadata key {\"format\":\"pt\"}.",
        tensors_with_filler([("b", "F32", [3]), ("a", "U8", [5])]),
        {"format": "pt"}))
    specs.append((
        "meta_empty_object.safetensors",
        "One tensor with an empty metadata dict: the reference writes \"__metadata__\":{}.",
        tensors_with_filler([("a", "U8", [1])]),
        {}))
    specs.append((
        "meta_escaping.safetensors",
        "One metadata key and value that need JSON escaping or are non-ASCII.",
        tensors_with_filler([("a", "U8", [1])]),
        {'k"\\\n\x01': "v/\u2028\u00e9\x7f\t"}))
    specs.append((
        "golden_w_f16.safetensors",
        "The golden example: w = float16 [[1,2],[3,4]], metadata {\"format\":\"pt\"}.",
        [("w", "F16", [2, 2], np.array([1, 2, 3, 4], dtype="<f2").tobytes())],
        {"format": "pt"}))
    specs.append((
        "empty_no_meta.safetensors",
        "No tensors and no metadata: 16 bytes.",
        [],
        None))
    specs.append((
        "empty_with_meta.safetensors",
        "No tensors, one metadata key.",
        [],
        {"format": "pt"}))
    specs.append((
        "name_order.safetensors",
        "Same dtype throughout, so only the raw UTF-8 byte order of names decides the layout; "
        "precomposed and decomposed e-acute are two tensors; U+FFFF and U+E000 sort before "
        "an emoji in UTF-8 but not in UTF-16.",
        tensors_with_filler([(name, "I16", [2]) for name in [
            "\u00e9", "z", "e\u0301", "a.9", "\uffff", "Z", "\U0001F600",
            "a.10", "\u4e2d\u6587", "\ue000", "\uac00", "a", "A",
        ]]),
        None))
    specs.append((
        "name_escaping.safetensors",
        "Names that need JSON escaping (quote, backslash, short escapes, other control "
        "characters) next to ones written raw (DEL, slash, U+2028).",
        tensors_with_filler([(name, "U8", [2]) for name in [
            '"', "\\", "\b", "\f", "\n", "\r", "\t", "\x01", "\x1f", "\x7f", "/",
            "\u2028", 'a"b\\c\nd/e',
        ]]),
        None))
    specs.append((
        "name_nul.safetensors",
        "A tensor whose name contains U+0000 (written as \\u0000) next to its prefix.",
        tensors_with_filler([("a\x00b", "U8", [2]), ("a", "U8", [2])]),
        None))
    specs.append((
        "zero_size_huge_axes.safetensors",
        "Zero-size tensors with shapes [0, 2^63, 4] and [2^64-1, 0]: written by the reference "
        "and accepted by its reader because the running product of the axes never overflows "
        "(compare malformed/overflow_before_zero).",
        [("a", "U8", [0, 2 ** 63, 4], b""), ("b", "U8", [2 ** 64 - 1, 0], b""),
         ("c", "U8", [2], pattern(2, 2))],
        None))
    specs.append((
        "model_bert_tiny.safetensors",
        "A small BERT-like state dict: F32 weights with real float values and I64 buffers, "
        "metadata {\"format\":\"pt\"}.",
        bert_tiny_tensors(),
        {"format": "pt"}))
    return specs


def bert_tiny_tensors():
    hidden, inter, vocab, max_pos, types = 8, 16, 32, 8, 2
    layout = [
        ("bert.embeddings.word_embeddings.weight", [vocab, hidden]),
        ("bert.embeddings.position_embeddings.weight", [max_pos, hidden]),
        ("bert.embeddings.token_type_embeddings.weight", [types, hidden]),
        ("bert.embeddings.LayerNorm.weight", [hidden]),
        ("bert.embeddings.LayerNorm.bias", [hidden]),
    ]
    for layer in range(2):
        p = f"bert.encoder.layer.{layer}."
        layout += [
            (p + "attention.self.query.weight", [hidden, hidden]),
            (p + "attention.self.query.bias", [hidden]),
            (p + "attention.self.key.weight", [hidden, hidden]),
            (p + "attention.self.key.bias", [hidden]),
            (p + "attention.self.value.weight", [hidden, hidden]),
            (p + "attention.self.value.bias", [hidden]),
            (p + "attention.output.dense.weight", [hidden, hidden]),
            (p + "attention.output.dense.bias", [hidden]),
            (p + "attention.output.LayerNorm.weight", [hidden]),
            (p + "attention.output.LayerNorm.bias", [hidden]),
            (p + "intermediate.dense.weight", [inter, hidden]),
            (p + "intermediate.dense.bias", [inter]),
            (p + "output.dense.weight", [hidden, inter]),
            (p + "output.dense.bias", [hidden]),
            (p + "output.LayerNorm.weight", [hidden]),
            (p + "output.LayerNorm.bias", [hidden]),
        ]
    layout += [
        ("bert.pooler.dense.weight", [hidden, hidden]),
        ("bert.pooler.dense.bias", [hidden]),
    ]
    tensors = []
    for i, (name, shape) in enumerate(layout):
        n = element_count(shape)
        if name.endswith("LayerNorm.weight"):
            values = np.ones(n, dtype="<f4")
        else:
            j = np.arange(n, dtype=np.int64)
            values = (((j * 131 + 17 * i + 7) % 255) - 127).astype("<f4") / np.float32(512)
        tensors.append((name, "F32", shape, values.astype("<f4").tobytes()))
    tensors.append(("bert.embeddings.position_ids", "I64", [1, max_pos],
                    np.arange(max_pos, dtype="<i8").reshape(1, max_pos).tobytes()))
    tensors.append(("bert.embeddings.token_type_ids", "I64", [1, max_pos],
                    np.zeros((1, max_pos), dtype="<i8").tobytes()))
    return tensors


def valid_hand_specs():
    """[(file, description, canonical_layout, bytes, tensors, metadata)] assembled here.

    tensors are [(name, code, shape, data)] in the order this generator lists them.
    """
    out = []

    # F6 dtypes: laid out exactly as the reference writer lays files out.
    for code in ("F6_E2M3", "F6_E3M2"):
        t = tensors_with_filler([("x", code, [2, 4])])
        out.append((f"hand_dtype_{code}.safetensors",
                    f"A single {code} tensor of shape [2,4] (6 bytes), in the reference layout; "
                    "the 0.8.0 Python binding cannot write this dtype.",
                    True, canonical_bytes(t, None), t, None))
    t = tensors_with_filler([("t_" + code, code, [2, 4]) for code, _, _ in DTYPES])
    out.append(("hand_all_dtypes.safetensors",
                "All 22 dtypes, one [2,4] tensor each, in the reference layout "
                "(as all_dtypes_except_f6 plus the two F6 dtypes).",
                True, canonical_bytes(t, None), t, None))

    # Leading and trailing whitespace, and whitespace between every token.
    t = tensors_with_filler([("a", "F32", [2]), ("b", "U8", [3])])
    header = (' \t\n\r{ "__metadata__" : { "format" : "pt" } ,\n'
              '  "a" : { "dtype" : "F32" , "shape" : [ 2 ] , "data_offsets" : [ 0 , 8 ] } ,\n'
              '  "b" : {\t"dtype":"U8",\r"shape":[3],"data_offsets":[8,11]}\n} \n\t\r  ')
    out.append(("hand_whitespace.safetensors",
                "JSON whitespace (space, tab, LF, CR) before, inside and after the header object.",
                False, pack(header, t[0][3] + t[1][3]), t, {"format": "pt"}))

    # "__metadata__": null
    t = tensors_with_filler([("a", "U8", [4])])
    header = '{"__metadata__":null,"a":' + entry("U8", [4], 0, 4) + "}"
    header += " " * (-len(header) % 8)
    out.append(("hand_metadata_null.safetensors",
                "\"__metadata__\": null is accepted and means no metadata.",
                False, pack(header, t[0][3]), t, None))

    # Unknown extra keys in tensor entries, with nested values of every JSON kind.
    t = tensors_with_filler([("a", "F16", [2, 2]), ("b", "U8", [2])])
    header = ('{"a":{"quant":{"scheme":"none","groups":[1,[2,[3]],{"k":null}]},'
              '"dtype":"F16","note":"x\\n\\u00e9\\"","shape":[2,2],'
              '"numbers":[-1,0.5,-2.5e-3,1E+10,123456789012345678901234567890],'
              '"flags":[true,false,null],"empty_obj":{},"empty_arr":[],'
              '"data_offsets":[0,8],"after":{"deep":{"deeper":[[]]}}},'
              '"b":{"dtype":"U8","shape":[2],"data_offsets":[8,10],"dtype_hint":"F16"}}')
    header += " " * (-len(header) % 8)
    out.append(("hand_extra_keys.safetensors",
                "Unknown keys in tensor entries (before, between and after the known ones) with "
                "nested objects, arrays, strings with escapes, negative, fractional, exponent "
                "and over-long integer numbers, booleans and null: the reference ignores them.",
                False, pack(header, t[0][3] + t[1][3]), t, None))

    # Header length N = 8k + 3: tensor data starts at an odd file offset.
    t = tensors_with_filler([("f64", "F64", [3]), ("f32", "F32", [2]), ("f16", "F16", [1])])
    header = ("{" + '"f64":' + entry("F64", [3], 0, 24) + ',"f32":' + entry("F32", [2], 24, 32)
              + ',"f16":' + entry("F16", [1], 32, 34) + "}")
    header += " " * ((3 - len(header)) % 8)
    assert len(header) % 8 == 3
    out.append(("hand_odd_header_length.safetensors",
                "Header length N = 8k+3 (no padding to 8): the data section, and so every "
                "tensor, starts at an odd file offset.",
                False, pack(header, b"".join(x[3] for x in t)), t, None))

    # Tensors listed in the JSON in a different order than their offsets; metadata last;
    # keys inside entries permuted; data in ascending dtype order.
    t = tensors_with_filler([("c", "U8", [2]), ("a", "F16", [2]), ("b", "F32", [2])])
    header = ('{"b":{"data_offsets":[4,12],"shape":[2],"dtype":"F32"},'
              '"c":{"shape":[2],"dtype":"U8","data_offsets":[12,14]},'
              '"a":{"dtype":"F16","data_offsets":[0,4],"shape":[2]},'
              '"__metadata__":{"format":"pt"}}')
    header += " " * (-len(header) % 8)
    data = t[1][3] + t[2][3] + t[0][3]
    out.append(("hand_noncanonical_order.safetensors",
                "Tensors listed out of offset order, __metadata__ last, keys inside each entry "
                "permuted, data not sorted by dtype.",
                False, pack(header, data), t, {"format": "pt"}))

    # Tensors at offsets that are not multiples of their element size.
    t = tensors_with_filler([("u8", "U8", [3]), ("f32", "F32", [2]), ("f64", "F64", [1])])
    header = ("{" + '"u8":' + entry("U8", [3], 0, 3) + ',"f32":' + entry("F32", [2], 3, 11)
              + ',"f64":' + entry("F64", [1], 11, 19) + "}")
    header += " " * (-len(header) % 8)
    out.append(("hand_unaligned_offsets.safetensors",
                "An F32 at data offset 3 and an F64 at data offset 11: the reference reader "
                "has no alignment rule.",
                False, pack(header, b"".join(x[3] for x in t)), t, None))

    # Header padded far beyond 8 bytes (data section at file offset 4096).
    t = tensors_with_filler([("a", "F32", [4])])
    header = '{"a":' + entry("F32", [4], 0, 16) + "}"
    header += " " * (4096 - 8 - len(header))
    out.append(("hand_padded_4k.safetensors",
                "Header padded with spaces so the data section starts at file offset 4096.",
                False, pack(header, t[0][3]), t, None))

    # Nesting depth 127 inside an unknown key: the deepest the reference accepts.
    t = tensors_with_filler([("a", "U8", [1])])
    depth_inside = 127 - 2  # the top-level object and the tensor entry are two levels
    header = ('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":'
              + "[" * depth_inside + "]" * depth_inside + "}}")
    header += " " * (-len(header) % 8)
    out.append(("hand_nesting_127.safetensors",
                "An unknown key holding arrays nested so that the deepest value is 127 levels "
                "deep counting the top-level object: the most the reference accepts "
                "(128 is rejected, see malformed/).",
                False, pack(header, t[0][3]), t, None))

    # Names and metadata written with escapes that a writer need not use.
    t = tensors_with_filler([("a.b", "U8", [1]), ("/slash", "U8", [1]),
                             ("\U0001F600", "U8", [1]), ("\u00e9", "U8", [1])])
    header = ('{"__metadata__":{"\\u0066ormat":"\\u0070t"},'
              '"\\u0061\\u002e\\u0062":' + entry("U8", [1], 0, 1) + ","
              '"\\/slash":' + entry("U8", [1], 1, 2) + ","
              '"\\ud83d\\ude00":' + entry("U8", [1], 2, 3) + ","
              '"\\u00E9":' + entry("U8", [1], 3, 4) + "}")
    header += " " * (-len(header) % 8)
    out.append(("hand_escaped_names.safetensors",
                "Names and metadata spelled with optional escapes: \\u0061 style, \\/, a "
                "surrogate pair for an emoji, upper-case hex digits.",
                False, pack(header, b"".join(x[3] for x in t)), t, {"format": "pt"}))

    # Several metadata keys (the reference's own order for these is random).
    t = tensors_with_filler([("a", "U8", [2])])
    meta = {"format": "pt", "author": "fixtures", "z": "", "\u00e9": "accent"}
    header = ('{"__metadata__":{' + ",".join(json_string(k) + ":" + json_string(meta[k])
                                            for k in sorted(meta, key=lambda k: k.encode()))
              + '},"a":' + entry("U8", [2], 0, 2) + "}").encode("utf-8")
    header += b" " * (-len(header) % 8)
    out.append(("hand_metadata_multi.safetensors",
                "Four metadata keys sorted by UTF-8 bytes, one with an empty value, one "
                "non-ASCII. The reference writes several keys in a random order; sorted is "
                "the convention canonical_layout uses.",
                True, pack(header, t[0][3]), t, meta))

    # Several zero-size tensors sharing an offset, listed in scrambled order.
    t = [("d", "U8", [0], b""), ("c", "U8", [3], pattern(1, 3)), ("b", "F32", [0], b""),
         ("a", "U8", [0, 7], b"")]
    header = ('{"d":' + entry("U8", [0], 3, 3) + ',"c":' + entry("U8", [3], 0, 3)
              + ',"b":' + entry("F32", [0], 0, 0) + ',"a":' + entry("U8", [0, 7], 3, 3) + "}")
    header += " " * (-len(header) % 8)
    out.append(("hand_empty_ties.safetensors",
                "Zero-size tensors sharing offsets 0 and 3 with a 3-byte tensor between them, "
                "listed out of order.",
                False, pack(header, t[1][3]), t, None))
    return out


def build_valid_entry(file, made_by, description, canonical, blob, tensors, metadata):
    n, pairs = header_pairs(blob)
    positions = {}
    offsets = {}
    for pos, (key, value) in enumerate(pairs):
        if key == "__metadata__":
            continue
        info = dict(value)
        positions[key] = pos
        offsets[key] = list(info["data_offsets"])
        assert info["dtype"] in DTYPE_RANK
    assert sorted(offsets) == sorted(t[0] for t in tensors), file
    data_start = 8 + n
    manifest_tensors = []
    for name, code, shape, data in tensors:
        begin, end = offsets[name]
        assert blob[data_start + begin:data_start + end] == data, (file, name)
        manifest_tensors.append({
            "name": name,
            "dtype": code,
            "shape": list(shape),
            "data_offsets": [begin, end],
            "data_hex": data.hex(),
        })
    data_order = sorted(offsets, key=lambda k: (offsets[k][0], offsets[k][1], positions[k]))
    return {
        "file": file,
        "made_by": made_by,
        "description": description,
        "canonical_layout": canonical,
        "size": len(blob),
        "sha256": sha256(blob),
        "header_length": n,
        "metadata": metadata,
        "tensors": manifest_tensors,
        "data_order": data_order,
    }


def check_reference_accepts(path, blob, tensors, metadata):
    deser, opened = reference_read(blob, path)
    if deser[0] != "ok" or opened[0] != "ok":
        raise SystemExit(f"reference rejected valid file {path}: {deser} {opened}")
    got = deser[1]
    want = {name: (code, list(shape), data) for name, code, shape, data in tensors}
    if got != want:
        raise SystemExit(f"reference read back different tensors from {path}")
    if sorted(opened[1]["keys"]) != sorted(want):
        raise SystemExit(f"safe_open keys differ for {path}")
    if opened[1]["metadata"] != metadata:
        raise SystemExit(f"safe_open metadata differs for {path}: {opened[1]['metadata']!r}")


def generate_valid():
    os.makedirs(VALID_DIR, exist_ok=True)
    manifest = []
    for file, description, tensors, metadata in valid_reference_specs():
        path = os.path.join(VALID_DIR, file)
        blob = reference_write(tensors, metadata, path)
        canonical = canonical_bytes(tensors, metadata) == blob
        if not canonical:
            raise SystemExit(f"our statement of the layout disagrees with the reference on {file}")
        check_reference_accepts(path, blob, tensors, metadata)
        manifest.append(build_valid_entry(file, "reference", description, True,
                                          blob, tensors, metadata))
    golden = open(os.path.join(VALID_DIR, "golden_w_f16.safetensors"), "rb").read()
    assert golden == (struct.pack("<Q", 88)
                      + b'{"__metadata__":{"format":"pt"},"w":{"dtype":"F16","shape":[2,2],'
                        b'"data_offsets":[0,8]}} ' + bytes.fromhex("003c004000420044"))
    assert open(os.path.join(VALID_DIR, "empty_no_meta.safetensors"), "rb").read() == \
        struct.pack("<Q", 8) + b"{}      "

    for file, description, canonical, blob, tensors, metadata in valid_hand_specs():
        path = os.path.join(VALID_DIR, file)
        with open(path, "wb") as f:
            f.write(blob)
        assert (canonical_bytes(tensors, metadata) == blob) == canonical, file
        check_reference_accepts(path, blob, tensors, metadata)
        manifest.append(build_valid_entry(file, "hand", description, canonical,
                                          blob, tensors, metadata))
    return manifest


# ---------------------------------------------------------------- malformed files

def malformed_specs():
    """[(file, rule, tensor, reference_accepts, made_by, description, bytes)]."""
    specs = []

    def add(file, rule, tensor, description, blob, accepts=False, made_by="hand", reference_rule=None):
        specs.append((file, rule, tensor, accepts, made_by, description, blob, reference_rule or rule))

    one = entry("U8", [2], 0, 2)
    two_bytes = b"\x01\x02"

    def single(header, data=two_bytes):
        """A one-tensor style file: header padded to 8 with spaces."""
        if isinstance(header, str):
            header = header.encode("utf-8")
        header += b" " * (-len(header) % 8)
        return pack(header, data)

    # headerTooSmall
    add("too_small_5_bytes.safetensors", "headerTooSmall", None,
        "A 5-byte file: shorter than the 8-byte length prefix.", b"\x01\x02\x03\x04\x05")
    add("too_small_empty.safetensors", "headerTooSmall", None,
        "An empty (0-byte) file.", b"")
    add("too_small_7_bytes.safetensors", "headerTooSmall", None,
        "A 7-byte file: one byte short of the length prefix.", struct.pack("<Q", 2)[:7])

    # headerTooLarge
    add("too_large_100000001.safetensors", "headerTooLarge", None,
        "N = 100,000,001 (one over the limit) in a 16-byte file: the limit is checked "
        "before the file length.", pack(b"{}      ", n=MAX_HEADER + 1))
    add("too_large_u64_max.safetensors", "headerTooLarge", None,
        "N = 2^64-1.", pack(b"{}      ", n=2 ** 64 - 1))
    add("too_large_2pow63.safetensors", "headerTooLarge", None,
        "N = 2^63 (negative if read as a signed 64-bit integer).", pack(b"{}      ", n=2 ** 63))

    # invalidHeaderLength
    add("header_length_1000_file_100.safetensors", "invalidHeaderLength", None,
        "N = 1000 but the file is 100 bytes.", pack(b"{}" + b" " * 90, n=1000))
    add("header_length_at_limit.safetensors", "invalidHeaderLength", None,
        "N = 100,000,000 (exactly the limit, so not too large) in a 16-byte file.",
        pack(b"{}      ", n=MAX_HEADER))
    add("header_length_one_over.safetensors", "invalidHeaderLength", None,
        "N is one more than the bytes after the prefix.", pack(b"{}      ", n=9))

    # invalidHeader (UTF-8)
    add("utf8_invalid_byte.safetensors", "invalidHeader", None,
        "A 0xFF byte inside a tensor name.",
        single(b'{"a\xff":' + one.encode() + b"}"))
    add("utf8_encoded_surrogate.safetensors", "invalidHeader", None,
        "A UTF-16 surrogate encoded as UTF-8 (ED A0 80) in a name.",
        single(b'{"\xed\xa0\x80":' + one.encode() + b"}"))
    add("utf8_overlong.safetensors", "invalidHeader", None,
        "An overlong encoding of '/' (C0 AF) in a name.",
        single(b'{"\xc0\xaf":' + one.encode() + b"}"))
    add("utf8_truncated_sequence.safetensors", "invalidHeader", None,
        "A 3-byte sequence cut after 2 bytes (E2 82) before the closing quote.",
        single(b'{"a\xe2\x82":' + one.encode() + b"}"))

    def padded_raw(header_bytes, data=two_bytes):
        header_bytes += b" " * (-len(header_bytes) % 8)
        return pack(header_bytes, data)
    add("utf8_invalid_in_padding.safetensors", "invalidHeader", None,
        "Valid JSON followed by a 0xFF byte in the padding: the whole header must be UTF-8.",
        padded_raw(b'{"a":' + one.encode() + b"}\xff"))

    # invalidHeaderDeserialization
    J = "invalidHeaderDeserialization"

    def jbad(file, description, header, data=two_bytes, tensor=None, **kw):
        add(file, J, tensor, description, single(header, data), **kw)

    jbad("json_top_level_array.safetensors", "The header is a JSON array.", "[]", b"")
    jbad("json_top_level_null.safetensors", "The header is JSON null.", "null", b"")
    add("json_empty_header.safetensors", J, None, "N = 0: an empty header.", pack(b""))
    add("json_only_whitespace.safetensors", J, None, "A header of 8 spaces.", pack(b" " * 8))
    jbad("json_missing_dtype.safetensors", "A tensor entry without \"dtype\".",
         '{"a":{"shape":[2],"data_offsets":[0,2]}}')
    jbad("json_missing_shape.safetensors", "A tensor entry without \"shape\".",
         '{"a":{"dtype":"U8","data_offsets":[0,2]}}')
    jbad("json_missing_data_offsets.safetensors", "A tensor entry without \"data_offsets\".",
         '{"a":{"dtype":"U8","shape":[2]}}')
    jbad("json_dtype_key_wrong_case.safetensors", "\"Dtype\" instead of \"dtype\".",
         '{"a":{"Dtype":"U8","shape":[2],"data_offsets":[0,2]}}')
    jbad("json_dtype_unknown_F128.safetensors", "Unknown dtype \"F128\".",
         '{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,2]}}')
    jbad("json_dtype_lowercase.safetensors", "Lower-case dtype \"f32\".",
         '{"a":{"dtype":"f32","shape":[2],"data_offsets":[0,8]}}', bytes(8))
    jbad("json_dtype_number.safetensors", "dtype given as a number.",
         '{"a":{"dtype":8,"shape":[2],"data_offsets":[0,2]}}')
    jbad("json_shape_float.safetensors", "A float (2.0) in shape.",
         '{"a":{"dtype":"U8","shape":[2.0],"data_offsets":[0,2]}}')
    jbad("json_shape_negative.safetensors", "A negative number in shape.",
         '{"a":{"dtype":"U8","shape":[-2],"data_offsets":[0,2]}}')
    jbad("json_shape_string.safetensors", "A string in shape.",
         '{"a":{"dtype":"U8","shape":["2"],"data_offsets":[0,2]}}')
    jbad("json_shape_bool.safetensors", "A boolean in shape.",
         '{"a":{"dtype":"U8","shape":[true],"data_offsets":[0,1]}}', b"\x01")
    jbad("json_shape_null.safetensors", "shape is null.",
         '{"a":{"dtype":"U8","shape":null,"data_offsets":[0,1]}}', b"\x01")
    jbad("json_shape_leading_zero.safetensors", "A number with a leading zero (02) in shape.",
         '{"a":{"dtype":"U8","shape":[02],"data_offsets":[0,2]}}')
    jbad("json_offsets_leading_zero.safetensors", "A number 01 in data_offsets.",
         '{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,01]}}', b"\x01")
    jbad("json_shape_plus_sign.safetensors", "A number with a plus sign (+2) in shape.",
         '{"a":{"dtype":"U8","shape":[+2],"data_offsets":[0,2]}}')
    jbad("json_offsets_exponent.safetensors", "Exponent form 1e2 in data_offsets.",
         '{"a":{"dtype":"U8","shape":[100],"data_offsets":[0,1e2]}}', bytes(100))
    jbad("json_offsets_negative_zero.safetensors", "-0 in data_offsets.",
         '{"a":{"dtype":"U8","shape":[2],"data_offsets":[-0,2]}}')
    jbad("json_offsets_2pow64.safetensors", "18446744073709551616 (2^64) in data_offsets.",
         '{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,18446744073709551616]}}')
    jbad("json_shape_2pow64.safetensors", "18446744073709551616 (2^64) in shape.",
         '{"a":{"dtype":"U8","shape":[18446744073709551616,0],"data_offsets":[0,0]}}', b"")
    jbad("json_offsets_three.safetensors", "data_offsets with 3 numbers.",
         '{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2,2]}}')
    jbad("json_offsets_one.safetensors", "data_offsets with 1 number.",
         '{"a":{"dtype":"U8","shape":[2],"data_offsets":[2]}}')
    jbad("json_offsets_object.safetensors", "data_offsets is an object.",
         '{"a":{"dtype":"U8","shape":[1],"data_offsets":{"0":0,"1":1}}}', b"\x01")
    jbad("json_metadata_value_number.safetensors", "A metadata value that is a number.",
         '{"__metadata__":{"format":1},"a":' + one + "}")
    jbad("json_metadata_value_null.safetensors", "A metadata value that is null.",
         '{"__metadata__":{"format":null},"a":' + one + "}")
    jbad("json_metadata_string.safetensors", "__metadata__ is a string, not an object.",
         '{"__metadata__":"pt","a":' + one + "}")
    jbad("json_metadata_twice.safetensors", "Two __metadata__ keys.",
         '{"__metadata__":{"a":"1"},"__metadata__":{"b":"2"},"a":' + one + "}")
    jbad("json_tensor_entry_string.safetensors", "A tensor entry that is a string.",
         '{"a":"U8"}', b"")
    jbad("json_tensor_entry_null.safetensors", "A tensor entry that is null.",
         '{"a":null}', b"")
    jbad("json_duplicate_dtype_field.safetensors",
         "Two \"dtype\" keys inside one tensor entry (different values).",
         '{"a":{"dtype":"U8","dtype":"I8","shape":[2],"data_offsets":[0,2]}}')
    jbad("json_duplicate_dtype_field_same.safetensors",
         "Two identical \"dtype\" keys inside one tensor entry.",
         '{"a":{"dtype":"U8","dtype":"U8","shape":[2],"data_offsets":[0,2]}}')
    jbad("json_duplicate_offsets_field.safetensors",
         "Two \"data_offsets\" keys inside one tensor entry.",
         '{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2],"data_offsets":[0,2]}}')

    def nested(levels):
        inner = levels - 2  # top-level object and the tensor entry
        return ('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2],"x":'
                + "[" * inner + "]" * inner + "}}")
    jbad("json_nesting_128.safetensors",
         "Arrays in an unknown key reaching 128 levels counting the top-level object "
         "(the reference allows at most 127).", nested(128))
    jbad("json_nesting_129.safetensors",
         "Arrays in an unknown key reaching 129 levels.", nested(129))
    jbad("json_nesting_100000.safetensors",
         "Arrays in an unknown key nested 100,000 levels deep (about 200 KB).",
         nested(100_002))
    jbad("json_nesting_objects_128.safetensors",
         "Objects (not arrays) in an unknown key reaching 128 levels.",
         '{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2],"x":'
         + '{"k":' * 126 + "0" + "}" * 126 + "}}")
    jbad("json_garbage_after_object.safetensors", "Bytes after the closing brace.",
         '{"a":' + one + "}x")
    jbad("json_truncated.safetensors", "The JSON object is not closed.",
         '{"a":' + one)
    jbad("json_trailing_comma.safetensors", "A trailing comma in the top-level object.",
         '{"a":' + one + ",}")
    jbad("json_trailing_comma_in_shape.safetensors", "A trailing comma in shape.",
         '{"a":{"dtype":"U8","shape":[2,],"data_offsets":[0,2]}}')
    nul_header = ('{"a":' + one + "}").encode()
    nul_header += b"\x00" * (-len(nul_header) % 8 or 8)
    add("json_nul_padding.safetensors", J, None,
        "The header padded with NUL bytes instead of spaces.", pack(nul_header, two_bytes))
    add("json_bom.safetensors", J, None, "A UTF-8 byte order mark before the JSON.",
        padded_raw(b'\xef\xbb\xbf{"a":' + one.encode() + b"}"))
    jbad("json_vertical_tab.safetensors",
         "A vertical tab before the JSON (not JSON whitespace).", '\x0b{"a":' + one + "}")
    jbad("json_nbsp.safetensors",
         "A no-break space (U+00A0) before the JSON (not JSON whitespace).",
         '\u00a0{"a":' + one + "}")
    jbad("json_lone_surrogate_escape.safetensors",
         "A name with an escaped lone surrogate \\ud800.",
         '{"\\ud800":' + one + "}")
    jbad("json_raw_control_char.safetensors",
         "A raw (unescaped) U+0001 inside a name.", '{"a\x01":' + one + "}")
    jbad("json_raw_tab_in_name.safetensors",
         "A raw (unescaped) tab inside a name.", '{"a\t":' + one + "}")
    jbad("json_invalid_escape.safetensors", "An invalid escape \\x in a name.",
         '{"a\\x41":' + one + "}")
    jbad("json_unknown_key_float_out_of_range.safetensors",
         "An unknown key holding 1e400: the reference's JSON parser rejects the "
         "out-of-range float even though it ignores the key.",
         '{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2],"x":1e400}}')
    jbad("json_tensor_named_metadata.safetensors",
         "A tensor named __metadata__, as the reference writer produces it; its reader "
         "then parses the entry as the metadata map and rejects the array value.",
         '{"__metadata__":' + one + "}", made_by="reference")
    add("json_writer_bug_empty_metadata.safetensors", J, None,
        "What the reference writer produces for no tensors and an empty metadata dict: "
        "'{},\"__metadata__\":{}}', which is not JSON.", b"", made_by="reference")

    # invalidOffset
    add("offset_gap.safetensors", "invalidOffset", "b",
        "A 1-byte gap between tensors (b listed first in the JSON, a first in the data).",
        single('{"b":' + entry("U8", [2], 3, 5) + ',"a":' + entry("U8", [2], 0, 2) + "}",
               bytes(range(1, 6))))
    add("offset_overlap.safetensors", "invalidOffset", "b",
        "b starts inside a.",
        single('{"a":' + entry("U8", [2], 0, 2) + ',"b":' + entry("U8", [2], 1, 3) + "}",
               b"\x01\x02\x03"))
    add("offset_end_before_begin.safetensors", "invalidOffset", "b",
        "b begins where a ends but its end is before its begin.",
        single('{"a":' + entry("U8", [2], 0, 2) + ',"b":' + entry("U8", [0], 2, 1) + "}"))
    add("offset_not_starting_at_zero.safetensors", "invalidOffset", "a",
        "The first tensor starts at data offset 1.",
        single('{"a":' + entry("U8", [2], 1, 3) + "}", b"\x00\x01\x02"))
    add("offset_reversed_single.safetensors", "invalidOffset", "a",
        "A single tensor with data_offsets [2,0].",
        single('{"a":' + entry("U8", [2], 2, 0) + "}"))
    add("offset_duplicate_name_last_bad.safetensors", "duplicateTensorName", "a",
        "Two tensors named a; the reference keeps only the last and reports invalidOffset, "
        "since its offsets [2,4] do not start at 0. Weights refuses the duplicate first.",
        single('{"a":' + entry("U8", [2], 0, 2) + ',"a":' + entry("U8", [2], 2, 4) + "}",
               b"\x01\x02\x03\x04"), reference_rule="invalidOffset")
    add("precedence_offset_before_overflow.safetensors", "invalidOffset", "a",
        "Both a bad offset and an overflowing shape: the offset is checked first.",
        single('{"a":' + entry("U8", [2 ** 63, 4], 1, 2) + "}"))

    # validationOverflow
    add("overflow_shape_product.safetensors", "validationOverflow", "a",
        "Shape [2^32, 2^32]: the element count overflows u64.",
        single('{"a":' + entry("U8", [2 ** 32, 2 ** 32], 0, 2) + "}"))
    add("overflow_bits.safetensors", "validationOverflow", "a",
        "U64 shape [2^58]: the element count fits but the size in bits (2^64) does not.",
        single('{"a":' + entry("U64", [2 ** 58], 0, 2) + "}"))
    add("overflow_before_zero.safetensors", "validationOverflow", "a",
        "Shape [2^63, 4, 0]: the product is 0 but the running product overflows first "
        "(compare valid/zero_size_huge_axes).",
        single('{"a":' + entry("U8", [2 ** 63, 4, 0], 0, 0) + "}", b""))
    add("overflow_u64_max_axis.safetensors", "validationOverflow", "a",
        "U8 shape [2^64-1]: the bit count overflows.",
        single('{"a":' + entry("U8", [2 ** 64 - 1], 0, 2) + "}"))

    # misalignedSlice
    add("misaligned_f4_odd.safetensors", "misalignedSlice", "a",
        "F4 with 3 elements (12 bits).",
        single('{"a":' + entry("F4", [3], 0, 2) + "}"))
    add("misaligned_f6_e2m3_two.safetensors", "misalignedSlice", "a",
        "F6_E2M3 with 2 elements (12 bits).",
        single('{"a":' + entry("F6_E2M3", [2], 0, 2) + "}"))
    add("misaligned_f6_e3m2_five.safetensors", "misalignedSlice", "a",
        "F6_E3M2 with 5 elements (30 bits).",
        single('{"a":' + entry("F6_E3M2", [5], 0, 4) + "}", b"\x01\x02\x03\x04"))
    add("precedence_misaligned_before_info.safetensors", "misalignedSlice", "a",
        "F4 [3] spanning 5 bytes: misalignment is reported before the size mismatch.",
        single('{"a":' + entry("F4", [3], 0, 5) + "}", bytes(range(1, 6))))

    # tensorInvalidInfo
    add("info_span_too_short.safetensors", "tensorInvalidInfo", "a",
        "F32 [2] spanning 4 bytes instead of 8.",
        single('{"a":' + entry("F32", [2], 0, 4) + "}", b"\x01\x02\x03\x04"))
    add("info_span_too_long.safetensors", "tensorInvalidInfo", "a",
        "F16 [2] spanning 8 bytes instead of 4.",
        single('{"a":' + entry("F16", [2], 0, 8) + "}", bytes(8)))
    add("info_f4_span.safetensors", "tensorInvalidInfo", "a",
        "F4 [4] spanning 1 byte instead of 2.",
        single('{"a":' + entry("F4", [4], 0, 1) + "}", b"\x01"))
    add("info_scalar_span_zero.safetensors", "tensorInvalidInfo", "a",
        "An F32 scalar (shape []) spanning 0 bytes.",
        single('{"a":' + entry("F32", [], 0, 0) + "}", b""))
    add("info_second_tensor.safetensors", "tensorInvalidInfo", "b",
        "a is fine, b (I32 [1]) spans 8 bytes.",
        single('{"a":' + entry("U8", [2], 0, 2) + ',"b":' + entry("I32", [1], 2, 10) + "}",
               bytes(range(1, 11))))

    # metadataIncompleteBuffer
    add("incomplete_trailing_bytes.safetensors", "metadataIncompleteBuffer", None,
        "One byte after the last tensor.",
        single('{"a":' + one + "}", b"\x01\x02\x03"))
    add("incomplete_truncated_data.safetensors", "metadataIncompleteBuffer", None,
        "The data section is one byte short.",
        single('{"a":' + one + "}", b"\x01"))
    add("incomplete_no_tensors_trailing.safetensors", "metadataIncompleteBuffer", None,
        "No tensors, yet one data byte follows the header.",
        pack(b"{}      ", b"\x00"))

    # duplicateTensorName (accepted by the reference, rejected by our reader on purpose)
    add("duplicate_name_identical.safetensors", "duplicateTensorName", "a",
        "The same tensor entry twice under the name a; the reference keeps one.",
        single('{"a":' + one + ',"a":' + one + "}"), accepts=True)
    add("duplicate_name_different.safetensors", "duplicateTensorName", "a",
        "Two different entries named a (U8 [4] then U8 [2]); the reference silently keeps "
        "the last and reads a 2-byte tensor.",
        single('{"a":' + entry("U8", [4], 0, 4) + ',"a":' + one + "}"), accepts=True)

    # Duplicates the reference accepts that are not tensor names: a policy choice for us.
    jbad("json_duplicate_metadata_key.safetensors",
         "Two metadata entries with the same key; the reference keeps the last value (\"2\"). "
         "Listed so a strict reader's policy is explicit.",
         '{"__metadata__":{"k":"1","k":"2"},"a":' + one + "}", accepts=True)
    jbad("json_duplicate_unknown_field.safetensors",
         "An unknown key repeated inside one tensor entry; the reference ignores both. "
         "Listed so a strict reader's policy is explicit.",
         '{"a":{"x":1,"x":2,"dtype":"U8","shape":[2],"data_offsets":[0,2]}}', accepts=True)
    return specs


def reference_writer_malformed(file, directory=MALFORMED_DIR):
    """Write (into directory) and return the malformed files the reference writer produces."""
    path = os.path.join(directory, file)
    if file == "json_tensor_named_metadata.safetensors":
        return reference_write([("__metadata__", "U8", [2], b"\x01\x02")], None, path)
    if file == "json_writer_bug_empty_metadata.safetensors":
        return reference_write([], {}, path)
    raise KeyError(file)


def generate_malformed():
    os.makedirs(MALFORMED_DIR, exist_ok=True)
    manifest = []
    seen = set()
    for file, rule, tensor, accepts, made_by, description, blob, reference_rule in malformed_specs():
        assert file not in seen, file
        seen.add(file)
        assert rule in RULE_SIGNATURE, rule
        assert (tensor is not None) == (rule in RULES_NAMING_A_TENSOR), file
        path = os.path.join(MALFORMED_DIR, file)
        if made_by == "reference":
            expected = blob
            blob = reference_writer_malformed(file)
            if expected and blob != expected:
                raise SystemExit(f"reference writer output changed for {file}")
        else:
            with open(path, "wb") as f:
                f.write(blob)
        limit = 300_000 if "100000" in file else 1_000_000
        assert len(blob) <= limit, (file, len(blob))
        deser, opened = reference_read(blob, path)
        if accepts:
            if deser[0] != "ok" or opened[0] != "ok":
                raise SystemExit(f"{file}: expected the reference to accept it: {deser} {opened}")
            error = None
            error_open = None
        else:
            if deser[0] != "error" or opened[0] != "error":
                raise SystemExit(f"{file}: expected the reference to reject it: {deser} {opened}")
            error, error_open = deser[1], opened[1]
            signature = RULE_SIGNATURE[reference_rule]
            for text in (error, error_open):
                if signature not in text:
                    raise SystemExit(f"{file}: {rule} expected, reference said: {text}")
                if reference_rule == "invalidOffset" and f"`{tensor}`" not in text:
                    raise SystemExit(f"{file}: expected tensor {tensor}: {text}")
        manifest.append({
            "file": file,
            "rule": rule,
            "reference_rule": None if accepts else reference_rule,
            "tensor": tensor,
            "reference_error": error,
            "reference_error_safe_open": error_open,
            "reference_accepts": accepts,
            "made_by": made_by,
            "description": description,
            "size": len(blob),
            "sha256": sha256(blob),
        })
    return manifest


# ---------------------------------------------------------------- main

def write_json(path, value):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(value, f, indent=2, ensure_ascii=True)
        f.write("\n")


def check_versions():
    found = {"safetensors": safetensors.__version__, "numpy": np.__version__}
    if found != PINNED:
        raise SystemExit(f"pinned versions {PINNED} required, found {found}")


def clear(directory):
    if os.path.isdir(directory):
        for name in os.listdir(directory):
            if name.endswith(".safetensors") or name == "manifest.json":
                os.remove(os.path.join(directory, name))


def main():
    check_versions()
    clear(VALID_DIR)
    clear(MALFORMED_DIR)
    valid = generate_valid()
    write_json(os.path.join(VALID_DIR, "manifest.json"), valid)
    malformed = generate_malformed()
    write_json(os.path.join(MALFORMED_DIR, "manifest.json"), malformed)
    print(f"wrote {len(valid)} valid and {len(malformed)} malformed fixtures")


if __name__ == "__main__":
    main()
