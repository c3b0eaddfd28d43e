"""The committed golden history rebuilds to the state recorded when it was written.

Guards replay: `OntologyDraftUpdated` stores edits, so a change to the edit rules could silently
change the draft that old events rebuild. Such a change needs a new event version and an
upcaster; see golden/make_ontology_golden.py.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from labelops_ontology.domain import events as ev
from labelops_ontology.domain.ontology import Ontology
from labelops_ontologykit import fingerprint
from ontology_samples import at

GOLDEN = Path(__file__).parent / "golden"


def test_golden_history_replays_to_the_recorded_state() -> None:
    lines = (GOLDEN / "ontology_history_v1.jsonl").read_text().splitlines()
    expected = json.loads((GOLDEN / "ontology_history_v1.expected.json").read_text())
    events = []
    for line in lines:
        record = json.loads(line)
        events.append(ev.decode(record["type"], base64.b64decode(record["payload"])))
    agg = Ontology.rebuild(
        "golden-vehicles", ((e, ev.EventMeta(at(i), "alice")) for i, e in enumerate(events))
    )
    assert agg.version == expected["stream_version"] == len(lines)
    assert agg.draft_revision == expected["draft_revision"]
    assert fingerprint(agg.draft) == expected["draft_fingerprint"]
    assert [[v.version, v.fingerprint] for v in agg.versions] == expected["versions"]
    # The fingerprint function itself must stay stable: stored fingerprints are compared to it.
    assert [fingerprint(v.definition) for v in agg.versions] == [f for _, f in expected["versions"]]
    assert sorted(f"{a}..{b}" for a, b in agg.migrations) == expected["migrations"]
    assert int(agg.state) == expected["state"]
