#!/usr/bin/env python3
"""Known answers for `weights convert --dtype int4|f8_e4m3`: a small model-shaped checkpoint,
its Linear weights quantized by compressed-tensors itself, and the F32 -> F8 rounding of
ml_dtypes over every binary32 pattern.

    pip install torch==2.13.0+cpu compressed-tensors==0.20.1 safetensors ml_dtypes numpy
    python3 Fixtures/quantized/make_writer_fixtures.py

Writes, beside this script:
    writer-input.safetensors      the plain checkpoint (BF16, F16 and F32 Linear weights, one
                                  with an all-zero group, an embedding, a norm, a bias, an
                                  lm_head)
    writer-int4.safetensors       what compressed-tensors' W4A16 preset (symmetric INT4, group
                                  128; min-max scales through `calculate_qparams`) makes of each
                                  Linear weight with the pack-quantized compressor, and each
                                  weight as its `decompress` gives it back (`<layer>.weight_dequantized`)
    writer-fp8.safetensors        the same with the FP8_DYNAMIC preset: `float-quantized`
                                  F8_E4M3 weights, symmetric, one scale per channel
    writer-config-int4.json, writer-config-fp8.json
                                  the `quantization_config` compressed-tensors writes for them
    f8-runs.bin                   ml_dtypes' F32 -> float8_e4m3fn and float8_e5m2 over all 2^32
                                  patterns, as runs: little-endian u32 pairs (first pattern of
                                  the run, output byte), e4m3 runs then e5m2 runs, each list
                                  preceded by its u32 count
"""
import json
import os

import compressed_tensors
import ml_dtypes
import numpy as np
import torch
from compressed_tensors.compressors.naive_quantized.base import FloatQuantizationCompressor
from compressed_tensors.compressors.pack_quantized.base import PackedQuantizationCompressor
from compressed_tensors.quantization import QuantizationConfig, QuantizationScheme, preset_name_to_scheme
from compressed_tensors.quantization.utils import calculate_qparams
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
LINEAR = ["model.layers.0.self_attn.q_proj.weight", "model.layers.0.mlp.down_proj.weight",
          "model.layers.0.mlp.up_proj.weight"]


def quantize(state, preset, compressor):
    scheme = preset_name_to_scheme(preset, ["Linear"])
    args = scheme.weights
    out = {}
    for name in LINEAR:
        weight = state[name]
        rows, cols = weight.shape
        if args.strategy == "group":
            grouped = weight.reshape(rows, cols // args.group_size, args.group_size)
            low, high = grouped.amin(dim=2), grouped.amax(dim=2)
        else:
            low, high = weight.amin(dim=1, keepdim=True), weight.amax(dim=1, keepdim=True)
        scale, zero = calculate_qparams(low, high, args)
        module = {"weight": weight, "weight_scale": scale, "weight_zero_point": zero}
        compressed = compressor.compress(module, scheme)
        prefix = name[: -len(".weight")]
        for key, value in compressed.items():
            out[f"{prefix}.{key}"] = value.contiguous()
        out[f"{prefix}.weight_dequantized"] = compressor.decompress(dict(compressed), scheme)["weight"].contiguous()
    config = QuantizationConfig(config_groups={"group_0": scheme}, format=compressor_format(compressor),
                                quantization_status="compressed", ignore=["lm_head"])
    return out, config.model_dump(mode="json")


def compressor_format(compressor):
    return "pack-quantized" if compressor is PackedQuantizationCompressor else "float-quantized"


def f8_runs(dtype):
    runs = []
    previous = None
    step = 1 << 24
    for start in range(0, 1 << 32, step):
        bits = np.arange(start, start + step, dtype=np.uint64).astype(np.uint32)
        out = bits.view(np.float32).astype(dtype).view(np.uint8)
        change = np.flatnonzero(np.diff(out.astype(np.int16)) != 0) + 1
        if previous is None or out[0] != previous:
            runs.append((start, int(out[0])))
        runs.extend((start + int(i), int(out[i])) for i in change)
        previous = out[-1]
    return runs


def main():
    torch.manual_seed(23)
    w = lambda *shape, dtype=torch.bfloat16: (torch.randn(*shape) * torch.rand(*shape).add(0.5) * 0.05).to(dtype)
    q = w(64, 256)
    q[3, 128:] = 0  # an all-zero group: the scale becomes the dtype's eps
    q[5, :128] = 0
    state = {
        "model.embed_tokens.weight": w(40, 256),
        LINEAR[0]: q,
        LINEAR[1]: w(32, 384, dtype=torch.float16),
        LINEAR[2]: w(48, 128, dtype=torch.float32),
        "model.layers.0.mlp.up_proj.bias": w(48, dtype=torch.float32),
        "model.norm.weight": w(256),
        "lm_head.weight": w(40, 256),
    }
    save_file(state, os.path.join(HERE, "writer-input.safetensors"),
              metadata={"compressed-tensors": compressed_tensors.__version__, "torch": torch.__version__})
    for preset, compressor, tag in (("W4A16", PackedQuantizationCompressor, "int4"),
                                    ("FP8_DYNAMIC", FloatQuantizationCompressor, "fp8")):
        out, config = quantize(state, preset, compressor)
        save_file(out, os.path.join(HERE, f"writer-{tag}.safetensors"))
        with open(os.path.join(HERE, f"writer-config-{tag}.json"), "w") as f:
            json.dump(config, f, indent=2, sort_keys=True)
            f.write("\n")

    # The walk over 2^32 patterns takes minutes: it is skipped when its file is there.
    if os.path.exists(os.path.join(HERE, "f8-runs.bin")):
        return
    with open(os.path.join(HERE, "f8-runs.bin"), "wb") as f:
        for dtype in (ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2):
            runs = f8_runs(dtype)
            f.write(np.uint32(len(runs)).tobytes())
            f.write(np.array(runs, dtype=np.uint32).tobytes())


if __name__ == "__main__":
    main()
