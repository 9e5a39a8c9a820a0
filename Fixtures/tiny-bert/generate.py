#!/usr/bin/env python3
"""Generates the tiny BERT fixture for WeightsEngineTests: a randomly initialized BertModel
(seed 0) small enough to commit, and its last hidden states for a few token sequences.

Shapes differ from MiniLM's on purpose (hidden 32, 4 heads of 8, 2 layers, intermediate 48,
vocabulary 97, 40 positions, layer_norm_eps 1e-5), so the test shows that the encoder follows
config.json rather than MiniLM's numbers. Biases and LayerNorm parameters are randomized
too, since their initial values (0 and 1) would hide mistakes.

    python3 Fixtures/tiny-bert/generate.py

Writes config.json, model.safetensors and expected.json beside this script. Versions: see
README.md.
"""
import json
import os

import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertModel

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    torch.manual_seed(0)
    config = BertConfig(vocab_size=97, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=48, max_position_embeddings=40, type_vocab_size=2,
                        layer_norm_eps=1e-5, hidden_act="gelu")
    model = BertModel(config, add_pooling_layer=False).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name:
                parameter.copy_(torch.randn_like(parameter) * 0.1 + (1.0 if name.endswith("LayerNorm.weight") else 0.0))
    state = {name: tensor.contiguous() for name, tensor in model.state_dict().items() if "position_ids" not in name}
    save_file(state, os.path.join(HERE, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(HERE, "config.json"), "w") as f:
        f.write(config.to_json_string())
    sequences = [[2, 15, 96, 40, 3], [2, 7, 3], list(range(1, 41))]
    expected = []
    with torch.no_grad():
        for ids in sequences:
            states = model(torch.tensor([ids])).last_hidden_state[0]
            expected.append([float(x) for x in states.flatten()])
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump({"produced_by": f"transformers {__import__('transformers').__version__}, torch {torch.__version__}, "
                                  "BertModel float32 on CPU, seed 0",
                   "input_ids": sequences, "last_hidden_state": expected}, f)


if __name__ == "__main__":
    main()
