#!/usr/bin/env python3
"""Re-verify the safetensors fixtures against the pinned reference package.

For every valid file: its hash, size and header length match the manifest; both
reference readers (`deserialize` and `safe_open`) accept it and return exactly the
manifest's tensors and metadata; the offsets and `data_order` match the header;
files marked `canonical_layout` are rebuilt byte for byte from the manifest alone
by our statement of the writer's layout, and files made by the reference are
rebuilt byte for byte by the reference writer from the manifest alone.

For every malformed file: its hash and size match; both readers reject it with the
recorded messages (or accept it where `reference_accepts` is true); the message
belongs to the recorded rule.

Prints one line per failure and a closing 'N passed, N failed' line; exits 1 on
any failure.
"""

import hashlib
import json
import os
import struct
import sys
import tempfile

import generate as g

passed = 0
failed = 0

NUMPY_NATIVE = {"BOOL", "U8", "I8", "I16", "U16", "F16", "I32", "U32", "F32",
                "C64", "F64", "I64", "U64"}


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what)


def tensors_from_manifest(entry):
    return [(t["name"], t["dtype"], t["shape"], bytes.fromhex(t["data_hex"]))
            for t in entry["tensors"]]


def check_valid(entry, scratch):
    name = entry["file"]
    path = os.path.join(g.VALID_DIR, name)
    with open(path, "rb") as f:
        blob = f.read()
    check(hashlib.sha256(blob).hexdigest() == entry["sha256"], f"{name}: sha256")
    check(len(blob) == entry["size"], f"{name}: size")
    n = struct.unpack("<Q", blob[:8])[0]
    check(n == entry["header_length"], f"{name}: header_length")
    check(entry["made_by"] in ("reference", "hand"), f"{name}: made_by")

    tensors = tensors_from_manifest(entry)
    deser, opened = g.reference_read(blob, path)
    check(deser[0] == "ok", f"{name}: deserialize rejected it: {deser[1]}")
    check(opened[0] == "ok", f"{name}: safe_open rejected it: {opened[1]}")
    if deser[0] == "ok":
        want = {t[0]: (t[1], list(t[2]), t[3]) for t in tensors}
        check(deser[1] == want, f"{name}: tensors read back differ from the manifest")
    if opened[0] == "ok":
        check(sorted(opened[1]["keys"]) == sorted(t[0] for t in tensors), f"{name}: keys")
        check(opened[1]["metadata"] == entry["metadata"], f"{name}: metadata")

    # safe_open's own numpy path, for the dtypes numpy has natively.
    if opened[0] == "ok":
        with g.safetensors.safe_open(path, framework="numpy") as f:
            for t_name, code, shape, data in tensors:
                # numpy cannot build arrays with axes of 2^63 and more, even empty ones.
                if code in NUMPY_NATIVE and all(d < 2 ** 62 for d in shape):
                    array = f.get_tensor(t_name)
                    check(list(array.shape) == list(shape) and array.tobytes() == data,
                          f"{name}: safe_open get_tensor of {t_name!r}")

    # Offsets and data order, read from the header itself.
    _, pairs = g.header_pairs(blob)
    offsets, positions = {}, {}
    for pos, (key, value) in enumerate(pairs):
        if key != "__metadata__":
            offsets[key] = list(dict(value)["data_offsets"])
            positions[key] = pos
    for t in entry["tensors"]:
        check(offsets.get(t["name"]) == t["data_offsets"], f"{name}: offsets of {t['name']!r}")
        b, e = t["data_offsets"]
        check(blob[8 + n + b:8 + n + e].hex() == t["data_hex"], f"{name}: data of {t['name']!r}")
    order = sorted(offsets, key=lambda k: (offsets[k][0], offsets[k][1], positions[k]))
    check(order == entry["data_order"], f"{name}: data_order")

    canonical = g.canonical_bytes(tensors, entry["metadata"]) == blob
    check(canonical == entry["canonical_layout"], f"{name}: canonical_layout")
    if entry["made_by"] == "reference":
        check(entry["canonical_layout"], f"{name}: a reference file must be canonical")
        again = g.reference_write(tensors, entry["metadata"], os.path.join(scratch, name))
        check(again == blob, f"{name}: the reference writer no longer reproduces it")


def check_malformed(entry, scratch):
    name = entry["file"]
    path = os.path.join(g.MALFORMED_DIR, name)
    with open(path, "rb") as f:
        blob = f.read()
    check(hashlib.sha256(blob).hexdigest() == entry["sha256"], f"{name}: sha256")
    check(len(blob) == entry["size"], f"{name}: size")
    check(len(blob) <= (300_000 if "100000" in name else 1_000_000), f"{name}: too big")
    rule = entry["rule"]
    check(rule in g.RULE_SIGNATURE, f"{name}: unknown rule {rule}")
    check((entry["tensor"] is not None) == (rule in g.RULES_NAMING_A_TENSOR),
          f"{name}: tensor field does not fit rule {rule}")
    deser, opened = g.reference_read(blob, path)
    if entry["reference_accepts"]:
        check(deser[0] == "ok" and opened[0] == "ok", f"{name}: reference no longer accepts it")
        check(entry["reference_error"] is None, f"{name}: error recorded for an accepted file")
        return
    check(deser == ("error", entry["reference_error"]),
          f"{name}: deserialize said {deser!r}, manifest {entry['reference_error']!r}")
    check(opened == ("error", entry["reference_error_safe_open"]),
          f"{name}: safe_open said {opened!r}, manifest {entry['reference_error_safe_open']!r}")
    reference_rule = entry["reference_rule"]
    signature = g.RULE_SIGNATURE[reference_rule]
    check(signature is not None and signature in (entry["reference_error"] or ""),
          f"{name}: message does not belong to {reference_rule}")
    if reference_rule == "invalidOffset":
        check(f"`{entry['tensor']}`" in entry["reference_error"], f"{name}: wrong tensor named")
    if entry["made_by"] == "reference":
        again = g.reference_writer_malformed(name, scratch)
        check(again == blob, f"{name}: the reference writer no longer produces it")


def main():
    g.check_versions()
    with open(os.path.join(g.VALID_DIR, "manifest.json"), encoding="utf-8") as f:
        valid = json.load(f)
    with open(os.path.join(g.MALFORMED_DIR, "manifest.json"), encoding="utf-8") as f:
        malformed = json.load(f)
    for directory, manifest in ((g.VALID_DIR, valid), (g.MALFORMED_DIR, malformed)):
        on_disk = sorted(x for x in os.listdir(directory) if x.endswith(".safetensors"))
        listed = sorted(e["file"] for e in manifest)
        check(on_disk == listed, f"{directory}: files on disk and manifest entries differ")
    with tempfile.TemporaryDirectory() as scratch:
        for entry in valid:
            check_valid(entry, scratch)
        for entry in malformed:
            check_malformed(entry, scratch)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
