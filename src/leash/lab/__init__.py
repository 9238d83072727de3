"""The lab: tiny causal LMs that run on a CPU.

`tiny.py` builds a character-level tokenizer and a small random Llama, saved as an
ordinary `save_pretrained` folder that every other stage loads like a hub model.
Training and RL-tuning them (the papers' study on a laptop) is the next step.
"""
