"""Write a transformers GPT-2 and its tokenizer as a float32 GGUF file, for tests.

The layout follows what transformers 5.25 reads back: llama.cpp's GPT-2 tensor
names from the gguf package, and the four Conv1D weights transposed, which
transformers' GPT2TensorProcessor undoes when loading.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

TRANSPOSED = ("attn_qkv.weight", "ffn_down.weight", "ffn_up.weight", "attn_output.weight")


def write_gpt2_gguf(model: Any, tokenizer: Any, path: Path, chat_template: str | None = None) -> None:
    """Save `model` (a GPT2LMHeadModel) and `tokenizer` (GPT-2's BPE) to the GGUF file `path`.

    transformers maps the GGUF context length to `n_ctx` only, so the model
    must keep GPT-2's default 1024 positions to load back without a size mismatch.
    """
    import gguf

    config = model.config
    writer = gguf.GGUFWriter(str(path), "gpt2")
    writer.add_context_length(config.n_positions)
    writer.add_embedding_length(config.n_embd)
    writer.add_block_count(config.n_layer)
    writer.add_feed_forward_length(4 * config.n_embd)
    writer.add_head_count(config.n_head)
    writer.add_layer_norm_eps(config.layer_norm_epsilon)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)

    vocabulary = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    tokens = [token for token, _index in vocabulary]
    merges = json.loads(tokenizer.backend_tokenizer.to_str())["model"]["merges"]
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(tokens)
    writer.add_token_types([gguf.TokenType.NORMAL] * len(tokens))
    writer.add_token_merges([" ".join(merge) if isinstance(merge, list) else merge for merge in merges])
    writer.add_bos_token_id(tokenizer.bos_token_id)
    writer.add_eos_token_id(tokenizer.eos_token_id)
    if chat_template is not None:
        writer.add_chat_template(chat_template)

    name_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH.GPT2, config.n_layer)
    for key, tensor in model.state_dict().items():
        # lm_head shares its weight with the token embedding.
        if key == "lm_head.weight" or key.endswith(".attn.bias"):
            continue
        name = name_map.get_name(key, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise ValueError(f"no GGUF name for tensor {key}")
        data = tensor.detach().numpy().astype(np.float32)
        if name.endswith(TRANSPOSED):
            data = np.ascontiguousarray(data.T)
        writer.add_tensor(name, data)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
