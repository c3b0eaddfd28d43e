"""``labelops up | down | status``: the local stack (Kafka + PostgreSQL, six services, gateway)."""

from __future__ import annotations

import asyncio
import os
import re
from typing import Annotated
from urllib.parse import urlsplit

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from labelops_cli import stack
from labelops_cli.config import ENV_KAFKA, Config
from labelops_cli.grpc import CliError, cli_errors, die
from labelops_cli.output import console, err_console, table, warn

ENV_PG = "LABELOPS_PG_DSN"


def register(app: typer.Typer) -> None:
    app.command()(up)
    app.command()(down)
    app.command()(status)


def _external_infra() -> bool:
    # The same rule as the test plugin: both set = servers someone else runs.
    return bool(os.environ.get(ENV_KAFKA) and os.environ.get(ENV_PG))


def _pg_dsn() -> str:
    from labelops_testkit.infra import PG_DSN

    return os.environ.get(ENV_PG) or PG_DSN


def build_stack(cfg: Config, *, include_gateway: bool = True) -> stack.Stack:
    """The stack ``up`` / ``down`` / ``status`` manage, from the CLI's targets and run dir."""
    gateway = urlsplit(cfg.gateway_url)
    try:
        specs = stack.default_specs(
            targets={s: cfg.target(s) for s in stack.SERVICES},
            gateway_port=gateway.port or stack.DEFAULT_PORTS[stack.GATEWAY],
            data_dir=cfg.run_dir / "data",
            kafka_bootstrap=cfg.kafka_bootstrap,
            pg_dsn=_pg_dsn(),
            include_gateway=include_gateway,
        )
    except ValueError as exc:
        raise CliError(str(exc)) from None
    return stack.Stack(cfg.run_dir, specs, cwd=stack.repo_root())


def _start_infra() -> None:
    from labelops_testkit.infra import InfraError, LocalStack

    with err_console().status("Kafka + PostgreSQL (.local/) …"):
        try:
            LocalStack().up(pin=True)
        except (InfraError, TimeoutError) as exc:
            raise CliError(f"local infrastructure did not start: {exc}") from None


