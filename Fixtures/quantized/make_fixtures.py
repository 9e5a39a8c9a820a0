#!/usr/bin/env python3
"""Writes checkpoints in the hub's quantized layouts, made by the reference library, and the
values its own decompression gives for them.

    pip install torch==2.13.0+cpu compressed-tensors==0.20.1 safetensors numpy
    python3 Fixtures/quantized/make_fixtures.py

Writes, beside this script:
    compressed-tensors.safetensors   layers quantized and packed by compressed-tensors'
                                     compressors (pack-quantized INT4 and INT8, symmetric and
                                     asymmetric, per channel and per group; float-quantized
                                     FP8 per tensor, per channel and in 128 x 128 blocks), and
                                     two plain tensors that are not quantized
    deepseek-fp8.safetensors         DeepSeek-V3's layout: F8_E4M3 `weight` and F32
                                     `weight_scale_inv`, one entry per 128 x 128 block
    expected.safetensors             for every quantized layer, `<layer>.weight` as the
                                     library decompresses it (compressed-tensors'
                                     `decompress`; for DeepSeek, the block product in float32,
                                     as `fp8_cast_bf16.py` computes it before its cast)

Deterministic: torch is seeded.
"""
import os

import compressed_tensors
import torch
from compressed_tensors.compressors.naive_quantized.base import FloatQuantizationCompressor, IntQuantizationCompressor
from compressed_tensors.compressors.pack_quantized.base import PackedQuantizationCompressor
from compressed_tensors.quantization import QuantizationArgs, QuantizationScheme
from compressed_tensors.quantization.utils import calculate_qparams
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))


def qparams(weight, args):
    """Scales and zero points from the weight's range, per the strategy, with the library's
    own `calculate_qparams` (what its min-max observer feeds it)."""
    out, inp = weight.shape
    if args.strategy == "tensor":
        low, high = weight.min().reshape(1), weight.max().reshape(1)
    elif args.strategy == "channel":
        low, high = weight.amin(dim=1, keepdim=True), weight.amax(dim=1, keepdim=True)
    elif args.strategy == "group":
        grouped = weight.reshape(out, inp // args.group_size, args.group_size)
        low, high = grouped.amin(dim=2), grouped.amax(dim=2)
    elif args.strategy == "block":
        rows, cols = args.block_structure
        padded = torch.nn.functional.pad(weight, (0, -inp % cols, 0, -out % rows))
        blocks = padded.reshape(padded.shape[0] // rows, rows, padded.shape[1] // cols, cols)
        low, high = blocks.amin(dim=(1, 3)), blocks.amax(dim=(1, 3))
    else:
        raise ValueError(args.strategy)
    return calculate_qparams(low, high, args)


def layer(name, weight, args, compressor, state, expected):
    scale, zero_point = qparams(weight, args)
    module = {"weight": weight, "weight_scale": scale, "weight_zero_point": zero_point}
    scheme = QuantizationScheme(targets=["Linear"], weights=args)
    compressed = compressor.compress(module, scheme)
    for key, value in compressed.items():
        state[f"{name}.{key}"] = value.contiguous()
    decompressed = compressor.decompress(dict(compressed), scheme)
    expected[f"{name}.weight"] = decompressed["weight"].contiguous()


def main():
    torch.manual_seed(11)
    state, expected = {}, {}
    # Weights a little heavier-tailed than a normal, in the model's own dtypes.
    w = lambda *shape, dtype=torch.bfloat16: (torch.randn(*shape) * torch.rand(*shape).add(0.5)).to(dtype)

    packed = PackedQuantizationCompressor
    layer("int4_group", w(8, 64), QuantizationArgs(num_bits=4, type="int", symmetric=True, strategy="group", group_size=32),
          packed, state, expected)
    layer("int4_group_asym", w(16, 64, dtype=torch.float16),
          QuantizationArgs(num_bits=4, type="int", symmetric=False, strategy="group", group_size=16), packed, state, expected)
    layer("int4_channel", w(6, 40, dtype=torch.float32), QuantizationArgs(num_bits=4, type="int", symmetric=True, strategy="channel"),
          packed, state, expected)
    layer("int8_channel", w(4, 24), QuantizationArgs(num_bits=8, type="int", symmetric=True, strategy="channel"),
          packed, state, expected)
    layer("int8_channel_asym", w(4, 24), QuantizationArgs(num_bits=8, type="int", symmetric=False, strategy="channel"),
          packed, state, expected)
    floats = FloatQuantizationCompressor
    layer("fp8_tensor", w(4, 32), QuantizationArgs(num_bits=8, type="float", symmetric=True, strategy="tensor"),
          floats, state, expected)
    layer("fp8_channel", w(4, 32, dtype=torch.float32), QuantizationArgs(num_bits=8, type="float", symmetric=True, strategy="channel"),
          floats, state, expected)
    layer("fp8_block", w(200, 160), QuantizationArgs(num_bits=8, type="float", symmetric=True, strategy="block",
                                                     block_structure=[128, 128]), floats, state, expected)
    state["norm.weight"] = w(64)
    state["embed.weight"] = w(16, 8)
    save_file(state, os.path.join(HERE, "compressed-tensors.safetensors"),
              metadata={"compressed-tensors": compressed_tensors.__version__, "torch": torch.__version__})

    # DeepSeek-V3: the weight in F8_E4M3, one F32 scale per 128 x 128 block (partial edges).
    weight = (torch.randn(200, 300) * 40).clamp(-448, 448).to(torch.float8_e4m3fn)
    scale_inv = torch.rand(2, 3) * 0.01 + 0.001
    deepseek = {"layer.weight": weight, "layer.weight_scale_inv": scale_inv, "layer.bias": w(200)}
    save_file(deepseek, os.path.join(HERE, "deepseek-fp8.safetensors"))
    full = scale_inv.repeat_interleave(128, 0)[:200].repeat_interleave(128, 1)[:, :300]
    expected["layer.weight"] = (weight.to(torch.float32) * full).contiguous()

    save_file(expected, os.path.join(HERE, "expected.safetensors"))


if __name__ == "__main__":
    main()
