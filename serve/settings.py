"""Settings: one pydantic-settings object, built once by the CLI and passed down.

Every field can be set from the environment with the ``FEEDPULSE_`` prefix and
``__`` between nested names, e.g. ``FEEDPULSE_KAFKA__BOOTSTRAP_SERVERS``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from index.config import EmbedderConfig, IndexConfig
from index.trend_config import TrendsConfig
from ingest.config import IngestConfig, KafkaConfig
from rag.config import LLMConfig, RetrievalConfig, SummaryConfig


class BrokerConfig(BaseModel):
    """The local single-node KRaft broker run by ``feedpulse kafka start``.

    Its client port is the one in ``kafka.bootstrap_servers``.
    """

    controller_port: int = Field(9093, ge=1, le=65535)
    libs_dir: Path | None = None  # default: <cache>/current/kafka-libs (deploy/setup.sh)
    data_dir: Path | None = None  # default: <cache>/kafka-data
    heap: str = "512m"
    start_timeout_s: float = Field(90.0, gt=0)


class LLMServerConfig(BaseModel):
    """The local vLLM OpenAI server run by ``feedpulse llm start``; its port is in ``llm.base_url``."""

    model_dir: Path | None = None  # default: <cache>/current/llm-model (deploy/setup.sh)
    max_model_len: int = Field(2048, ge=128)
    kv_cache_mib: int = Field(512, ge=64)
    enforce_eager: bool = True
    # auto: bfloat16 where the CPU computes it natively (AVX512-BF16 or AMX), else float32.
    # Without those, vLLM's bf16 linears fall back to a slow path (prefill ~5x slower here).
    dtype: str = "auto"
    extra_args: list[str] = Field(default_factory=list)
    start_timeout_s: float = Field(420.0, gt=0)


class ApiConfig(BaseModel):
    """Where the HTTP API listens."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)


class Settings(BaseSettings):
    """All of feedpulse's configuration."""

    model_config = SettingsConfigDict(env_prefix="FEEDPULSE_", env_nested_delimiter="__", extra="ignore")

    cache_dir: Path = Path.home() / ".cache" / "feedpulse"
    data: Path | None = None  # CrisisLexT6 folder (FEEDPULSE_DATA)
    kafka: KafkaConfig = KafkaConfig()
    ingest: IngestConfig = IngestConfig()
    embedder: EmbedderConfig = EmbedderConfig()
    index: IndexConfig = IndexConfig()
    retrieval: RetrievalConfig = RetrievalConfig()
    llm: LLMConfig = LLMConfig()
    llm_server: LLMServerConfig = LLMServerConfig()
    broker: BrokerConfig = BrokerConfig()
    api: ApiConfig = ApiConfig()
    trends: TrendsConfig = TrendsConfig()
    summaries: SummaryConfig = SummaryConfig()  # LLM one-liners of the top trends

    @model_validator(mode="after")
    def _fill_cache_paths(self) -> Settings:
        cache = self.cache_dir.expanduser()
        self.cache_dir = cache
        self.broker.libs_dir = self.broker.libs_dir or cache / "current" / "kafka-libs"
        self.broker.data_dir = self.broker.data_dir or cache / "kafka-data"
        self.llm_server.model_dir = self.llm_server.model_dir or cache / "current" / "llm-model"
        self.index.snapshot_dir = self.index.snapshot_dir or cache / "snapshots"
        return self

    @property
    def run_dir(self) -> Path:
        """Pid files and logs of the daemons this machine runs."""
        return self.cache_dir / "run"