def up(
    ctx: typer.Context,
    infra: Annotated[
        bool,
        typer.Option(
            help="Start Kafka + PostgreSQL under .local/ first (skipped when "
            "LABELOPS_KAFKA_BOOTSTRAP and LABELOPS_PG_DSN name external servers)."
        ),
    ] = True,
    gateway: Annotated[bool, typer.Option(help="Start the HTTP gateway too.")] = True,
    service: Annotated[
        list[str] | None,
        typer.Option("--service", "-s", help="Only these services (repeatable)."),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each to be healthy.")] = 180,
) -> None:
    """Start the local stack: infrastructure, six services and the gateway (idempotent)."""
    cfg: Config = ctx.obj
    with cli_errors():
        names = list(stack.SERVICES)
        if gateway:
            if stack.gateway_available():
                names.append(stack.GATEWAY)
            else:
                warn("labelops_gateway.__main__ is not importable yet; not starting the gateway")
        if service:
            unknown = sorted(set(service) - set(names) - {stack.GATEWAY})
            if unknown:
                raise CliError(f"unknown service(s) {unknown}; choose from {names}")
            names = [n for n in names if n in service]
        if infra and not _external_infra():
            _start_infra()
        st = build_stack(cfg, include_gateway=stack.GATEWAY in names)
        if stack.ensure_api_keys(st.keys_file):
            err_console().print(f"wrote dev API keys to {st.keys_file}", markup=False)
        failures = asyncio.run(_start_all(st, names, timeout))
        _print_status(st, asyncio.run(st.status(names)))
        if failures:
            for message in failures.values():
                err_console().print(message, markup=False, soft_wrap=True, style="red")
            die(f"{len(failures)} of {len(names)} process(es) did not become healthy")


async def _start_all(st: stack.Stack, names: list[str], timeout: float) -> dict[str, str]:
    failures: dict[str, str] = {}
    columns = (
        SpinnerColumn(),
        TextColumn("{task.fields[name]:<9}"),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console(), transient=False) as progress:
        tasks = {n: progress.add_task("starting", name=n, total=1) for n in names}

        async def one(name: str) -> None:
            how, pid = st.start(name)
            if how == "running":
                progress.update(tasks[name], description=f"already running (pid {pid})")
            elif how == "foreign":
                progress.update(
                    tasks[name],
                    description=f"port {st.spec(name).port} taken by another process; checking",
                )
            else:
                progress.update(tasks[name], description=f"started (pid {pid}), waiting")
            try:
                await st.wait_healthy(name, timeout if how == "started" else min(timeout, 5.0))
            except stack.StackError as exc:
                failures[name] = (
                    f"{name}: port {st.spec(name).port} is taken by a process `labelops up` did"
                    " not start, and it does not answer as a healthy service there"
                    if how == "foreign"
                    else str(exc)
                )
                progress.update(tasks[name], description="[red]failed[/]", completed=1)
                return
            done = {"running": "already running", "foreign": "serving (not started by up)"}
            progress.update(
                tasks[name], description=f"[green]{done.get(how, 'serving')}[/]", completed=1
            )

        await asyncio.gather(*(one(n) for n in names))
    return failures


def down(
    ctx: typer.Context,
    infra: Annotated[
        bool, typer.Option("--infra", help="Stop Kafka + PostgreSQL too (data is kept).")
    ] = False,
    grace: Annotated[
        float, typer.Option(help="Seconds between SIGTERM and SIGKILL.")
    ] = stack.DEFAULT_STOP_GRACE_S,
) -> None:
    """Stop what `labelops up` started (SIGTERM, then SIGKILL after the grace period)."""
    cfg: Config = ctx.obj
    with cli_errors():
        st = build_stack(cfg)
        names = [stack.GATEWAY, *reversed(stack.SERVICES)]

        async def stop_all() -> list[str]:
            return list(
                await asyncio.gather(*(asyncio.to_thread(st.stop, n, grace) for n in names))
            )

        with err_console().status("stopping …"):
            outcomes = asyncio.run(stop_all())
        out = console()
        for name, outcome in zip(names, outcomes, strict=True):
            if outcome != "not running":
                out.print(f"{name:<9} {outcome}")
        if all(o == "not running" for o in outcomes):
            out.print(f"nothing was running from {cfg.run_dir}")
        if infra:
            from labelops_testkit.infra import InfraError, LocalStack

            if _external_infra():
                warn("LABELOPS_KAFKA_BOOTSTRAP / LABELOPS_PG_DSN are external; not stopping them")
            else:
                with err_console().status("stopping Kafka + PostgreSQL …"):
                    try:
                        LocalStack().down()
                    except (InfraError, TimeoutError) as exc:
                        raise CliError(f"stopping the local infrastructure: {exc}") from None
                out.print("infra     stopped")


_INFRA_DETAIL = re.compile(r"^(\S+)\s+(\S+)\s*(?:\(pid (\d+)[,)])?")


def _infra_rows() -> list[tuple[str, str, str, str]]:
    if _external_infra():
        return [
            ("kafka", "", os.environ[ENV_KAFKA], "external"),
            ("postgres", "", os.environ[ENV_PG], "external"),
        ]
    from labelops_testkit.infra import LocalStack

    rows = []
    for name, ok, detail in LocalStack().status():
        if name == "qdrant":
            continue
        # "up    127.0.0.1:29092  (pid 22483, /work/main/.local/kafka)"
        m = _INFRA_DETAIL.match(detail)
        state, address, pid = (m.group(1), m.group(2), m.group(3) or "") if m else ("", detail, "")
        rows.append((name, pid, address, "[green]up[/]" if ok else f"[red]{state or 'down'}[/]"))
    return rows


def _service_rows(
    st: stack.Stack, states: list[stack.ServiceStatus]
) -> list[tuple[str, str, str, str]]:
    rows = []
    for s in states:
        colour = "green" if s.healthy else ("yellow" if s.pid else "red")
        health = s.health if s.pid or s.healthy else f"{s.health} (not running)"
        rows.append((s.name, str(s.pid or ""), st.spec(s.name).target, f"[{colour}]{health}[/]"))
    return rows


def _print_status(st: stack.Stack, states: list[stack.ServiceStatus]) -> None:
    rows = [*_infra_rows(), *_service_rows(st, states)]
    console().print(table(None, ["component", "pid", "address", "health"], rows))


def status(
    ctx: typer.Context,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 unless every component is healthy.")
    ] = False,
) -> None:
    """Infrastructure and each process: pid, address, health."""
    cfg: Config = ctx.obj
    with cli_errors():
        include_gateway = stack.gateway_available()
        st = build_stack(cfg, include_gateway=include_gateway)
        states = asyncio.run(st.status())
        infra_rows = _infra_rows()
        rows = [*infra_rows, *_service_rows(st, states)]
        console().print(table(None, ["component", "pid", "address", "health"], rows))
        if not include_gateway:
            warn("gateway: labelops_gateway.__main__ is not importable yet")
        if check:
            bad = [s.name for s in states if not s.healthy]
            bad += [r[0] for r in infra_rows if "up" not in r[3] and r[3] != "external"]
            if bad:
                die(f"not healthy: {', '.join(bad)}")
