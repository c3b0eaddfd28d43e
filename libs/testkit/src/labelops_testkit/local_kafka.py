"""The local broker: single-node KRaft Kafka from the Maven Central jars in ``.local/kafka``."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import shutil
import signal
import string
import subprocess
import time
import uuid
from pathlib import Path

from .infra_base import (
    KAFKA_BOOTSTRAP,
    KAFKA_CONTROLLER_PORT,
    KAFKA_HEAP,
    KAFKA_HOST,
    KAFKA_PORT,
    KAFKA_READY_TIMEOUT,
    KAFKA_STOP_TIMEOUT,
    KAFKA_VERSION,
    InfraError,
    _cmdline,
    _log,
    _port_open,
    _rotate,
    _run,
    _tail,
    pid_alive,
    wait_kafka_ready,
)


class KafkaLocal:
    """Single-node KRaft Kafka from the Maven Central jars, living in ``.local/kafka``."""

    name = "kafka"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.deploy = root / "deploy" / "local" / "kafka"
        self.pom = self.deploy / "pom.xml"
        self.template = self.deploy / "server.properties"
        self.log4j = self.deploy / "log4j2.properties"
        self.dir = root / ".local" / "kafka"
        self.libs = self.dir / "libs"
        self.libs_stamp = self.dir / "libs.sha256"
        self.data = self.dir / "data"
        self.config = self.dir / "server.properties"
        self.cluster_id_file = self.dir / "cluster.id"
        self.logfile = self.dir / "kafka.log"
        self.pidfile = self.dir / "kafka.pid"
        self.bootstrap = KAFKA_BOOTSTRAP
        self._proc: subprocess.Popen[bytes] | None = None

    # -- install ------------------------------------------------------------------------------
    def _pom_digest(self) -> str:
        return hashlib.sha256(self.pom.read_bytes()).hexdigest()

    def installed(self) -> bool:
        if not (self.libs / f"kafka_2.13-{KAFKA_VERSION}.jar").exists():
            return False
        try:
            return self.libs_stamp.read_text().strip() == self._pom_digest()
        except OSError:
            return False

    def install(self) -> bool:
        """Copy the broker's jars with Maven (skipped when present). True when it downloaded."""
        if self.installed():
            return False
        mvn = shutil.which("mvn")
        if not mvn:
            raise InfraError(
                "Maven (mvn) is needed to fetch the Kafka jars: apt-get install -y maven"
            )
        self._java()
        if self.libs.exists():
            shutil.rmtree(self.libs)
        self.dir.mkdir(parents=True, exist_ok=True)
        _log(f"fetching Kafka {KAFKA_VERSION} jars with Maven into {self.libs}")
        _run(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(self.pom),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={self.libs}",
            ],
            timeout=1800,
        )
        if not (self.libs / f"kafka_2.13-{KAFKA_VERSION}.jar").exists():
            raise InfraError(
                f"Maven finished but {self.libs} has no kafka_2.13-{KAFKA_VERSION}.jar"
            )
        self.libs_stamp.write_text(self._pom_digest() + "\n")
        return True

    @staticmethod
    def _java() -> str:
        home = os.environ.get("JAVA_HOME")
        if home and (Path(home) / "bin" / "java").exists():
            return str(Path(home) / "bin" / "java")
        java = shutil.which("java")
        if not java:
            raise InfraError(
                "Java 17+ is needed for Kafka: apt-get install -y openjdk-17-jre-headless"
            )
        return java

    # -- config / storage ---------------------------------------------------------------------
    def render_config(self) -> str:
        tmpl = string.Template(self.template.read_text())
        return tmpl.substitute(
            HOST=KAFKA_HOST,
            PORT=KAFKA_PORT,
            CONTROLLER_PORT=KAFKA_CONTROLLER_PORT,
            DATA_DIR=str(self.data),
        )

    def _write_config(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        text = self.render_config()
        if not self.config.exists() or self.config.read_text() != text:
            self.config.write_text(text)

    def cluster_id(self) -> str:
        try:
            cid = self.cluster_id_file.read_text().strip()
            if cid:
                return cid
        except OSError:
            pass
        while (
            True
        ):  # Kafka's Uuid: 16 random bytes, base64url without padding, not starting with '-'
            cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            if not cid.startswith("-"):
                break
        self.cluster_id_file.write_text(cid + "\n")
        return cid

    def _java_cmd(self, main_class: str, *args: str) -> list[str]:
        return [
            self._java(),
            *KAFKA_HEAP,
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:InitiatingHeapOccupancyPercent=35",
            "-XX:+ExplicitGCInvokesConcurrent",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.log4j}",
            "-cp",
            f"{self.libs}/*",
            main_class,
            *args,
        ]

    def formatted(self) -> bool:
        return (self.data / "meta.properties").exists()

    def format_storage(self) -> bool:
        """Format the KRaft storage once. True when it formatted."""
        self._write_config()
        if self.formatted():
            return False
        self.data.mkdir(parents=True, exist_ok=True)
        cmd = self._java_cmd(
            "kafka.tools.StorageTool", "format", "-t", self.cluster_id(), "-c", str(self.config)
        )
        # The storage tool does not need the broker's heap.
        cmd = [c for c in cmd if c not in KAFKA_HEAP]
        _run(cmd, timeout=180)
        return True

    # -- process ------------------------------------------------------------------------------
    def pid(self) -> int | None:
        """Pid of the broker started from this checkout, when it runs."""
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        if pid_alive(pid) and "kafka.Kafka" in _cmdline(pid):
            return pid
        return None

    def running(self) -> bool:
        return self.pid() is not None

    def foreign(self) -> bool:
        """Something else (not our broker) listens on the Kafka port."""
        return not self.running() and _port_open(KAFKA_HOST, KAFKA_PORT)

    def ready(self) -> bool:
        try:
            wait_kafka_ready(self.bootstrap, timeout=0)
            return True
        except Exception:
            return False

    def start(self, timeout: float = KAFKA_READY_TIMEOUT) -> bool:
        """Start the broker unless it runs; wait until ready. True when it started a process."""
        pid = self.pid()
        if pid is not None:
            self._wait_ready(timeout)
            return False
        if _port_open(KAFKA_HOST, KAFKA_PORT) or _port_open(KAFKA_HOST, KAFKA_CONTROLLER_PORT):
            raise InfraError(
                f"ports {KAFKA_PORT}/{KAFKA_CONTROLLER_PORT} are taken by another process "
                "(not the broker of this checkout); stop it or use --infra=external"
            )
        self.install()
        self.format_storage()
        _rotate(self.logfile)
        t0 = time.monotonic()
        with self.logfile.open("ab") as log:
            log.write(f"\n===== starting Kafka {KAFKA_VERSION} at {time.ctime()} =====\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                self._java_cmd("kafka.Kafka", str(self.config)),
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pidfile.write_text(f"{self._proc.pid}\n")
        try:
            self._wait_ready(timeout)
        except BaseException:
            _log(
                f"Kafka did not become ready; last lines of {self.logfile}:\n{_tail(self.logfile)}"
            )
            self.stop()
            raise
        _log(f"Kafka up at {self.bootstrap} in {time.monotonic() - t0:.1f}s (pid {self._proc.pid})")
        return True

    def _wait_ready(self, timeout: float) -> None:
        pid = self.pid()
        wait_kafka_ready(self.bootstrap, timeout, alive=(lambda: pid_alive(pid)) if pid else None)

    def stop(self, timeout: float = KAFKA_STOP_TIMEOUT) -> bool:
        """SIGTERM (clean shutdown), wait, SIGKILL after ``timeout``. True when it stopped one."""
        pid = self.pid()
        if pid is None:
            self.pidfile.unlink(missing_ok=True)
            return False
        t0 = time.monotonic()
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = t0 + timeout
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if pid_alive(pid):
            _log(f"Kafka (pid {pid}) ignored SIGTERM for {timeout:.0f}s: SIGKILL")
            try:
                os.killpg(pid, signal.SIGKILL)  # started with start_new_session: pid == pgid
            except (ProcessLookupError, PermissionError):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            while pid_alive(pid):
                time.sleep(0.1)
        if self._proc is not None and self._proc.pid == pid:
            with contextlib.suppress(Exception):
                self._proc.wait(timeout=5)
            self._proc = None
        self.pidfile.unlink(missing_ok=True)
        _log(f"Kafka stopped in {time.monotonic() - t0:.1f}s")
        return True

    def status(self) -> tuple[bool, str]:
        pid = self.pid()
        if pid is not None:
            state = "up" if self.ready() else "starting/unhealthy"
            return state == "up", f"{state:5} {self.bootstrap}  (pid {pid}, {self.dir})"
        if self.foreign():
            return True, f"up    {self.bootstrap}  (not started from this checkout)"
        return False, f"down  {self.bootstrap}"
