"""labelops benchmarks: `make bench` (or `python bench/run.py [names...]`).

Every figure is reported next to a baseline measured in the same run on the same machine, and
as a ratio to it: absolute numbers move with the machine, ratios much less. Results are printed
and written to bench/results/latest.json; docs/benchmarks.md quotes them with the command.

Infra: a running local stack (`make infra-up`) or the URLs in LABELOPS_KAFKA_BOOTSTRAP and
LABELOPS_PG_DSN; with neither, the local stack is started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_curation import bench_curation_dedup
from bench_dataset_versions import bench_dataset_versions
from bench_datasets import bench_datasets
from bench_foundation import bench_foundation
from bench_ontology import bench_ontology
from bench_qa import bench_qa
from bench_routing import bench_routing
from bench_security import bench_security

BENCHES = {
    "foundation": bench_foundation,
    "ontology": bench_ontology,
    "curation": bench_curation_dedup,
    "routing": bench_routing,
    "qa": bench_qa,
    "datasets": bench_datasets,
    "dataset-versions": bench_dataset_versions,
    "security": bench_security,
}


def infra_urls() -> tuple[str, str]:
    kafka = os.environ.get("LABELOPS_KAFKA_BOOTSTRAP")
    pg = os.environ.get("LABELOPS_PG_DSN")
    if kafka and pg:
        return kafka, pg
    from labelops_testkit.infra import LocalStack

    stack = LocalStack()
    stack.up()
    infra = stack.infra()
    return infra.kafka_bootstrap, infra.pg_dsn


async def main(names: list[str], quick: bool) -> dict:
    kafka, pg = infra_urls()
    results: dict = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "results": {},
    }
    for name in names:
        print(f"== {name}", flush=True)
        results["results"][name] = await BENCHES[name](kafka, pg, quick=quick)
        print(json.dumps(results["results"][name], indent=2), flush=True)
    return results


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*", default=list(BENCHES))
    ap.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = ap.parse_args()
    out = asyncio.run(main(args.names, args.quick))
    path = Path(__file__).parent / "results" / "latest.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    print(f"written {path}")
