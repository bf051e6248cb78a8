import asyncio

import pytest

from rag.generation import VLLMGenerator
from serve.llm_backend import engine_args, open_generator
from serve.settings import Settings


def test_remote_backend_is_the_default():
    async def check():
        async with open_generator(Settings()) as generator:
            return generator

    assert isinstance(asyncio.run(check()), VLLMGenerator)


def test_in_process_engine_uses_the_local_server_settings(tmp_path):
    settings = Settings(
        cache_dir=tmp_path,
        llm={"backend": "in_process"},
        llm_server={"max_model_len": 1024, "kv_cache_mib": 256, "dtype": "float32"},
    )
    assert engine_args(settings) == {
        "model": str(tmp_path / "current" / "llm-model"),
        "max_model_len": 1024,
        "dtype": "float32",
        "kv_cache_memory_bytes": 256 * 2**20,
        "enforce_eager": True,
    }


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="remote"):
        Settings(llm={"backend": "carrier-pigeon"})
