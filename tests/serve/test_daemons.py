import socket
import sys

import pytest

from index.cpu import cpu_flags
from serve.daemons.errors import DaemonNotInstalled, DaemonStartFailed, PortBusy
from serve.daemons.kafka import KafkaBroker, StaleDataDir
from serve.daemons.process import Daemon, split_host_port
from serve.daemons.vllm import VLLMServer, resolve_dtype
from serve.settings import Settings


@pytest.fixture
def settings(tmp_path) -> Settings:
    libs = tmp_path / "libs"
    libs.mkdir()
    (libs / "kafka_2.13-4.2.0.jar").write_bytes(b"")
    return Settings(
        cache_dir=tmp_path,
        broker={"libs_dir": libs, "controller_port": 1},
        kafka={"bootstrap_servers": "127.0.0.1:1"},
    )


def test_busy_port_is_a_clear_error(settings):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        kafka = settings.kafka.model_copy(update={"bootstrap_servers": f"127.0.0.1:{port}"})
        with pytest.raises(PortBusy, match=f"127.0.0.1:{port} is already in use"):
            KafkaBroker(kafka, settings.broker, settings.run_dir).start()


def test_stale_data_dir_is_a_clear_error(settings, tmp_path):
    broker = KafkaBroker(settings.kafka, settings.broker, settings.run_dir)
    (broker.data_dir / "logs").mkdir(parents=True)
    (broker.data_dir / "logs" / "meta.properties").write_text("cluster.id=someone-else\n")
    free = settings.broker.model_copy(update={"controller_port": _free_port()})
    kafka = settings.kafka.model_copy(update={"bootstrap_servers": f"127.0.0.1:{_free_port()}"})
    with pytest.raises(StaleDataDir, match="--reset"):
        KafkaBroker(kafka, free, settings.run_dir).start()


def test_missing_jars_and_model_say_run_setup(tmp_path):
    settings = Settings(cache_dir=tmp_path)
    with pytest.raises(DaemonNotInstalled, match=r"deploy/setup\.sh"):
        KafkaBroker(settings.kafka, settings.broker, settings.run_dir).start()
    with pytest.raises(DaemonNotInstalled, match=r"deploy/setup\.sh"):
        VLLMServer(settings.llm, settings.llm_server, settings.run_dir).start()


def test_daemon_lifecycle_and_early_exit(tmp_path):
    daemon = Daemon("sleeper", tmp_path)
    daemon.start([sys.executable, "-c", "import time; time.sleep(60)"])
    assert daemon.status().running
    assert daemon.stop(timeout_s=5)
    assert not daemon.status().running and not daemon.pid_path.exists()

    crasher = Daemon("crasher", tmp_path)
    crasher.start([sys.executable, "-c", "print('bad config'); raise SystemExit(3)"])
    with pytest.raises(DaemonStartFailed, match="bad config"):
        crasher.wait_ready(lambda: False, timeout_s=10)


def test_vllm_command_uses_the_module_entrypoint(tmp_path):
    settings = Settings(cache_dir=tmp_path, llm={"base_url": "http://127.0.0.1:8123/v1", "model": "m"})
    command = VLLMServer(settings.llm, settings.llm_server, settings.run_dir).command(tmp_path)
    assert command[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert command[command.index("--port") + 1] == "8123"
    assert command[command.index("--served-model-name") + 1] == "m"


def test_auto_dtype_is_bf16_only_where_the_cpu_computes_it_natively(tmp_path):
    assert resolve_dtype("auto", frozenset({"avx2", "avx512_bf16"})) == "bfloat16"
    assert resolve_dtype("auto", frozenset({"avx2", "amx_bf16"})) == "bfloat16"
    assert resolve_dtype("auto", frozenset({"avx2", "fma"})) == "float32"
    assert resolve_dtype("float16", frozenset()) == "float16"
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx512_bf16 amx_tile\n")
    assert "avx512_bf16" in cpu_flags(cpuinfo)
    assert cpu_flags(tmp_path / "missing") == frozenset()


def test_split_host_port():
    assert split_host_port("a:1,b:2", 9) == ("a", 1)
    assert split_host_port("host", 9092) == ("host", 9092)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
