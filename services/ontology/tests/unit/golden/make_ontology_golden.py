"""Writes the golden ontology history (run once per deliberate change; the output is committed).

    python services/ontology/tests/unit/golden/make_ontology_golden.py

`OntologyDraftUpdated` stores edits, not the resulting draft, so replaying old events depends on
today's edit rules. The committed history, recorded when it was written, must rebuild to the
recorded state forever (CONVENTIONS.md: "a golden fixture replayed in tests"). If a change to
the edit rules breaks it, that change needs a new event version and an upcaster — not a new
golden file.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[1]))  # ontology_samples

from labelops.ontology.v1 import definition_pb2 as d  # noqa: E402
from labelops.ontology.v1 import ontology_pb2 as o  # noqa: E402
from labelops_ontology.domain import commands as c  # noqa: E402
from labelops_ontology.domain import events as ev  # noqa: E402
from labelops_ontology.domain.ontology import Ontology  # noqa: E402
from labelops_ontologykit import fingerprint  # noqa: E402
from ontology_samples import add_class, at, move, remove, rename, vehicles  # noqa: E402

OID = "golden-vehicles"


def history() -> tuple[list[ev.Event], Ontology]:
    agg = Ontology(OID)
    out: list[ev.Event] = []

    def do(events: list[ev.Event]) -> None:
        for e in events:
            agg.apply(e, ev.EventMeta(at(len(out)), "alice"))
            out.append(e)

    do(agg.create(c.CreateOntology(OID, "Vehicles", "road scenes", vehicles())))
    do(agg.update_draft(c.UpdateOntologyDraft(OID, agg.draft_revision, [
        add_class("truck"),
        rename("person", "pedestrian"),
        add_class("sign", d.GEOMETRY_KIND_POINT),
    ])))  # fmt: skip
    do(agg.publish(c.PublishOntologyVersion(OID, agg.draft_revision)))
    do(agg.update_draft(c.UpdateOntologyDraft(OID, agg.draft_revision, [
        o.DraftEdit(retype=o.RetypeItem(item_id="sign", geometry=d.GEOMETRY_KIND_BOUNDING_BOX)),
        o.DraftEdit(deprecate=o.DeprecateItem(item_id="lane", deprecated=True)),
        move("occluded", "truck"),
        o.DraftEdit(update=o.UpdateItem(ontology_class=d.OntologyClass(
            id="truck", name="truck", geometry=d.GEOMETRY_KIND_BOUNDING_BOX, high_stakes=True,
            description="any goods vehicle"))),
    ])))  # fmt: skip
    do(agg.update_draft(c.UpdateOntologyDraft(OID, agg.draft_revision, [remove("lane")])))
    do(agg.publish(c.PublishOntologyVersion(OID, agg.draft_revision, notes="lanes dropped")))
    do(agg.create_migration(c.CreateOntologyMigration(OID, "1.0.0", "2.0.0", [
        o.MigrationRule(drop_class=o.DropClassRule(class_id="lane")),
        o.MigrationRule(drop_class=o.DropClassRule(class_id="sign")),
    ])))  # fmt: skip
    do(agg.deprecate(c.DeprecateOntology(OID, "replaced by vehicles-v2")))
    return out, agg


def summary(agg: Ontology) -> dict:
    return {
        "stream_version": agg.version,
        "draft_revision": agg.draft_revision,
        "draft_fingerprint": fingerprint(agg.draft),
        "versions": [[v.version, v.fingerprint] for v in agg.versions],
        "migrations": sorted(f"{a}..{b}" for a, b in agg.migrations),
        "state": int(agg.state),
    }


if __name__ == "__main__":
    events, agg = history()
    lines = [
        json.dumps({"type": ev.event_type(e), "payload": base64.b64encode(
            e.SerializeToString(deterministic=True)).decode()})
        for e in events
    ]  # fmt: skip
    (HERE / "ontology_history_v1.jsonl").write_text("\n".join(lines) + "\n")
    (HERE / "ontology_history_v1.expected.json").write_text(
        json.dumps(summary(agg), indent=2) + "\n"
    )
    print(f"wrote {len(lines)} events")
