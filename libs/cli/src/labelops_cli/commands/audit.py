"""``labelops audit verify``: recompute a service schema's audit and event hash chains.

Reads Postgres directly (an operator's tool, like a backup check): every problem is one line
(chain, tenant, seq, the row id or event position, modified / deleted / reordered) and the exit
code is 1; an intact schema prints ``OK`` and exits 0. The chains are written by the services'
``ChainWorker`` (labelops_eventstore.chain), a row within about a second of being written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from labelops_cli.grpc import CliError, run
from labelops_cli.output import console, print_json

if TYPE_CHECKING:
    from labelops_eventstore.verify import Problem

app = typer.Typer(help="The tamper-evident audit log: verify its hash chains.")

#: Where the DSN may come from instead of the command line (which `ps` shows).
ENV_DSN = "LABELOPS_AUDIT_DSN"


async def _verify(dsn: str, schema: str, tenant: str | None) -> list[Problem]:
    import asyncpg
    from labelops_eventstore.schema import check_identifier
    from labelops_eventstore.verify import verify

    try:
        check_identifier(schema)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    try:
        conn = await asyncpg.connect(dsn)
    except (OSError, asyncpg.PostgresError, ValueError) as exc:
        raise CliError(f"cannot connect to Postgres: {exc}") from exc
    try:
        exists = await conn.fetchval(
            "SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL",
            f'"{schema}".audit_log',
            f'"{schema}".event_chain',
        )
        if not exists:
            raise CliError(f"schema {schema} has no audit_log / event_chain (not migrated?)")
        return await verify(conn, schema, tenant)
    finally:
        await conn.close()


@app.command("verify")
def verify_cmd(
    dsn: Annotated[
        str,
        typer.Option("--dsn", envvar=ENV_DSN, help="Postgres DSN.", show_envvar=True),
    ],
    schema: Annotated[str, typer.Option("--schema", help="The service's schema.")],
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Only this tenant's chains.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Recompute the audit and event chains of SCHEMA; exit 1 naming every problem."""
    problems = run(_verify(dsn, schema, tenant))
    if json_out:
        print_json({"ok": not problems, "problems": [p.as_dict() for p in problems]})
    elif problems:
        out = console()
        for p in problems:
            out.print(str(p), markup=False, soft_wrap=True)
    else:
        console().print("OK", markup=False)
    if problems:
        raise typer.Exit(1)
