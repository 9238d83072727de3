"""The lab: tiny causal LMs built, trained and RL-tuned on a CPU (see docs/lab.md).

`tiny.py` builds the character-level tokenizer and a small random Llama, saved as an
ordinary `save_pretrained` folder that every other stage loads like a hub model.
"""
