"""docker-compose.yml agrees with the app: env names, ports, topics, model names.

No Docker needed: the file is read as YAML, ``${VAR:-default}`` is resolved the
way compose does, and the values are checked against ``Settings`` and the code
that runs the same daemons outside containers.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import typer
import yaml
from pydantic import BaseModel, TypeAdapter

from ingest.config import KafkaConfig
from ingest.crisislex import DEFAULT_DATA_DIR
from ingest.topics import POSTS_TOPIC_CONFIG
from rag.config import LLMConfig
from serve.cli import app as cli_app
from serve.daemons.vllm import VLLMServer
from serve.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
COMPOSE = yaml.safe_load(COMPOSE_FILE.read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
ONE_SHOTS = {"kafka-init", "replay"}
IMAGE_HOME = Path("/root/.cache/feedpulse")  # Settings.cache_dir inside the feedpulse image
PREFIX = "FEEDPULSE_"

_VAR = re.compile(
    r"\$\$|\$\{(?P<braced>[A-Za-z_]\w*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_]\w*)"
)


def interpolate(value: Any, env: dict[str, str]) -> str:
    """Resolve compose's ``$$``, ``$VAR``, ``${VAR}``, ``${VAR:-default}`` and ``${VAR-default}``."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        if op == ":-":
            return env.get(name) or arg
        if op == "-":
            return env.get(name, arg)
        if op in (":?", "?") and not env.get(name):
            raise AssertionError(f"${{{name}}} is required: {arg}")
        return env.get(name, "")

    return _VAR.sub(one, str(value))


def cpu_overrides() -> dict[str, str]:
    """The ``NAME=value`` lines the file's header documents for the CPU profile."""
    lines = re.findall(r"^#\s+(FEEDPULSE_LLM_\w+)=(\S+)\s*$", COMPOSE_FILE.read_text(), re.M)
    assert lines, "the CPU recipe (FEEDPULSE_LLM_*=... lines) is missing from the header"
    return dict(lines)


def service_env(service: str, env: dict[str, str] | None = None) -> dict[str, str]:
    raw = SERVICES[service].get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {key: interpolate(value, env or {}) for key, value in raw.items()}


def command(service: str, env: dict[str, str] | None = None) -> list[str]:
    raw = SERVICES[service].get("command") or []
    words = shlex.split(raw) if isinstance(raw, str) else raw
    return [interpolate(word, env or {}) for word in words]


def option(words: list[str], name: str) -> str:
    assert name in words, f"{name} missing from {words}"
    return words[words.index(name) + 1]


def healthcheck_url(service: str) -> str:
    test = SERVICES[service]["healthcheck"]["test"]
    text = " ".join(test) if isinstance(test, list) else test
    match = re.search(r"https?://\S+", text)
    assert match, f"{service}'s healthcheck calls no URL: {text}"
    return match.group(0)


@pytest.fixture(autouse=True)
def _no_feedpulse_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner's own FEEDPULSE_* variables must not leak into these Settings."""
    for name in list(os.environ):
        if name.startswith(PREFIX):
            monkeypatch.delenv(name)


def settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings built the way the container builds them: from exactly this environment."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings()


def settings_field(name: str) -> tuple[tuple[str, ...], Any]:
    """The field path and annotation ``FEEDPULSE_A__B`` names; AssertionError when none."""
    assert name.startswith(PREFIX), name
    path = tuple(part.lower() for part in name[len(PREFIX) :].split("__"))
    model: type[BaseModel] = Settings
    for depth, part in enumerate(path):
        assert part in model.model_fields, f"{name}: {model.__name__} has no field {part!r}"
        annotation = model.model_fields[part].annotation
        if depth < len(path) - 1:
            assert isinstance(annotation, type) and issubclass(annotation, BaseModel), (
                f"{name}: {part!r} is not a nested section"
            )
            model = annotation
    return path, annotation


FEEDPULSE_VARS = sorted(
    (service, name) for service in SERVICES for name in service_env(service) if name.startswith(PREFIX)
)


def test_the_compose_file_sets_feedpulse_variables():
    assert {service for service, _ in FEEDPULSE_VARS} == {"feedpulse", "replay"}


@pytest.mark.parametrize(("service", "name"), FEEDPULSE_VARS)
def test_every_feedpulse_variable_lands_in_a_settings_field(service, name, monkeypatch):
    path, annotation = settings_field(name)
    value = service_env(service)[name]
    settings = settings_from({name: value}, monkeypatch)
    parent: Any = settings
    for part in path[:-1]:
        parent = getattr(parent, part)
    assert path[-1] in parent.model_fields_set, f"{name} was not read (default kept)"
    assert getattr(parent, path[-1]) == TypeAdapter(annotation).validate_python(value)


