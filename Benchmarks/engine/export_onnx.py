#!/usr/bin/env python3
"""Exports all-MiniLM-L6-v2's encoder to ONNX for the ONNX Runtime anchor of Benchmarks/engine.

Writes two models into .bench/engine/ (ignored by git):
  - minilm.onnx: torch.onnx.export of transformers' BertModel (inputs input_ids,
    attention_mask, token_type_ids; output last_hidden_state; batch and sequence dynamic);
  - minilm-optimized.onnx: the same after onnxruntime.transformers' BERT optimizer, which
    fuses attention, GELU and LayerNorm, ONNX Runtime's fastest CPU form of the model.

    python3 Benchmarks/engine/export_onnx.py

The exporter is torch.onnx's dynamo exporter (it needs onnxscript): the older tracing
exporter freezes transformers 5's attention-mask arithmetic at the example's shape.

Versions used for RESULTS.md are in Benchmarks/engine/README.md.
"""
import os
import sys

import numpy as np
import torch
from transformers import BertModel

# Run as a script: the shared helpers live one directory up, in Benchmarks/benchlib.py.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib  # noqa: E402

WORK = benchlib.work_dir("engine")


class Encoder(torch.nn.Module):
    """BertModel called by keyword, returning the token states only."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.model(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).last_hidden_state


def export(path):
    model = BertModel.from_pretrained(benchlib.model_dir(), add_pooling_layer=False, attn_implementation="eager").eval()
    ids = torch.tensor([[101, 7592, 2088, 102]], dtype=torch.int64)
    inputs = (ids, torch.ones_like(ids), torch.zeros_like(ids))
    axes = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        torch.onnx.export(Encoder(model), inputs, path, input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["last_hidden_state"], opset_version=18, dynamo=True,
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                                        "last_hidden_state": axes})
    return model


def optimize(source, target):
    from onnxruntime.transformers import optimizer
    optimized = optimizer.optimize_model(source, model_type="bert", num_heads=12, hidden_size=384, opt_level=1)
    optimized.save_model_to_file(target)


def check(model, paths):
    """The exported graphs must compute what PyTorch computes, at shapes other than the
    example's, padding included."""
    import onnxruntime as ort
    rng = np.random.default_rng(0)
    for path in paths:
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        for shape in [(1, 7), (3, 20), (32, 128)]:
            ids = rng.integers(1000, 30000, size=shape).astype(np.int64)
            mask = np.ones_like(ids)
            mask[-1, shape[1] // 2:] = 0
            with torch.no_grad():
                expected = model(torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).last_hidden_state.numpy()
            got = session.run(None, {"input_ids": ids, "attention_mask": mask,
                                     "token_type_ids": np.zeros_like(ids)})[0]
            real = mask.astype(bool)
            error = float(np.abs(got[real] - expected[real]).max())
            print(f"{os.path.basename(path)} {shape}: max |ONNX Runtime - PyTorch| = {error:.2e}")
            if error > 1e-4:
                sys.exit(f"export check failed for {path}")


def main():
    os.makedirs(WORK, exist_ok=True)
    plain = os.path.join(WORK, "minilm.onnx")
    fused = os.path.join(WORK, "minilm-optimized.onnx")
    model = export(plain)
    optimize(plain, fused)
    check(model, [plain, fused])


if __name__ == "__main__":
    main()
