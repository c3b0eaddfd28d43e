"""``labelops``: the command line of the labelops stack (typer + rich).

Global options come first (``labelops --api-key K items import ...``); each has an environment
variable, so scripts usually set those instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from labelops_cli.commands import (
    audit,
    events,
    items,
    keys,
    local,
    ontology,
    pools,
    projects,
    report,
    versions,
)
from labelops_cli.config import (
    DEFAULT_KAFKA,
    ENV_API_KEY,
    ENV_GATEWAY_URL,
    ENV_KAFKA,
    ENV_RUN_DIR,
    Config,
    default_run_dir,
    target_env,
)

app = typer.Typer(
    name="labelops",
    help="Run and drive the labelops stack: services, ontologies, items, projects, versions.",
    no_args_is_help=True,
    # Locals would print the API key into a traceback.
    pretty_exceptions_show_locals=False,
    add_completion=False,
)


def _target_option(service: str) -> object:
    return typer.Option(
        f"--{service}-target",
        envvar=target_env(service),
        help=f"{service} service host:port.",
        show_envvar=True,
        rich_help_panel="Targets",
    )


@app.callback()
def _global(
    ctx: typer.Context,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar=ENV_API_KEY,
            help="API key sent as x-api-key (default: the dev admin key of `labelops up`).",
            show_default=False,
        ),
    ] = None,
    run_dir: Annotated[
        Path | None,
        typer.Option(
            envvar=ENV_RUN_DIR,
            help="Where `up` keeps pids, logs and api-keys.json (default: <repo>/.local/run).",
            show_default=False,
        ),
    ] = None,
    gateway_url: Annotated[
        str, typer.Option(envvar=ENV_GATEWAY_URL, rich_help_panel="Targets")
    ] = "http://127.0.0.1:8080",
    kafka: Annotated[
        str, typer.Option("--kafka", envvar=ENV_KAFKA, help="Kafka bootstrap servers.")
    ] = DEFAULT_KAFKA,
    ontology_target: Annotated[str, _target_option("ontology")] = "127.0.0.1:50051",
    curation_target: Annotated[str, _target_option("curation")] = "127.0.0.1:50052",
    routing_target: Annotated[str, _target_option("routing")] = "127.0.0.1:50053",
    prelabel_target: Annotated[str, _target_option("prelabel")] = "127.0.0.1:50054",
    qa_target: Annotated[str, _target_option("qa")] = "127.0.0.1:50055",
    datasets_target: Annotated[str, _target_option("datasets")] = "127.0.0.1:50056",
) -> None:
    ctx.obj = Config(
        targets={
            "ontology": ontology_target,
            "curation": curation_target,
            "routing": routing_target,
            "prelabel": prelabel_target,
            "qa": qa_target,
            "datasets": datasets_target,
        },
        run_dir=(run_dir.expanduser().resolve() if run_dir else default_run_dir()),
        api_key_option=api_key,
        gateway_url=gateway_url.rstrip("/"),
        kafka_bootstrap=kafka,
    )


local.register(app)
app.add_typer(ontology.app, name="ontology")
app.add_typer(items.app, name="items")
app.add_typer(projects.app, name="projects")
app.add_typer(pools.app, name="pools")
app.add_typer(versions.app, name="versions")
app.add_typer(events.app, name="events")
app.add_typer(audit.app, name="audit")
app.add_typer(keys.app, name="keys")
report.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
