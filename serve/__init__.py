"""The HTTP API, the CLI, the web page, and the local broker and LLM daemons.

Expected failures reach clients as one error shape (see ``serve.errors``).
"""
