"""Lingua inside the RAG frameworks people already run: LangChain and LlamaIndex.

LLMLingua's users reach it through LangChain's ``LLMLinguaCompressor`` and LlamaIndex's
``LongLLMLinguaPostprocessor``, where retrieved documents get compressed on their way to the
LLM. ``langchain.LinguaCompressor`` and ``llamaindex.LinguaPostprocessor`` put Lingua in the
same places, with each document's metadata kept and the tokens saved reported.

Each adapter needs its framework, which Lingua itself does not: ``pip install
lingua-prompt[langchain]`` or ``pip install lingua-prompt[llamaindex]``. Only the adapter's
own module imports its framework, so ``lingua_core`` imports without either; the shared,
framework-free part is ``documents``.
"""
