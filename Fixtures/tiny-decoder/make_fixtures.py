#!/usr/bin/env python3
"""Writes the tiny decoder fixtures: two randomly initialised causal language models made with
transformers (a Gemma 3 text model and a Llama), their weights written to GGUF with gguf-py as
llama.cpp's converter lays them out, and transformers' logits for a fixed token sequence.

    pip install torch==2.13.0+cpu transformers gguf==0.19.0 numpy safetensors
    python3 Fixtures/tiny-decoder/make_fixtures.py

Writes, beside this script:
    gemma3.gguf, llama.gguf           the models (F32 tensors, a small SentencePiece vocabulary)
    gemma3-logits.safetensors,        `logits`: F32 [positions, vocabulary], transformers'
    llama-logits.safetensors          logits at every position of `tokens` (I64 [positions])

Deterministic: fixed seeds, and torch's deterministic CPU kernels.
"""
import os

import gguf
import numpy as np
import torch
import transformers
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
VOCABULARY = 128
TOKENS = [2, 17, 99, 5, 64, 3, 120, 42, 8, 77, 31, 100]


def vocabulary_metadata(writer):
    """A SentencePiece-style vocabulary of VOCABULARY pieces, so that the file is complete: the
    tests run the decoder on token ids, but a loader reads the tokenizer too."""
    pieces = ["<pad>", "<eos>", "<bos>", "<unk>"] + [f"<0x{b:02X}>" for b in range(32, 96)]
    letters = "abcdefghijklmnopqrstuvwxyz"
    while len(pieces) < VOCABULARY:
        i = len(pieces)
        pieces.append("\u2581" + letters[i % 26] + letters[(i // 26) % 26])
    types = [3, 3, 3, 2] + [6] * 64 + [1] * (VOCABULARY - 68)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(pieces)
    writer.add_token_scores([0.0] * 68 + [-float(i) for i in range(VOCABULARY - 68)])
    writer.add_token_types(types)
    writer.add_bos_token_id(2)
    writer.add_eos_token_id(1)
    writer.add_unk_token_id(3)
    writer.add_pad_token_id(0)
    writer.add_add_bos_token(True)


def permute_rotary(weight, heads):
    """HF's rotary layout (first half, second half of each head) to llama.cpp's (adjacent
    pairs), as llama.cpp's converter does for Llama's query and key projections."""
    rows = weight.shape[0]
    return weight.reshape(heads, 2, rows // heads // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def logits_of(model):
    with torch.no_grad():
        out = model(torch.tensor([TOKENS]), use_cache=False)
    return out.logits[0].float().numpy()


def write_logits(name, logits):
    save_file({"logits": np.ascontiguousarray(logits, dtype=np.float32),
               "tokens": np.array(TOKENS, dtype=np.int64)},
              os.path.join(HERE, name), metadata={"transformers": transformers.__version__, "torch": torch.__version__})


def tensor(writer, name, value):
    writer.add_tensor(name, np.ascontiguousarray(value.detach().float().numpy(), dtype=np.float32))


def gemma3():
    torch.manual_seed(3)
    config = transformers.Gemma3TextConfig(
        vocab_size=VOCABULARY, hidden_size=32, intermediate_size=64, num_hidden_layers=6,
        num_attention_heads=2, num_key_value_heads=1, head_dim=16, query_pre_attn_scalar=16,
        max_position_embeddings=64, rms_norm_eps=1e-6, rope_theta=1_000_000.0, rope_local_base_freq=10_000.0,
        sliding_window=4, layer_types=["sliding_attention"] * 5 + ["full_attention"],
        hidden_activation="gelu_pytorch_tanh", tie_word_embeddings=True, attn_implementation="eager")
    model = transformers.Gemma3ForCausalLM(config).eval()
    # Random norms (initialised to zero, i.e. a scale of 1, they would test nothing).
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" in name:
                parameter.normal_(0, 0.5)
    logits = logits_of(model)

    writer = gguf.GGUFWriter(os.path.join(HERE, "gemma3.gguf"), "gemma3")
    writer.add_context_length(64)
    writer.add_embedding_length(32)
    writer.add_block_count(6)
    writer.add_feed_forward_length(64)
    writer.add_head_count(2)
    writer.add_head_count_kv(1)
    writer.add_key_length(16)
    writer.add_value_length(16)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_rope_freq_base(1_000_000.0)
    writer.add_sliding_window(4)
    vocabulary_metadata(writer)
    state = model.state_dict()
    # Gemma's RMSNorm scales by 1 + w; llama.cpp's converter stores 1 + w.
    plus_one = lambda key: state[key] + 1
    tensor(writer, "token_embd.weight", state["model.embed_tokens.weight"])
    for i in range(6):
        p, b = f"model.layers.{i}.", f"blk.{i}."
        tensor(writer, b + "attn_norm.weight", plus_one(p + "input_layernorm.weight"))
        tensor(writer, b + "attn_q.weight", state[p + "self_attn.q_proj.weight"])
        tensor(writer, b + "attn_k.weight", state[p + "self_attn.k_proj.weight"])
        tensor(writer, b + "attn_v.weight", state[p + "self_attn.v_proj.weight"])
        tensor(writer, b + "attn_output.weight", state[p + "self_attn.o_proj.weight"])
        tensor(writer, b + "attn_q_norm.weight", plus_one(p + "self_attn.q_norm.weight"))
        tensor(writer, b + "attn_k_norm.weight", plus_one(p + "self_attn.k_norm.weight"))
        tensor(writer, b + "post_attention_norm.weight", plus_one(p + "post_attention_layernorm.weight"))
        tensor(writer, b + "ffn_norm.weight", plus_one(p + "pre_feedforward_layernorm.weight"))
        tensor(writer, b + "ffn_gate.weight", state[p + "mlp.gate_proj.weight"])
        tensor(writer, b + "ffn_up.weight", state[p + "mlp.up_proj.weight"])
        tensor(writer, b + "ffn_down.weight", state[p + "mlp.down_proj.weight"])
        tensor(writer, b + "post_ffw_norm.weight", plus_one(p + "post_feedforward_layernorm.weight"))
    tensor(writer, "output_norm.weight", plus_one("model.norm.weight"))
    finish(writer)
    write_logits("gemma3-logits.safetensors", logits)


def llama():
    torch.manual_seed(7)
    config = transformers.LlamaConfig(
        vocab_size=VOCABULARY, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=8, max_position_embeddings=64,
        rms_norm_eps=1e-5, rope_theta=10_000.0, tie_word_embeddings=False, attn_implementation="eager")
    model = transformers.LlamaForCausalLM(config).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "norm" in name:
                parameter.normal_(1, 0.5)
    logits = logits_of(model)

    writer = gguf.GGUFWriter(os.path.join(HERE, "llama.gguf"), "llama")
    writer.add_context_length(64)
    writer.add_embedding_length(32)
    writer.add_block_count(2)
    writer.add_feed_forward_length(64)
    writer.add_head_count(4)
    writer.add_head_count_kv(2)
    writer.add_key_length(8)
    writer.add_value_length(8)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_freq_base(10_000.0)
    vocabulary_metadata(writer)
    state = model.state_dict()
    tensor(writer, "token_embd.weight", state["model.embed_tokens.weight"])
    for i in range(2):
        p, b = f"model.layers.{i}.", f"blk.{i}."
        tensor(writer, b + "attn_norm.weight", state[p + "input_layernorm.weight"])
        tensor(writer, b + "attn_q.weight", permute_rotary(state[p + "self_attn.q_proj.weight"], 4))
        tensor(writer, b + "attn_k.weight", permute_rotary(state[p + "self_attn.k_proj.weight"], 2))
        tensor(writer, b + "attn_v.weight", state[p + "self_attn.v_proj.weight"])
        tensor(writer, b + "attn_output.weight", state[p + "self_attn.o_proj.weight"])
        tensor(writer, b + "ffn_norm.weight", state[p + "post_attention_layernorm.weight"])
        tensor(writer, b + "ffn_gate.weight", state[p + "mlp.gate_proj.weight"])
        tensor(writer, b + "ffn_up.weight", state[p + "mlp.up_proj.weight"])
        tensor(writer, b + "ffn_down.weight", state[p + "mlp.down_proj.weight"])
    tensor(writer, "output_norm.weight", state["model.norm.weight"])
    tensor(writer, "output.weight", state["lm_head.weight"])
    finish(writer)
    write_logits("llama-logits.safetensors", logits)


def finish(writer):
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


if __name__ == "__main__":
    torch.use_deterministic_algorithms(True)
    gemma3()
    llama()