@pytest.mark.parametrize(
    "name",
    [
        "FEEDPULSE_KAFKA__BOOTSTRAP_SERVER",
        "FEEDPULSE_LLM_BASE_URL",
        "FEEDPULSE_API__PORT__X",
        "FEEDPULSE_DATUM",
    ],
)
def test_the_field_lookup_rejects_names_settings_would_ignore(name):
    with pytest.raises(AssertionError):
        settings_field(name)


def test_feedpulse_publishes_and_probes_the_port_it_listens_on(monkeypatch):
    settings = settings_from(service_env("feedpulse"), monkeypatch)
    assert settings.api.host == "0.0.0.0", "127.0.0.1 cannot be reached from outside the container"
    published = [str(port).split(":") for port in SERVICES["feedpulse"]["ports"]]
    assert [int(container) for *_, container in published] == [settings.api.port]
    url = urlparse(healthcheck_url("feedpulse"))
    assert (url.hostname, url.port, url.path) == ("localhost", settings.api.port, "/healthz")


def _listeners(value: str) -> dict[str, tuple[str, int]]:
    found = {}
    for listener in value.split(","):
        name, address = listener.split("://")
        host, port = address.rsplit(":", 1)
        found[name] = (host, int(port))
    return found


def test_clients_bootstrap_from_the_advertised_plaintext_listener(monkeypatch):
    kafka = service_env("kafka")
    advertised = _listeners(kafka["KAFKA_ADVERTISED_LISTENERS"])["PLAINTEXT"]
    assert advertised[0] in SERVICES, f"advertised host {advertised[0]} is no service name"
    assert _listeners(kafka["KAFKA_LISTENERS"])["PLAINTEXT"][1] == advertised[1]
    for service in ("feedpulse", "replay"):
        servers = settings_from(service_env(service), monkeypatch).kafka.bootstrap_servers
        assert servers == f"{advertised[0]}:{advertised[1]}", service
    init = " ".join(command("kafka-init"))
    assert set(re.findall(r"--bootstrap-server (\S+)", init)) == {f"{advertised[0]}:{advertised[1]}"}


