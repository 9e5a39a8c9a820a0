#!/usr/bin/env python3
"""Known-answer digests for Weights' tests, computed independently of Weights.

Reads fixture files with the reference safetensors package and hashes with Python's hashlib,
following Spec/digests.md. Writes digests.json beside this script.

    python3 make_digests.py        # Python 3.11, safetensors 0.8.0, numpy 2.4.6
"""
import hashlib
import json
import os

from safetensors import safe_open

HERE = os.path.dirname(os.path.abspath(__file__))
VALID = os.path.join(HERE, "..", "safetensors", "valid")
FILES = ["golden_w_f16", "model_bert_tiny", "name_escaping", "name_order", "empty_and_scalar",
         "all_dtypes_except_f6", "empty_no_meta", "hand_noncanonical_order", "hand_odd_header_length"]


def raw_tensors(path):
    """(name, dtype, shape, raw bytes) for each tensor, read from the header and data section."""
    with open(path, "rb") as f:
        blob = f.read()
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + n])
    header.pop("__metadata__", None)
    data = blob[8 + n:]
    with safe_open(path, framework="numpy"):  # the reference accepts the file
        pass
    return [(name, e["dtype"], e["shape"], data[e["data_offsets"][0]:e["data_offsets"][1]]) for name, e in header.items()]


def content_digest(tensors):
    lines = ["weights-content-digest-v1\n"]
    for name, dtype, shape, raw in sorted(tensors, key=lambda t: t[0].encode("utf-8")):
        quoted = json.dumps(name, ensure_ascii=False)
        lines.append(f"{quoted}\t{dtype}\t[{','.join(map(str, shape))}]\t{hashlib.sha256(raw).hexdigest()}\n")
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def main():
    out = []
    for stem in FILES:
        path = os.path.join(VALID, stem + ".safetensors")
        tensors = raw_tensors(path)
        with open(path, "rb") as f:
            file_digest = hashlib.sha256(f.read()).hexdigest()
        out.append({
            "file": stem + ".safetensors",
            "sha256": file_digest,
            "content_digest": content_digest(tensors),
            "tensors": [[name, hashlib.sha256(raw).hexdigest()] for name, _, _, raw in tensors],
        })
    with open(os.path.join(HERE, "digests.json"), "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
