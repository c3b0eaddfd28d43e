"""``python -m labelops_demo``: the whole labeling workflow on scikit-learn's digits, then a
summary on the terminal and ``report.html`` (plus ``summary.json``) under ``--out``.

Against running services (default): ``--targets default`` is 127.0.0.1:50051..50056 (what
``labelops up`` starts), or ``ontology=host:port,curation=...``; keys come from
``.local/run/api-keys.json`` (``--api-keys``) or ``LABELOPS_API_KEY``. ``--in-process`` starts
the six services in this process instead, on fresh ``demo_<run>_<service>`` schemas and
``labelops.demo<run>-<service>.events.v1`` topics of the local stack.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc

from .data import SCALES
from .system import DEFAULT_PORTS, SERVICES

if TYPE_CHECKING:
    from .workflow import Keys

DEFAULT_KAFKA = "127.0.0.1:29092"
DEFAULT_PG = "postgresql://labelops@127.0.0.1:55432/labelops"
DEFAULT_KEYS = Path(".local/run/api-keys.json")


def parse_targets(spec: str, host: str = "127.0.0.1") -> dict[str, str]:
    """``default`` → the standard ports on ``host``; else ``service=host:port,...`` over them."""
    targets = {s: f"{host}:{p}" for s, p in DEFAULT_PORTS.items()}
    if spec != "default":
        for part in filter(None, (x.strip() for x in spec.split(","))):
            name, sep, target = part.partition("=")
            if not sep or name not in SERVICES:
                raise SystemExit(f"--targets: {part!r} is not <service>=<host:port> ({SERVICES})")
            targets[name] = target
    return targets


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m labelops_demo",
        description="Run the labeling workflow end to end on scikit-learn's digits.",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--in-process",
        action="store_true",
        help="start the six services in this process (local Kafka + Postgres)",
    )
    where.add_argument(
        "--targets",
        default="default",
        help="running services: 'default' (127.0.0.1:50051..50056) or service=host:port,...",
    )
    p.add_argument("--scale", choices=sorted(SCALES), default="full")
    p.add_argument("--out", type=Path, default=Path(".local/demo"))
    p.add_argument(
        "--api-keys",
        type=Path,
        default=None,
        help=f"LABELOPS_API_KEYS-style JSON (default {DEFAULT_KEYS} if present,"
        " else LABELOPS_API_KEY)",
    )
    p.add_argument(
        "--kafka",
        default=os.environ.get("LABELOPS_KAFKA_BOOTSTRAP", DEFAULT_KAFKA),
        help="Kafka bootstrap (the dataset cut reads QA's topic)",
    )
    p.add_argument(
        "--topic-prefix",
        default="",
        help="services' name prefix when not the defaults (topics labelops.<prefix><service>...)",
    )
    p.add_argument("--pg-dsn", default=os.environ.get("LABELOPS_PG_DSN", DEFAULT_PG))
    p.add_argument(
        "--keep-schemas", action="store_true", help="--in-process: keep the demo_* schemas"
    )
    p.add_argument("--seed", type=int, default=7)
    return p


def load_keys(args: argparse.Namespace) -> Keys:
    from .workflow import keys_from_env, keys_from_file

    path = args.api_keys or (DEFAULT_KEYS if DEFAULT_KEYS.is_file() else None)
    keys = keys_from_file(path) if path is not None else keys_from_env()
    if keys is None:
        raise SystemExit(
            f"no credentials: start the services with `labelops up` (writes {DEFAULT_KEYS}),"
            " pass --api-keys, or set LABELOPS_API_KEY"
        )
    return keys


async def run(args: argparse.Namespace, keys: Keys | None, console: Any) -> dict[str, Any]:
    from .workflow import Demo, run_in_process

    scale = SCALES[args.scale]
    if args.in_process:
        with tempfile.TemporaryDirectory(prefix="labelops-demo-") as data_dir:
            return await run_in_process(
                kafka_bootstrap=args.kafka,
                pg_dsn=args.pg_dsn,
                data_dir=Path(data_dir),
                scale=scale,
                keep_schemas=args.keep_schemas,
                say=console.print,
            )
    assert keys is not None
    for w in keys.warnings:
        console.print(f"[yellow]{w}[/]")
    targets = parse_targets(args.targets)
    demo = Demo(
        targets,
        keys,
        scale,
        kafka_bootstrap=args.kafka,
        topics={s: f"labelops.{args.topic_prefix}{s}.events.v1" for s in SERVICES},
        say=console.print,
        seed=args.seed,
    )
    summary = await demo.run()
    summary["run"]["mode"] = "services"
    return summary


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    from .report import print_summary, write_report

    args = parser().parse_args(argv)
    console = Console()
    args.out.mkdir(parents=True, exist_ok=True)
    # The services' own logs (in-process they share this process) go to a file, not the
    # terminal: the demo prints its own progress.
    logging.basicConfig(
        level=logging.INFO,
        filename=args.out / "services.log",
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    t0 = time.monotonic()
    keys = None if args.in_process else load_keys(args)
    try:
        summary = asyncio.run(run(args, keys, console))
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.UNAVAILABLE or args.in_process:
            raise
        console.print(
            f"[red]a service is not reachable ({exc.details()}):[/] start them with"
            " `labelops up`, point --targets at them, or run with --in-process"
        )
        return 2
    summary["run"]["total_seconds"] = round(time.monotonic() - t0, 1)
    path = write_report(summary, args.out)
    print_summary(summary, console)
    console.print(f"report: {path.resolve()}  ({summary['run']['total_seconds']} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
