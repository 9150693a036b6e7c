"""Llama-family causal LMs run on plain torch, without importing transformers' model classes.

A command-line compression pays its imports on every cold call: transformers 5's model
classes take about 3 s to import on a 2-core machine (its hub-kernel and activation
registries come with them), more than the compression of a 500-token prompt. LLMLingua's
compressor is a small Llama (the embedded SmolLM2 is one), and its forward pass is a few
dozen lines of torch, so this package runs that architecture itself: the safetensors folder
is read directly, ``tokenizer.json`` goes straight to the ``tokenizers`` library, and the
transformers import is skipped. Any other architecture, or a Llama variant this runner does
not know (scaled RoPE, remote code), still loads through transformers.

The runner mirrors transformers' Llama numerics (fp32 RMSNorm and rotary tables, the same
attention), and tests compare its logits and whole compressions with transformers' on the
embedded model.
"""