def test_kafka_runs_one_kraft_node_with_single_replicas():
    kafka = service_env("kafka")
    listeners = _listeners(kafka["KAFKA_LISTENERS"])
    controller = kafka["KAFKA_CONTROLLER_LISTENER_NAMES"]
    node, address = kafka["KAFKA_CONTROLLER_QUORUM_VOTERS"].split("@")
    assert node == kafka["KAFKA_NODE_ID"]
    assert int(address.rsplit(":", 1)[1]) == listeners[controller][1]
    assert set(kafka["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert kafka["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    factors = {k: v for k, v in kafka.items() if k.endswith(("REPLICATION_FACTOR", "MIN_ISR"))}
    assert factors and set(factors.values()) == {"1"}
    assert SERVICES["kafka-init"]["image"] == SERVICES["kafka"]["image"]


def _created_topics() -> dict[str, tuple[int, int, dict[str, str]]]:
    topics = {}
    script = " ".join(command("kafka-init"))
    for line in script.splitlines():
        if "--create" not in line:
            continue
        words = shlex.split(line)
        configs = dict(words[i + 1].split("=", 1) for i, w in enumerate(words) if w == "--config")
        topics[option(words, "--topic")] = (
            int(option(words, "--partitions")),
            int(option(words, "--replication-factor")),
            configs,
        )
    return topics


def test_kafka_init_creates_the_topics_the_app_uses():
    kafka = KafkaConfig()
    assert _created_topics() == {
        kafka.topic: (kafka.partitions, 1, POSTS_TOPIC_CONFIG),
        kafka.dlq_topic: (1, 1, {"retention.ms": "-1"}),
    }
    assert "--if-not-exists" in " ".join(command("kafka-init"))


def _check_llm_points_at(server: str, env: dict[str, str], monkeypatch) -> Settings:
    settings = settings_from(service_env("feedpulse", env), monkeypatch)
    url = urlparse(settings.llm.base_url)
    words = command(server, env)
    assert url.hostname == server
    assert url.port == int(option(words, "--port"))
    assert url.path.rstrip("/") == "/v1"
    assert option(words, "--served-model-name") == settings.llm.model
    health = urlparse(healthcheck_url(server))
    assert (health.port, health.path) == (url.port, "/health")
    return settings


def test_feedpulse_asks_the_gpu_vllm_for_its_served_model_in_chat_style(monkeypatch):
    settings = _check_llm_points_at("vllm", {}, monkeypatch)
    assert settings.llm.prompt_style == "chat"
    devices = SERVICES["vllm"]["deploy"]["resources"]["reservations"]["devices"]
    assert any(d.get("driver") == "nvidia" for d in devices)


def test_the_documented_cpu_overrides_point_feedpulse_at_vllm_cpu(monkeypatch):
    settings = _check_llm_points_at("vllm-cpu", cpu_overrides(), monkeypatch)
    assert settings.llm.prompt_style == "completion"  # a base model: no chat template
    assert SERVICES["vllm-cpu"].get("profiles") == ["cpu"]


def test_vllm_cpu_runs_what_feedpulse_llm_start_runs():
    llm = LLMConfig(base_url="http://vllm-cpu:8000/v1", model="gemma3-270m")
    settings = Settings(cache_dir=IMAGE_HOME, llm=llm, llm_server={"dtype": "float32"})
    server = VLLMServer(settings.llm, settings.llm_server, settings.run_dir)
    expected = server.command(settings.llm_server.model_dir)
    expected[0] = "python"
    expected[expected.index("--host") + 1] = "0.0.0.0"  # listen beyond the container
    assert command("vllm-cpu") == expected
    env = service_env("vllm-cpu")
    for name in ("HF_HUB_OFFLINE", "VLLM_NO_USAGE_STATS", "VLLM_ENABLE_V1_MULTIPROCESSING"):
        assert env.get(name) == server.environment()[name], name


def test_long_running_services_have_healthchecks_and_one_shots_do_not_restart():
    assert set(SERVICES) >= ONE_SHOTS
    for name, service in SERVICES.items():
        if name in ONE_SHOTS:
            assert service.get("restart", "no") == "no", name
            continue
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"


def test_dependencies_exist_and_their_conditions_can_be_met():
    for name, service in SERVICES.items():
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            depends = {dep: {"condition": "service_started"} for dep in depends}
        for dep, spec in depends.items():
            assert dep in SERVICES, f"{name} depends on unknown service {dep}"
            assert dep != name
            condition = spec.get("condition", "service_started")
            if condition == "service_healthy":
                assert "healthcheck" in SERVICES[dep], f"{name} waits for {dep}'s missing healthcheck"
            elif condition == "service_completed_successfully":
                assert dep in ONE_SHOTS, f"{name} waits for long-running {dep} to exit"
            else:
                assert condition == "service_started", f"{name}: unknown condition {condition}"
            if not service.get("profiles"):
                assert not SERVICES[dep].get("profiles"), f"{name} always starts, {dep} not"


def test_the_cli_commands_the_services_run_exist():
    cli = typer.main.get_command(cli_app)
    for name in ("feedpulse", "replay"):
        words = command(name)
        assert words[0] == "feedpulse", name
        sub = cli.commands[words[1]]
        known = {opt for param in sub.params for opt in param.opts}
        assert {w for w in words[2:] if w.startswith("--")} <= known, name


def test_replay_reads_the_data_folder_it_mounts(monkeypatch):
    data = settings_from(service_env("replay"), monkeypatch).data
    mounts = [interpolate(v, {}).split(":") for v in SERVICES["replay"]["volumes"]]
    assert [(target, mode) for _, target, mode in mounts] == [(str(data), "ro")]
    source = (ROOT / mounts[0][0]).resolve()
    assert source == DEFAULT_DATA_DIR.resolve()  # the same default as running outside Docker


def test_the_snapshot_volume_holds_snapshots_and_does_not_hide_the_venv():
    snapshots = Settings(cache_dir=IMAGE_HOME).index.snapshot_dir
    targets = [Path(str(v).split(":")[1]) for v in SERVICES["feedpulse"]["volumes"]]
    assert snapshots in targets
    venv = IMAGE_HOME / "current" / "venv"
    assert not any(venv.is_relative_to(target) for target in targets)
    declared = set(COMPOSE.get("volumes") or {})
    for name, service in SERVICES.items():
        for volume in service.get("volumes") or []:
            source = interpolate(volume, {}).split(":")[0]
            assert source.startswith((".", "/")) or source in declared, f"{name}: {source}"


def test_the_image_is_built_by_a_dockerfile_that_runs_setup_and_puts_the_venv_on_path():
    builds = {service["build"]["dockerfile"] for service in SERVICES.values() if "build" in service}
    assert builds == {"deploy/Dockerfile"}
    dockerfile = (ROOT / "deploy/Dockerfile").read_text()
    assert re.search(r"^RUN bash deploy/setup\.sh$", dockerfile, re.M)
    venv = IMAGE_HOME / "current" / "venv"
    assert re.search(rf"^ENV FEEDPULSE_VENV={re.escape(str(venv))}$", dockerfile, re.M)
    assert "PATH=${FEEDPULSE_VENV}/bin:" in dockerfile
    probes = [
        healthcheck_url(name)
        for name, service in SERVICES.items()
        if "build" in service and "curl" in str(service.get("healthcheck", {}).get("test"))
    ]
    assert not probes or re.search(r"apt-get install[^\n]*\bcurl\b", dockerfile), "no curl"


def test_the_setup_script_the_dockerfile_runs_exists():
    assert (ROOT / "deploy/setup.sh").is_file(), "deploy/Dockerfile runs deploy/setup.sh"
