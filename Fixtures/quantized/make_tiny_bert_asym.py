#!/usr/bin/env python3
"""Writes tiny-bert-w4-asym.safetensors: Fixtures/tiny-bert's encoder with every linear layer
quantized by compressed-tensors' pack-quantized compressor to asymmetric INT4 (zero points),
groups of 16, the scales in F32; embeddings, norms and biases as they are. The engine runs
such layers dequantized (WeightLoader), and the test compares it with the file converted to
F32.

    pip install torch==2.13.0+cpu compressed-tensors==0.20.1 safetensors numpy
    python3 Fixtures/quantized/make_tiny_bert_asym.py

Deterministic: the quantization has no randomness (min-max scales of the stored weights).
"""
import os

import compressed_tensors
import torch
from compressed_tensors.compressors.pack_quantized.base import PackedQuantizationCompressor
from compressed_tensors.quantization import QuantizationArgs
from safetensors.torch import load_file, save_file

from make_fixtures import layer

HERE = os.path.dirname(os.path.abspath(__file__))
LINEAR = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
          "intermediate.dense", "output.dense")


def main():
    source = load_file(os.path.join(HERE, "..", "tiny-bert", "model.safetensors"))
    args = QuantizationArgs(num_bits=4, type="int", symmetric=False, strategy="group", group_size=16)
    state, expected = {}, {}
    for name, tensor in source.items():
        prefix = name[:-len(".weight")] if name.endswith(".weight") else None
        if prefix and prefix.startswith("encoder.layer.") and prefix.split(".", 3)[3] in LINEAR:
            layer(prefix, tensor.to(torch.float32), args, PackedQuantizationCompressor, state, expected)
        else:
            state[name] = tensor.contiguous()
    save_file(state, os.path.join(HERE, "tiny-bert-w4-asym.safetensors"),
              metadata={"compressed-tensors": compressed_tensors.__version__, "torch": torch.__version__})
    print(len(expected), "layers quantized")


if __name__ == "__main__":
    main()
