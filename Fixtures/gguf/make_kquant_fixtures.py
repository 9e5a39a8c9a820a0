#!/usr/bin/env python3
"""Writes kquants-llamacpp.gguf: Q4_K and Q6_K blocks made by llama.cpp's own quantizer.

The blocks come from ggml's `ggml_quantize_chunk` (no importance matrix, so it runs
`quantize_row_q4_K_ref` / `quantize_row_q6_K_ref`) in the libggml that llama-cpp-python
builds from source; gguf-py (pinned 0.19.0) writes the file.

    CMAKE_ARGS="-DGGML_NATIVE=ON" pip install llama-cpp-python gguf==0.19.0 numpy
    python3 Fixtures/gguf/make_kquant_fixtures.py [path/to/libggml-base.so [OUTPUT.gguf]]

A library path may also name a library built from ggml-quants.c alone (its quantize_q4_K and
quantize_q6_K are what ggml_quantize_chunk calls); README.md says how
kquants-llamacpp-fma.gguf was made that way. LLAMA_CPP_PYTHON_VERSION names the version of a
library taken from llama-cpp-python's build tree before the package is installed.

Output, next to this script: kquants-llamacpp.gguf (or OUTPUT.gguf) with the float32 inputs `input.<set>` of
make_writer_fixtures.py plus `input.normal_large` (256 rows of 256) and `input.heavy`
(Student-t, 3 degrees of freedom, like trained weights' tails), and for each set
`q4_k.<set>` and `q6_k.<set>`. The library's path and llama-cpp-python's version are stored
in the file's metadata (`fixture.library`, `fixture.llama_cpp_python`).
"""
import ctypes
import os
import importlib.metadata
import sys
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_writer_fixtures import quant_inputs, finish  # noqa: E402


def find_library():
    if len(sys.argv) > 1:
        return Path(sys.argv[1])
    import llama_cpp
    lib = Path(llama_cpp.__file__).parent / "lib"
    for name in ["libggml-base.so", "libggml.so"]:
        if (lib / name).exists():
            return lib / name
    raise SystemExit(f"no libggml in {lib}")


def main():
    path = find_library()
    ggml = ctypes.CDLL(str(path))
    if hasattr(ggml, "ggml_quantize_chunk"):
        chunk = ggml.ggml_quantize_chunk
        chunk.restype = ctypes.c_size_t
        chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64,
                          ctypes.c_int64, ctypes.c_void_p]
        quantize = chunk
    else:
        # A library built from ggml-quants.c alone: its per-type entry points, the ones
        # ggml_quantize_chunk calls.
        def quantize(qtype, src, dst, start, rows, cols, imatrix):
            fn = {int(T.Q4_K): ggml.quantize_q4_K, int(T.Q6_K): ggml.quantize_q6_K}[qtype]
            fn.restype = ctypes.c_size_t
            fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
            return fn(src, dst, rows, cols, None) * 1
    try:
        version = importlib.metadata.version("llama_cpp_python")
    except importlib.metadata.PackageNotFoundError:
        # A library from a build tree, before the package was installed: say which.
        version = os.environ.get("LLAMA_CPP_PYTHON_VERSION", "none (library given by path)")

    inputs = quant_inputs()
    rng = np.random.default_rng(20261203)
    inputs["normal_large"] = rng.standard_normal((256, 256)).astype(np.float32)
    inputs["heavy"] = (rng.standard_t(3, (64, 256)) * 0.02).astype(np.float32)

    output = sys.argv[2] if len(sys.argv) > 2 else "kquants-llamacpp.gguf"
    w = gguf.GGUFWriter(str(HERE / output), "kquants")
    w.add_string("fixture.library", path.name)
    w.add_string("fixture.llama_cpp_python", version)
    for name, data in inputs.items():
        w.add_tensor(f"input.{name}", np.ascontiguousarray(data))
    for qtype in [T.Q4_K, T.Q6_K]:
        block, size = GGML_QUANT_SIZES[qtype]
        for name, data in inputs.items():
            rows, cols = data.shape
            src = np.ascontiguousarray(data, dtype=np.float32)
            out = np.zeros((rows, cols // block * size), dtype=np.uint8)
            written = quantize(int(qtype), src.ctypes.data, out.ctypes.data, 0, rows, cols, None)
            assert written == out.nbytes, (qtype, name, written)
            w.add_tensor(f"{qtype.name.lower()}.{name}", out, raw_dtype=qtype)
    finish(w)
    print(output, (HERE / output).stat().st_size, "from", path, version)


if __name__ == "__main__":
    main()
