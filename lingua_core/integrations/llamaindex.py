"""LlamaIndex: Lingua as a node postprocessor of a retriever or query engine.

    from lingua_core.integrations.llamaindex import LinguaPostprocessor

    engine = index.as_query_engine(node_postprocessors=[LinguaPostprocessor(rate=0.4)])

``LongLLMLinguaPostprocessor`` concatenates the nodes, splits the output at blank lines and
gives every piece the metadata of all nodes and no score; here each node comes back as
itself (id, relationships, metadata, score) with its compressed text, mapped by character
spans (``documents``). The token counts added to its metadata are kept out of the LLM's
prompt and of embeddings (the node's excluded metadata keys): they describe the text, they
are not part of it.
"""

from __future__ import annotations

from typing import Any

try:
    from llama_index.core.bridge.pydantic import Field, PrivateAttr
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
    from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without the extra
    raise ImportError(
        "lingua_core.integrations.llamaindex needs LlamaIndex: pip install lingua-prompt[llamaindex]"
    ) from exc

from lingua_core.integrations.documents import (
    COMPRESSED_TOKENS_KEY,
    METADATA_KEYS,
    ORIGIN_TOKENS_KEY,
    DocumentOutcome,
    DocumentSettings,
    LazyCompressor,
    compress_documents,
)
from lingua_core.models import EMBEDDED

__all__ = ["LinguaPostprocessor"]


class LinguaPostprocessor(BaseNodePostprocessor):
    """Compress the retrieved nodes together, question-aware, the query as the question.

    Give ``compressor`` (a loaded ``lingua_core.Compressor``, shared with other code) or a
    ``model`` spec to load on the first query. ``rate`` / ``target_tokens`` count the
    nodes' tokens (default: rate 0.5). Nodes the compression drops as least relevant are
    left out; an empty one, or one the engine refuses, comes back unchanged.
    """

    compressor: Any = Field(default=None, exclude=True)
    model: str = EMBEDDED
    device: str = "auto"
    rate: float | None = None
    target_tokens: int | None = None
    method: str = "auto"
    encoding: str = "o200k_base"
    options: Any = Field(default=None, exclude=True)
    preserve: tuple[str, ...] = ()
    no_protect: tuple[str, ...] = ()

    _model: LazyCompressor = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        super().model_post_init(context)
        self._settings()  # a bad rate or regex fails here, where the pipeline is built
        self._model = LazyCompressor(self.compressor, self.model, self.device)

    @classmethod
    def class_name(cls) -> str:
        return "LinguaPostprocessor"

    def _settings(self) -> DocumentSettings:
        return DocumentSettings(
            rate=self.rate,
            target_tokens=self.target_tokens,
            method=self.method,
            encoding=self.encoding,
            options=self.options,
            preserve=tuple(self.preserve),
            no_protect=tuple(self.no_protect),
        )

    def _postprocess_nodes(
        self,
        nodes: list[NodeWithScore],
        query_bundle: QueryBundle | None = None,
    ) -> list[NodeWithScore]:
        if not nodes:
            return []
        question = query_bundle.query_str if query_bundle is not None else ""
        texts = [n.node.get_content(metadata_mode=MetadataMode.NONE) for n in nodes]
        outcome = compress_documents(self._model, self._settings(), texts, question)
        return [_node(nodes[o.index], o) for o in outcome.documents]


def _node(original: NodeWithScore, outcome: DocumentOutcome) -> NodeWithScore:
    """A copy of the node with the compressed text and the counts; the original is left as the index holds it."""
    if not outcome.compressed:
        return original
    node = original.node.model_copy()
    node.set_content(outcome.text)
    node.metadata = {
        **original.node.metadata,
        ORIGIN_TOKENS_KEY: outcome.origin_tokens,
        COMPRESSED_TOKENS_KEY: outcome.compressed_tokens,
    }
    node.excluded_llm_metadata_keys = _with_keys(original.node.excluded_llm_metadata_keys)
    node.excluded_embed_metadata_keys = _with_keys(original.node.excluded_embed_metadata_keys)
    return NodeWithScore(node=node, score=original.score)


def _with_keys(keys: list[str]) -> list[str]:
    return [*keys, *(key for key in METADATA_KEYS if key not in keys)]
