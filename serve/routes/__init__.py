"""HTTP routes: each turns a request into calls on rag/index objects and results into JSON."""
