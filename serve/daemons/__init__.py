"""Local daemons started by the CLI: the Kafka broker and the vLLM server."""
