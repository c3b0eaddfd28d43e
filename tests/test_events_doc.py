"""docs/events.md tells the truth: every event is documented once, and its consumers column is
what the services' dispatch tables consume (tools/events_doc.py writes it)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import events_doc  # noqa: E402


def test_every_event_is_documented_once() -> None:
    documented = Counter(events_doc.documented(events_doc.DOC.read_text()))
    assert [t for t, n in documented.items() if n > 1] == []
    assert sorted(set(events_doc.event_types()) - set(documented)) == []
    assert sorted(set(documented) - set(events_doc.event_types())) == []


def test_every_consumed_event_is_a_real_event() -> None:
    assert sorted(set(events_doc.consumers()) - set(events_doc.event_types())) == []


def test_the_consumers_column_is_generated_from_the_dispatch_tables() -> None:
    text = events_doc.DOC.read_text()
    assert events_doc.render(text) == text, "run python tools/events_doc.py --write"
