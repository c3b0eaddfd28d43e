"""Every read model of the QA schema, for the application's handlers."""

from __future__ import annotations

from dataclasses import dataclass

from .consensus import ConsensusTable
from .labels import LabelsTable
from .projects import ProjectsTable
from .quality import ClassStatsTable, DriftFlagsTable, GoldScoresTable, RunsTable
from .tables import Tables
from .tasks import TasksTable


@dataclass(frozen=True)
class ReadModels:
    tables: Tables
    projects: ProjectsTable
    tasks: TasksTable
    labels: LabelsTable
    consensus: ConsensusTable
    gold_scores: GoldScoresTable
    drift_flags: DriftFlagsTable
    class_stats: ClassStatsTable
    runs: RunsTable

    @classmethod
    def of(cls, schema: str) -> ReadModels:
        t = Tables.of(schema)
        return cls(
            t,
            ProjectsTable(t.projects),
            TasksTable(t.tasks),
            LabelsTable(t.labels),
            ConsensusTable(t.consensus, t.tasks),
            GoldScoresTable(t.gold_scores),
            DriftFlagsTable(t.drift_flags),
            ClassStatsTable(t.class_stats),
            RunsTable(t.runs),
        )
