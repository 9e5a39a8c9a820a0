#!/usr/bin/env python3
"""Which linear layers' inputs lose most when quantized to INT8 (Spec/int8-compute.md §4).

A numpy rendering of all-MiniLM-L6-v2 with Spec/int8-compute.md's arithmetic: per-row INT8
weights (max|row| / 127, round half to even), per-token INT8 activations at every linear
layer's input, exact integer sums, then the scales. Prints min and mean cosine to the
sentence-transformers reference over its sentences with every layer in INT8, then with one
kind of layer (Q, K, V, attention output, intermediate, output) kept in float in all six
layers, then with one whole layer kept in float.

    python3 Benchmarks/engine/int8_sensitivity.py

Needs numpy, scipy and safetensors; the model scripts/setup installs.
"""
import json
import os
import sys

import numpy as np
import scipy.special
from safetensors.numpy import load_file

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib  # noqa: E402

KINDS = ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
         "intermediate.dense", "output.dense"]


class Model:
    def __init__(self):
        self.tensors = load_file(os.path.join(benchlib.model_dir(), "model.safetensors"))
        self.prefix = "" if "embeddings.word_embeddings.weight" in self.tensors else "bert."
        self.quantized = {}

    def get(self, name):
        return self.tensors[self.prefix + name].astype(np.float32)

    @staticmethod
    def quantize_rows(matrix):
        scale = np.abs(matrix).max(axis=1, keepdims=True) / np.float32(127)
        divisor = np.where(scale > 0, scale, np.float32(1))
        return np.clip(np.round(matrix / divisor), -127, 127), scale

    def linear(self, x, name, integer):
        weight, bias = self.get(name + ".weight"), self.get(name + ".bias")
        if not integer:
            return x @ weight.T + bias
        if name not in self.quantized:
            self.quantized[name] = self.quantize_rows(weight)
        levels, scales = self.quantized[name]
        activations, activation_scales = self.quantize_rows(x)
        sums = activations.astype(np.float64) @ levels.T.astype(np.float64)  # exact: integers below 2^53
        return (sums * activation_scales * scales.T).astype(np.float32) + bias

    @staticmethod
    def layer_norm(x, gamma, beta, epsilon=1e-12):
        mean = x.mean(-1, keepdims=True)
        variance = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta

    def embed(self, ids, in_float):
        """The unit sentence vector of `ids`; `in_float(layer, kind)` says which products keep
        their input in float."""
        get, norm = self.get, self.layer_norm
        x = get("embeddings.word_embeddings.weight")[ids] + get("embeddings.token_type_embeddings.weight")[0] \
            + get("embeddings.position_embeddings.weight")[:len(ids)]
        x = norm(x, get("embeddings.LayerNorm.weight"), get("embeddings.LayerNorm.bias"))
        tokens, heads, size = len(ids), 12, 32
        for layer in range(6):
            prefix = f"encoder.layer.{layer}."

            def linear(inputs, kind):
                return self.linear(inputs, prefix + KINDS[kind], not in_float(layer, kind))
            q, k, v = (linear(x, kind).reshape(tokens, heads, size).transpose(1, 0, 2) for kind in range(3))
            scores = q @ k.transpose(0, 2, 1) / np.sqrt(size)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(1, 0, 2).reshape(tokens, heads * size)
            x = norm(linear(context, 3) + x, get(prefix + "attention.output.LayerNorm.weight"),
                     get(prefix + "attention.output.LayerNorm.bias"))
            inner = linear(x, 4)
            inner = 0.5 * inner * (1 + scipy.special.erf(inner / np.sqrt(2)))
            x = norm(linear(inner, 5) + x, get(prefix + "output.LayerNorm.weight"), get(prefix + "output.LayerNorm.bias"))
        pooled = x.mean(0)
        return pooled / np.linalg.norm(pooled)


def main():
    with open(os.path.join(benchlib.ROOT, "Fixtures", "minilm", "minilm_embeddings.json")) as f:
        reference = json.load(f)
    model = Model()

    def score(in_float):
        cosines = [float(model.embed(np.array(ids), in_float) @ (np.array(e) / np.linalg.norm(e)))
                   for ids, e in zip(reference["input_ids"], reference["embeddings"])]
        return min(cosines), sum(cosines) / len(cosines)

    print("| input kept in float | min | mean |\n|---|---:|---:|")
    print("| none | %.5f | %.5f |" % score(lambda layer, kind: False), flush=True)
    for kind, name in enumerate(KINDS):
        print(f"| {name}, every layer | %.5f | %.5f |" % score(lambda layer, k: k == kind), flush=True)
    for chosen in range(6):
        print(f"| all of layer {chosen} | %.5f | %.5f |" % score(lambda layer, k: layer == chosen), flush=True)


if __name__ == "__main__":
    main()
