"""Tables ``roi_observations`` (time and outcome of each label routing received: the ROI
evidence) and ``class_switches`` (pre-labeling on / off per class, absent = on, and the
observations since its last evaluation)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..domain.roi import Observation, Outcome
from .tables import Tables

Conn = Any


class RoiObservations:
    def __init__(self, tables: Tables) -> None:
        self.t = tables.roi_observations

    async def add(
        self, conn: Conn, tenant_id: str, project_id: str, o: Observation, at: datetime
    ) -> None:
        await conn.execute(
            f"INSERT INTO {self.t} (tenant_id, project_id, class_id, prelabeled, outcome,"
            " seconds, observed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            tenant_id,
            project_id,
            o.class_id,
            o.prelabeled,
            o.outcome.value if o.outcome is not None else None,
            o.seconds,
            at,
        )

    async def window(
        self, conn: Conn, tenant_id: str, project_id: str, class_id: str, size: int
    ) -> list[Observation]:
        """The class's latest ``size`` observations with pre-labels and ``size`` without."""
        rows = await conn.fetch(
            f"(SELECT prelabeled, outcome, seconds FROM {self.t}"
            " WHERE tenant_id = $1 AND project_id = $2 AND class_id = $3 AND prelabeled"
            " ORDER BY id DESC LIMIT $4)"
            f" UNION ALL (SELECT prelabeled, outcome, seconds FROM {self.t}"
            " WHERE tenant_id = $1 AND project_id = $2 AND class_id = $3 AND NOT prelabeled"
            " ORDER BY id DESC LIMIT $4)",
            tenant_id,
            project_id,
            class_id,
            size,
        )
        return [
            Observation(
                class_id,
                r["prelabeled"],
                Outcome(r["outcome"]) if r["outcome"] else None,
                r["seconds"],
            )
            for r in rows
        ]


@dataclass(frozen=True)
class Switch:
    class_id: str
    enabled: bool
    reason: str


class ClassSwitches:
    def __init__(self, tables: Tables) -> None:
        self.t = tables.class_switches

    async def observed(
        self, conn: Conn, tenant_id: str, project_id: str, class_id: str
    ) -> tuple[int, bool]:
        """Count one more observation of the class: ``(since_eval, enabled)``."""
        row = await conn.fetchrow(
            f"INSERT INTO {self.t} AS s (tenant_id, project_id, class_id, since_eval)"
            " VALUES ($1, $2, $3, 1) ON CONFLICT (tenant_id, project_id, class_id)"
            " DO UPDATE SET since_eval = s.since_eval + 1 RETURNING since_eval, enabled",
            tenant_id,
            project_id,
            class_id,
        )
        return row["since_eval"], row["enabled"]

    async def evaluated(
        self,
        conn: Conn,
        tenant_id: str,
        project_id: str,
        class_id: str,
        enabled: bool,
        reason: str | None,
    ) -> None:
        """The policy evaluated the class: its state, and its reason when it flipped (None:
        the stored reason stays)."""
        await conn.execute(
            f"UPDATE {self.t} SET since_eval = 0, enabled = $4,"
            " reason = CASE WHEN $5 THEN $6 ELSE reason END"
            " WHERE tenant_id = $1 AND project_id = $2 AND class_id = $3",
            tenant_id,
            project_id,
            class_id,
            enabled,
            reason is not None,
            reason or "",
        )

    async def switch(
        self,
        conn: Conn,
        tenant_id: str,
        project_id: str,
        class_id: str,
        enabled: bool,
        reason: str,
    ) -> None:
        """An operator's switch (the next evaluation counts from here)."""
        await conn.execute(
            f"INSERT INTO {self.t} AS s (tenant_id, project_id, class_id, enabled, reason)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, project_id, class_id)"
            " DO UPDATE SET enabled = $4, reason = $5, since_eval = 0",
            tenant_id,
            project_id,
            class_id,
            enabled,
            reason,
        )

    async def enabled(self, conn: Conn, tenant_id: str, project_id: str) -> dict[str, bool]:
        rows = await conn.fetch(
            f"SELECT class_id, enabled FROM {self.t} WHERE tenant_id = $1 AND project_id = $2",
            tenant_id,
            project_id,
        )
        return {r["class_id"]: r["enabled"] for r in rows}

    async def of_project(self, conn: Conn, tenant_id: str, project_id: str) -> list[Switch]:
        rows = await conn.fetch(
            f"SELECT class_id, enabled, reason FROM {self.t}"
            " WHERE tenant_id = $1 AND project_id = $2 ORDER BY class_id",
            tenant_id,
            project_id,
        )
        return [Switch(r["class_id"], r["enabled"], r["reason"]) for r in rows]
