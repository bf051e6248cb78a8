"""Read path: retrieval, prompt building, generation with vLLM, citation attribution.

Errors raised by this package derive from :class:`rag.errors.RagError`.
"""
