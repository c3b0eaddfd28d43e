"""Channels to the services and how a failed call is shown.

Every command runs its calls in one ``asyncio.run`` over ``labelops_grpckit.channel`` (the same
credentials metadata, message limits and deadlines as the services' own clients). A failed call
becomes one readable line on stderr — service, status code, message, ErrorInfo reason and every
field violation — and exit code 1; no traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, NoReturn, TypeVar

import grpc
import typer
from labelops_grpckit import channel, error_details

from labelops_cli.config import Config
from labelops_cli.output import err_console

T = TypeVar("T")


class CliError(Exception):
    """A problem the user can fix (bad file, missing option): shown as one line, exit 1."""


class ServiceCallError(Exception):
    """A gRPC call to ``service`` at ``target`` failed."""

    def __init__(self, service: str, target: str, error: grpc.RpcError) -> None:
        super().__init__(describe(error, service, target))
        self.service = service
        self.target = target
        self.error = error

    @property
    def code(self) -> grpc.StatusCode | None:
        return _code(self.error)

    @property
    def reason(self) -> str:
        return error_details(self.error).reason


def _code(error: grpc.RpcError) -> grpc.StatusCode | None:
    code = getattr(error, "code", None)
    return code() if callable(code) else None


def describe(error: grpc.RpcError, service: str | None = None, target: str | None = None) -> str:
    """One line: ``<service>: <CODE>: <message> [REASON] — field: problem; ...`` plus a hint."""
    code = _code(error)
    details_fn = getattr(error, "details", None)
    message = (details_fn() if callable(details_fn) else None) or str(error)
    message = " ".join(message.split())
    info = error_details(error)
    line = f"{service}: " if service else ""
    line += f"{code.name if code else 'ERROR'}: {message}"
    if info.reason:
        line += f" [{info.reason}]"
    listed = [f"{v.field}: {v.description}" for v in info.violations]
    # Some services already spell the violations out in the message; say them once.
    if listed and not all(item in message for item in listed):
        line += " — " + "; ".join(listed)
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) and target:
        line += f" (is {service or 'the service'} running at {target}? see `labelops status`)"
    elif code == grpc.StatusCode.UNAUTHENTICATED:
        line += (
            " (pass --api-key or set LABELOPS_API_KEY; `labelops up` writes a dev admin key"
            " to .local/run/api-keys.json)"
        )
    return line


def die(message: str) -> NoReturn:
    """Print ``error: message`` on stderr (one line, never wrapped) and exit with code 1."""
    err_console().print(f"error: {message}", style="red", markup=False, soft_wrap=True)
    raise typer.Exit(1)


@contextlib.contextmanager
def cli_errors() -> Iterator[None]:
    """Turn the errors a user can act on into one line and exit code 1."""
    try:
        yield
    except ServiceCallError as exc:
        die(str(exc))
    except grpc.RpcError as exc:
        die(describe(exc))
    except CliError as exc:
        die(str(exc))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine on a fresh event loop, with readable errors."""
    with cli_errors():
        return asyncio.run(coro)
    raise AssertionError("unreachable")  # pragma: no cover  (cli_errors exits or re-raises)


@contextlib.asynccontextmanager
async def connect(cfg: Config, service: str) -> AsyncIterator[grpc.aio.Channel]:
    """A channel to ``service`` carrying the configured API key; failed calls inside the block
    are raised as ``ServiceCallError`` naming the service and its target."""
    target = cfg.target(service)
    ch = channel(target, api_key=cfg.api_key)
    try:
        yield ch
    except grpc.RpcError as exc:
        raise ServiceCallError(service, target, exc) from exc
    finally:
        await ch.close()


@contextlib.contextmanager
def calling(service: str, target: str) -> Iterator[None]:
    """Like ``connect`` for synchronous clients (``labelops_client.Client``)."""
    try:
        yield
    except grpc.RpcError as exc:
        raise ServiceCallError(service, target, exc) from exc
