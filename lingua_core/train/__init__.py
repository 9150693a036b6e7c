"""Training-side tools: data distillation labels for LLMLingua-2 and their quality control.

Nothing here is imported on the compression path; the editor never loads it.
"""
