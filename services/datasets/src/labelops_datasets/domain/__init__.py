"""Pure dataset-version mechanics: row schema, deterministic materialization, splits, exports."""
