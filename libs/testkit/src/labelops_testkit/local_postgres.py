"""The local PostgreSQL server in ``.local/pg`` (127.0.0.1:55432, trust auth, user/db labelops)."""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import time
from pathlib import Path

from .infra_base import (
    ENV_PG_BIN,
    PG_DB,
    PG_DSN,
    PG_HOST,
    PG_MAX_CONNECTIONS,
    PG_PORT,
    PG_TIMEOUT,
    PG_USER,
    InfraError,
    _cmdline,
    _is_root,
    _log,
    _port_open,
    _rotate,
    _run,
    _tail,
    pid_alive,
)


def _pg_version_key(path: Path) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in path.parent.name.split("."))
    except ValueError:
        return (0,)


def find_pg_bin() -> Path | None:
    """``$LABELOPS_PG_BIN``, the newest /usr/lib/postgresql/*/bin, or where pg_ctl is on PATH."""
    candidates: list[Path] = []
    env = os.environ.get(ENV_PG_BIN)
    if env:
        candidates.append(Path(env))
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=_pg_version_key, reverse=True
    )
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for cand in candidates:
        if all((cand / tool).exists() for tool in ("initdb", "pg_ctl", "postgres", "psql")):
            return cand
    return None


class PostgresLocal:
    """A PostgreSQL server in ``.local/pg`` on 127.0.0.1:55432, trust auth, user/db ``labelops``."""

    name = "postgres"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / ".local" / "pg"
        self.data = self.dir / "data"
        self.run_dir = self.dir / "run"
        self.logfile = self.dir / "pg.log"
        self.dsn = PG_DSN

    # -- install ------------------------------------------------------------------------------
    def bin(self) -> Path:
        found = find_pg_bin()
        if found is None:
            raise InfraError(
                "PostgreSQL server binaries not found (looked in $LABELOPS_PG_BIN, "
                "/usr/lib/postgresql/*/bin, PATH). Install them: "
                "sudo apt-get install -y postgresql   (or run `python -m labelops_testkit.infra "
                "install` as root)"
            )
        return found

    def installed(self) -> bool:
        return find_pg_bin() is not None

    def install(self) -> bool:
        """apt-get install postgresql when the binaries are missing and we are root."""
        if self.installed():
            return False
        if not _is_root():
            self.bin()  # raises with instructions
        _log("PostgreSQL binaries missing: apt-get install -y postgresql")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        _run(["apt-get", "update"], env=env, timeout=900)
        _run(
            ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"],
            env=env,
            timeout=1800,
        )
        self.bin()
        return True

    # -- helpers ------------------------------------------------------------------------------
    def _as_owner(self, cmd: list[str]) -> list[str]:
        """PostgreSQL refuses to run as root: as root, run the command as the postgres user."""
        if _is_root():
            return ["runuser", "-u", "postgres", "--", *cmd]
        return cmd

    def _prepare_dirs(self) -> None:
        for d in (self.dir, self.run_dir):
            d.mkdir(parents=True, exist_ok=True)
        if not _is_root():
            return
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise InfraError(
                "running as root but there is no 'postgres' user to run the server"
            ) from exc
        # Every parent must be traversable by the postgres user.
        for parent in [self.dir, *self.dir.parents]:
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH:
                _log(f"chmod o+x {parent} (so the postgres user can reach {self.dir})")
                parent.chmod(mode | stat.S_IXOTH)
        for path in (self.dir, self.run_dir, self.data if self.data.exists() else None):
            if path is not None and path.stat().st_uid != pw.pw_uid:
                _run(["chown", "-R", f"{pw.pw_uid}:{pw.pw_gid}", str(path)])
        if self.logfile.exists() and self.logfile.stat().st_uid != pw.pw_uid:
            os.chown(self.logfile, pw.pw_uid, pw.pw_gid)

    def initialized(self) -> bool:
        return (self.data / "PG_VERSION").exists()

    def init(self) -> bool:
        """initdb once. True when it created the cluster."""
        if self.initialized():
            return False
        self._prepare_dirs()
        if self.data.exists() and any(self.data.iterdir()):
            raise InfraError(f"{self.data} is not empty but holds no PostgreSQL cluster; remove it")
        pg_bin = self.bin()
        _log(f"initdb {self.data}")
        _run(
            self._as_owner(
                [
                    str(pg_bin / "initdb"),
                    "-D",
                    str(self.data),
                    "--auth=trust",
                    "-U",
                    PG_USER,
                    "-E",
                    "UTF8",
                    "--no-locale",
                ]
            ),
            cwd="/",
            timeout=300,
        )
        return True

    def server_options(self) -> str:
        opts = [
            ("port", str(PG_PORT)),
            ("listen_addresses", PG_HOST),
            ("unix_socket_directories", str(self.run_dir)),
            ("max_connections", str(PG_MAX_CONNECTIONS)),
            # synchronous_commit stays on: "an acknowledged label is committed" must hold here
            # too, and benchmarks must measure the durable path.
        ]
        return " ".join(f"-c {k}={shlex.quote(v)}" for k, v in opts)

    def pid(self) -> int | None:
        try:
            pid = int((self.data / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if pid_alive(pid) and "postgres" in _cmdline(pid) else None

    def running(self) -> bool:
        return self.pid() is not None

    def foreign(self) -> bool:
        return not self.running() and _port_open(PG_HOST, PG_PORT)

    def accepting(self) -> bool:
        try:
            proc = _run(
                [
                    str(self.bin() / "pg_isready"),
                    "-q",
                    "-h",
                    PG_HOST,
                    "-p",
                    str(PG_PORT),
                    "-U",
                    PG_USER,
                    "-t",
                    "3",
                ],
                check=False,
                timeout=10,
            )
        except (InfraError, OSError, subprocess.TimeoutExpired):
            return _port_open(PG_HOST, PG_PORT)
        return proc.returncode == 0

    def _psql(self, db: str, sql: str) -> str:
        proc = _run(
            [
                str(self.bin() / "psql"),
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                PG_HOST,
                "-p",
                str(PG_PORT),
                "-U",
                PG_USER,
                "-d",
                db,
                "-c",
                sql,
            ],
            env={**os.environ, "PGCONNECT_TIMEOUT": "10"},
            timeout=60,
        )
        return proc.stdout.strip()

    def ensure_database(self) -> None:
        if self._psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{PG_DB}'") != "1":
            self._psql("postgres", f'CREATE DATABASE "{PG_DB}"')

    def start(self) -> bool:
        """Start the server unless it runs (initdb first when needed). True when it started it."""
        if self.running():
            self.ensure_database()
            return False
        if _port_open(PG_HOST, PG_PORT):
            raise InfraError(
                f"port {PG_PORT} is taken by another process (not this checkout's PostgreSQL); "
                "stop it or use --infra=external"
            )
        self.install()
        self.init()
        self._prepare_dirs()
        _rotate(self.logfile)
        t0 = time.monotonic()
        proc = _run(
            self._as_owner(
                [
                    str(self.bin() / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.logfile),
                    "-w",
                    "-t",
                    str(PG_TIMEOUT),
                    "-o",
                    self.server_options(),
                    "start",
                ]
            ),
            check=False,
            cwd="/",
            timeout=PG_TIMEOUT + 30,
        )
        if proc.returncode != 0:
            raise InfraError(
                f"pg_ctl start failed ({proc.returncode}): {(proc.stdout + proc.stderr).strip()}\n"
                f"last lines of {self.logfile}:\n{_tail(self.logfile)}"
            )
        self.ensure_database()
        _log(f"PostgreSQL up at {PG_HOST}:{PG_PORT} in {time.monotonic() - t0:.1f}s")
        return True

    def stop(self) -> bool:
        if not self.running():
            return False
        t0 = time.monotonic()
        _run(
            self._as_owner(
                [
                    str(self.bin() / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-m",
                    "fast",
                    "-w",
                    "-t",
                    str(PG_TIMEOUT),
                    "stop",
                ]
            ),
            cwd="/",
            timeout=PG_TIMEOUT + 30,
        )
        _log(f"PostgreSQL stopped in {time.monotonic() - t0:.1f}s")
        return True

    def status(self) -> tuple[bool, str]:
        pid = self.pid()
        if pid is not None:
            state = "up" if self.accepting() else "starting/unhealthy"
            return state == "up", f"{state:5} {self.dsn}  (pid {pid}, {self.dir})"
        if self.foreign():
            return True, f"up    {self.dsn}  (not started from this checkout)"
        return False, f"down  {self.dsn}"
