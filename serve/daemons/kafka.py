"""The local Apache Kafka broker: one KRaft node (broker + controller) on loopback.

Runs ``kafka.Kafka`` from the jars deploy/setup.sh resolves from Maven Central
(deploy/kafka/pom.xml), formats its storage once, and creates the topics.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from ingest.config import KafkaConfig
from ingest.topics import broker_reachable, ensure_topics
from serve.daemons.errors import DaemonError, DaemonNotInstalled, DaemonStartFailed
from serve.daemons.process import Daemon, DaemonStatus, require_free_port, split_host_port
from serve.settings import BrokerConfig

CLUSTER_ID_FILE = "feedpulse-cluster-id"
LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
"""


class StaleDataDir(DaemonError):
    """The data dir holds a broker's storage that feedpulse did not format."""


@dataclass(slots=True, frozen=True)
class BrokerStarted:
    """Result of ``start``: whether it was already up, seconds to ready, topics created."""

    already_running: bool
    seconds: float
    created_topics: list[str]


class KafkaBroker:
    """Start, stop and inspect the single-node broker described by the settings."""

    def __init__(self, kafka: KafkaConfig, broker: BrokerConfig, run_dir: Path) -> None:
        self._kafka = kafka
        self._broker = broker
        self.host, self.port = split_host_port(kafka.bootstrap_servers, 9092)
        self.data_dir = Path(broker.data_dir or run_dir / "kafka-data")
        self.daemon = Daemon(f"kafka-{self.port}", run_dir)

    def status(self) -> DaemonStatus:
        return self.daemon.status()

    def reachable(self) -> tuple[bool, str]:
        return broker_reachable(self._kafka)

    def start(self, reset: bool = False) -> BrokerStarted:
        """Start the broker (if needed), wait until it serves clients, create the topics.

        Raises:
            DaemonNotInstalled, PortBusy, StaleDataDir, DaemonStartFailed.
        """
        if self.daemon.status().running:
            seconds = self.daemon.wait_ready(lambda: self.reachable()[0], self._broker.start_timeout_s)
            return BrokerStarted(True, seconds, ensure_topics(self._kafka))
        libs = self._libs()
        require_free_port(self.host, self.port, "kafka broker")
        require_free_port(self.host, self._broker.controller_port, "kafka controller")
        if reset:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        config_path = self._write_config()
        self._format_storage(libs, config_path)
        self.daemon.start(self._command(libs, config_path))
        seconds = self.daemon.wait_ready(lambda: self.reachable()[0], self._broker.start_timeout_s)
        return BrokerStarted(False, seconds, ensure_topics(self._kafka))

    def stop(self) -> bool:
        return self.daemon.stop(timeout_s=30)

    def _libs(self) -> Path:
        libs = Path(self._broker.libs_dir or "")
        if not libs.is_dir() or not any(libs.glob("kafka_2.13-*.jar")):
            raise DaemonNotInstalled(f"Kafka jars not found in {libs}: run deploy/setup.sh first")
        if shutil.which("java") is None:
            raise DaemonNotInstalled("java not found on PATH: Kafka 4 needs Java 17+")
        return libs

    def _write_config(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        controller = f"{self.host}:{self._broker.controller_port}"
        lines = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": controller,
            "listeners": f"PLAINTEXT://{self.host}:{self.port},CONTROLLER://{controller}",
            "advertised.listeners": f"PLAINTEXT://{self.host}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self.data_dir / "logs"),
            "num.partitions": str(self._kafka.partitions),
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "6",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
        }
        path = self.data_dir / "server.properties"
        path.write_text("".join(f"{key}={value}\n" for key, value in lines.items()))
        (self.data_dir / "log4j2.properties").write_text(LOG4J2.format(log=self.data_dir / "server.log"))
        return path

    def _format_storage(self, libs: Path, config_path: Path) -> None:
        marker = self.data_dir / CLUSTER_ID_FILE
        meta = self.data_dir / "logs" / "meta.properties"
        if meta.exists() and marker.exists():
            return
        if meta.exists():
            raise StaleDataDir(
                f"{self.data_dir / 'logs'} holds Kafka storage feedpulse did not format; "
                "remove it or run `feedpulse kafka start --reset`"
            )
        cluster_id = _kafka_uuid()
        result = subprocess.run(
            [
                *self._java(libs),
                "kafka.tools.StorageTool",
                "format",
                # --cluster-id=… because an id may start with "-", which argparse takes for an option
                f"--cluster-id={cluster_id}",
                "-c",
                str(config_path),
                "--standalone",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise DaemonStartFailed(f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}")
        marker.write_text(cluster_id)

    def _java(self, libs: Path) -> list[str]:
        log4j = self.data_dir / "log4j2.properties"
        return ["java", f"-Dlog4j2.configurationFile={log4j}", "-cp", f"{libs}/*"]

    def _command(self, libs: Path, config_path: Path) -> list[str]:
        heap = self._broker.heap
        return [
            "java",
            f"-Xmx{heap}",
            f"-Xms{heap}",
            "-XX:+UseG1GC",
            *self._java(libs)[1:],
            "kafka.Kafka",
            str(config_path),
        ]


def _kafka_uuid() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding."""
    import base64

    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
