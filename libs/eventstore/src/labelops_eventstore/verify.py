"""``verify``: recompute a schema's audit and event hash chains and name what does not match.

Per tenant, in seq order, each chained record must hash to its stored hash from the stored
hash before it (32 zero bytes before seq 1), and seqs must be contiguous from 1. What is found:

- ``deleted``: a seq is missing (a chained record or chain entry was removed), or the event a
  chain entry names is no longer in ``events``;
- ``reordered``: the record is intact but sits at another place of the chain (its content
  hashes correctly from another position's predecessor, or, for audit rows, from its own
  stored ``prev_hash`` which is not its predecessor's hash);
- ``modified``: the record's content no longer gives its hash (or its chain columns are
  half-cleared).

After a missing seq the next record cannot be checked against its lost predecessor; it is
checked against its own stored ``prev_hash`` (audit) or not at all (events): the gap is the
problem reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import asyncpg

from .chain import AUDIT_FIELDS, EVENT_FIELDS, ZERO_HASH, audit_bytes, event_bytes, link
from .schema import check_identifier

MODIFIED = "modified"
DELETED = "deleted"
REORDERED = "reordered"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a chain.

    ``chain``: "audit" or "events"; ``ref``: the audit row id or the event position (0 when
    the record itself is gone); ``kind``: modified / deleted / reordered.
    """

    chain: str
    tenant_id: str
    seq: int
    kind: str
    ref: int
    detail: str

    def __str__(self) -> str:
        what = "id" if self.chain == "audit" else "position"
        ref = f" ({what} {self.ref})" if self.ref else ""
        return (
            f"{self.chain} chain, tenant {self.tenant_id!r}, seq {self.seq}{ref}: "
            f"{self.kind}: {self.detail}"
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Entry:
    seq: int
    ref: int
    stored: bytes | None
    canonical: bytes | None  # None: the record is gone
    own_prev: bytes | None = None  # audit rows keep their prev_hash


def _self_consistent(e: _Entry) -> bool:
    return (
        e.own_prev is not None
        and e.stored is not None
        and e.canonical is not None
        and link(e.own_prev, e.canonical) == e.stored
    )


def _true_seqs(entries: Sequence[_Entry]) -> dict[int, int | None]:
    """For audit rows that hash correctly from their own ``prev_hash``: the seq their links
    give them (following prev_hash back to seq 1), None where a predecessor is gone."""
    by_hash = {e.stored: e for e in entries if _self_consistent(e)}
    memo: dict[int, int | None] = {}
    for e in by_hash.values():
        path: list[_Entry] = []
        cur = e
        base: int | None
        while True:
            if id(cur) in memo:
                base = memo[id(cur)]
                break
            if cur.own_prev == ZERO_HASH:
                base = memo[id(cur)] = 1
                break
            path.append(cur)
            nxt = by_hash.get(cur.own_prev)
            if nxt is None or len(path) > len(by_hash):
                base = None
                break
            cur = nxt
        if base is None:
            for p in path:
                memo[id(p)] = None
            continue
        for p in reversed(path):
            base += 1
            memo[id(p)] = base
    return memo


def _gaps(chain: str, tenant: str, entries: Sequence[_Entry]) -> list[Problem]:
    out = []
    prev_seq = 0
    for e in entries:
        if e.seq != prev_seq + 1:
            missing = (
                f"seq {prev_seq + 1}"
                if e.seq == prev_seq + 2
                else f"seqs {prev_seq + 1}..{e.seq - 1}"
            )
            out.append(Problem(chain, tenant, prev_seq + 1, DELETED, 0, f"{missing} missing"))
        prev_seq = e.seq
    return out


def _check_tenant(chain: str, tenant: str, entries: Sequence[_Entry]) -> list[Problem]:
    problems = _gaps(chain, tenant, entries)
    by_seq = {e.seq: e for e in entries}

    def expected_prev(e: _Entry) -> bytes | None:
        if e.seq == 1:
            return ZERO_HASH
        before = by_seq.get(e.seq - 1)
        return before.stored if before is not None else None

    true_seq = _true_seqs(entries)
    suspects: list[_Entry] = []  # content does not hash to the stored hash where it is
    for e in entries:
        if e.canonical is None:
            problems.append(Problem(chain, tenant, e.seq, DELETED, e.ref, "record missing"))
        elif e.stored is None:
            problems.append(Problem(chain, tenant, e.seq, MODIFIED, e.ref, "hash cleared"))
        elif e.own_prev is not None or chain == "audit":
            if not _self_consistent(e):
                suspects.append(e)
                continue
            ts = true_seq.get(id(e))
            prev = expected_prev(e)
            if ts is not None and ts != e.seq:
                problems.append(
                    Problem(chain, tenant, e.seq, REORDERED, e.ref, f"record belongs at seq {ts}")
                )
            elif ts is None and prev is not None and e.own_prev != prev:
                # It links to a hash no record has: the record before had its hash rewritten.
                problems.append(
                    Problem(
                        chain,
                        tenant,
                        e.seq - 1,
                        MODIFIED,
                        by_seq[e.seq - 1].ref,
                        f"hash rewritten (seq {e.seq} links to another)",
                    )
                )
        else:
            prev = expected_prev(e)
            if prev is not None and link(prev, e.canonical) != e.stored:
                suspects.append(e)
    for e in suspects:
        assert e.canonical is not None
        # Intact content at the wrong place hashes right at another suspect's place.
        elsewhere = []
        for other in suspects:
            prev = expected_prev(other)
            if other is not e and prev is not None and link(prev, e.canonical) == other.stored:
                elsewhere.append(other.seq)
        if elsewhere:
            detail = f"record belongs at seq {elsewhere[0]}"
            problems.append(Problem(chain, tenant, e.seq, REORDERED, e.ref, detail))
        else:
            detail = "content does not match its hash"
            problems.append(Problem(chain, tenant, e.seq, MODIFIED, e.ref, detail))
    return sorted(problems, key=lambda p: (p.seq, p.kind))


async def _audit_entries(
    conn: asyncpg.Connection, s: str, tenant: str | None
) -> dict[str, list[_Entry]]:
    q = (
        f"SELECT {', '.join(AUDIT_FIELDS)}, seq, prev_hash, hash FROM {s}.audit_log"
        " WHERE (seq IS NOT NULL OR hash IS NOT NULL OR prev_hash IS NOT NULL)"
        + (" AND tenant_id = $1" if tenant is not None else "")
        + " ORDER BY tenant_id, seq NULLS LAST, id"
    )
    out: dict[str, list[_Entry]] = {}
    async for r in conn.cursor(q, *([tenant] if tenant is not None else [])):
        # A row with chain columns but no seq had its seq cleared: it can only be modified.
        seq = r["seq"] if r["seq"] is not None else 0
        out.setdefault(r["tenant_id"], []).append(
            _Entry(seq, r["id"], r["hash"], audit_bytes(r), r["prev_hash"])
        )
    return out


async def _event_entries(
    conn: asyncpg.Connection, s: str, tenant: str | None
) -> dict[str, list[_Entry]]:
    cols = ", ".join(f"e.{f}" for f in EVENT_FIELDS)
    q = (
        f"SELECT c.tenant_id AS chain_tenant, c.seq, c.position, c.hash,"
        f" e.position IS NOT NULL AS present, {cols}"
        f" FROM {s}.event_chain c LEFT JOIN {s}.events e ON e.position = c.position"
        + (" WHERE c.tenant_id = $1" if tenant is not None else "")
        + " ORDER BY c.tenant_id, c.seq"
    )
    out: dict[str, list[_Entry]] = {}
    async for r in conn.cursor(q, *([tenant] if tenant is not None else [])):
        canonical = event_bytes(r) if r["present"] else None
        out.setdefault(r["chain_tenant"], []).append(
            _Entry(r["seq"], r["position"], r["hash"], canonical)
        )
    return out


async def verify(conn: asyncpg.Connection, schema: str, tenant: str | None = None) -> list[Problem]:
    """Every problem of ``schema``'s audit and event chains (of ``tenant``, or of all)."""
    s = f'"{check_identifier(schema)}"'
    problems: list[Problem] = []
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        for chain, entries in (
            ("audit", await _audit_entries(conn, s, tenant)),
            ("events", await _event_entries(conn, s, tenant)),
        ):
            for t in sorted(entries):
                unsequenced = [e for e in entries[t] if e.seq == 0]
                for e in unsequenced:
                    problems.append(Problem(chain, t, 0, MODIFIED, e.ref, "seq cleared"))
                problems += _check_tenant(chain, t, [e for e in entries[t] if e.seq != 0])
    return problems
