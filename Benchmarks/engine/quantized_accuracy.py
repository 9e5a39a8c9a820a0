#!/usr/bin/env python3
"""An independent rendering of the INT4 and FP8 accuracy the engine reaches on all-MiniLM-L6-v2
(BENCHMARKS.md, "INT4 and FP8 checkpoints"): transformers' BertModel in float32 with every
encoder Linear weight replaced by its compressed-tensors dequantization, written here with
torch (not with the package), then mean pooling and L2 normalization as sentence-transformers
does. Prints min and mean cosine to the sentence-transformers reference
(Fixtures/minilm/minilm_embeddings.json) over its sentences, for:

- INT4, symmetric, per group of 128 and of 32, as compressed-tensors' W4A16 computes it:
  scale = max|group| / 7.5, q = clamp(round_half_even(w / scale), -8, 7), w' = q * scale;
- the same with scale = max|group| / 7 (the range +-7 some renderings use: issue #15's figures,
  0.897 and 0.932, are of that form);
- FP8 E4M3, one scale per row (max|row| / 448), as FP8_DYNAMIC's weights.

    python3 Benchmarks/engine/quantized_accuracy.py

Needs torch and transformers (versions in Benchmarks/engine/README.md); the model scripts/setup
installs. The engine's own figures come from `swift test -c release --filter
HubQuantizedModelTests`, which prints them.
"""
import json
import os
import sys

import numpy as np
import torch
from transformers import AutoModel

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def int4(weight, group, levels):
    rows, columns = weight.shape
    grouped = weight.reshape(rows, columns // group, group)
    scale = grouped.abs().amax(dim=2, keepdim=True) / levels
    scale[scale == 0] = torch.finfo(torch.float32).eps
    return (torch.clamp(torch.round(grouped / scale), -8, 7) * scale).reshape(rows, columns)


def fp8(weight):
    scale = weight.abs().amax(dim=1, keepdim=True) / 448
    scale[scale == 0] = torch.finfo(torch.float32).eps
    return torch.clamp(weight / scale, -448, 448).to(torch.float8_e4m3fn).to(torch.float32) * scale


def cosines(quantize, reference):
    model = AutoModel.from_pretrained(benchlib.model_dir()).eval()
    result = []
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.Linear) and name.startswith("encoder."):
                module.weight.copy_(quantize(module.weight.data.clone()))
        for ids, expected in zip(reference["input_ids"], reference["embeddings"]):
            tokens = torch.tensor([ids])
            state = model(input_ids=tokens, attention_mask=torch.ones_like(tokens)).last_hidden_state[0]
            vector = state.mean(0).double().numpy()
            expected = np.array(expected, dtype=np.float64)
            result.append(float(vector @ expected / (np.linalg.norm(vector) * np.linalg.norm(expected))))
    return result


def main():
    torch.set_num_threads(1)
    with open(os.path.join(ROOT, "Fixtures/minilm/minilm_embeddings.json")) as f:
        reference = json.load(f)
    variants = [
        ("INT4 group 128 (max/7.5, compressed-tensors)", lambda w: int4(w, 128, 7.5)),
        ("INT4 group 32 (max/7.5, compressed-tensors)", lambda w: int4(w, 32, 7.5)),
        ("INT4 group 128 (max/7)", lambda w: int4(w, 128, 7)),
        ("INT4 group 32 (max/7)", lambda w: int4(w, 32, 7)),
        ("FP8 E4M3 per row", fp8),
    ]
    print("| rendering | min | mean |\n|---|---:|---:|")
    for name, quantize in variants:
        values = cosines(quantize, reference)
        print(f"| {name} | {min(values):.5f} | {np.mean(values):.5f} |")


if __name__ == "__main__":
    main()
