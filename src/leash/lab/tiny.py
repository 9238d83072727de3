"""A character-level tokenizer and a tiny Llama, built offline (no download).

The tokenizer is a `tokenizers` WordLevel model over single characters, wrapped in
`PreTrainedTokenizerFast`; the model is a randomly initialised `LlamaForCausalLM`.
Both round-trip through `save_pretrained` / `from_pretrained`.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

SPECIAL = ["<pad>", "<s>", "</s>", "<unk>"]
CHARS = string.digits + string.ascii_letters + string.punctuation + " \n"


def char_tokenizer(chars: str = CHARS) -> Any:
    """A PreTrainedTokenizerFast with one token per character (no BOS added)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(SPECIAL + sorted(set(chars)))}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    core.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        padding_side="left",
    )


def tiny_llama(
    tokenizer: Any,
    hidden: int = 128,
    layers: int = 4,
    heads: int = 4,
    context: int = 2048,
    seed: int = 0,
) -> Any:
    """A random LlamaForCausalLM sized for a CPU (~1M parameters at the defaults)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=context,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config)


def save_tiny_model(path: str | Path, seed: int = 0, **sizes: Any) -> Path:
    """Build and save a random tiny Llama with its character tokenizer into `path`."""
    tokenizer = char_tokenizer()
    model = tiny_llama(tokenizer, seed=seed, **sizes)
    out = Path(path)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
