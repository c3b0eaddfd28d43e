"""Dataset ids per tenant: acme and beta each have a dataset ``street`` with an item ``it-0``.

beta creating ``street`` after acme answers OK (it is beta's own: "that id is taken" would
tell beta acme's exists), and from then on each tenant's items, vectors, exact and near
duplicates, similarity and text search, coverage, decisions, Qdrant collections and event
stream are its own. Hostile ids still answer INVALID_ARGUMENT and write nothing. Migration
0003 moves rows stored before it to the new keys.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import pytest_asyncio
from curation_support import curation_settings, fails, register, serving, stored
from labelops.curation.v1 import curation_pb2 as pb
from labelops.curation.v1 import curation_pb2_grpc
from labelops_curation.bootstrap import App, build_app
from labelops_curation.domain.embedding import EmbedInput
from labelops_eventstore import load_migrations, migrate
from labelops_grpckit import Authenticator, channel

KEYS: dict[str, dict[str, Any]] = {
    "acme-admin-0123456789": {"subject": "carol", "tenant_id": "acme", "roles": ["admin"]},
    "beta-admin-0123456789": {"subject": "bob", "tenant_id": "beta", "roles": ["admin"]},
}
Stub = curation_pb2_grpc.CurationServiceStub
DIM = 4
MIGRATIONS = load_migrations(Path(__file__).resolve().parents[2] / "migrations")


class WordsEmbedder:
    """A text embedder that also embeds queries: words hashed into 16 buckets (a text shares
    a direction with a query exactly as far as they share words)."""

    name = "words"
    model_version = "words-1"
    dim = 16
    modalities = frozenset({"text"})

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, np.float32)
        for word in text.lower().split():
            v[hashlib.sha256(word.encode()).digest()[0] % self.dim] += 1.0
        return v / (np.linalg.norm(v) or 1.0)

    async def embed(self, inputs: Sequence[EmbedInput]) -> np.ndarray:
        return np.array([self._vector(i.text or "") for i in inputs], np.float32).reshape(
            len(inputs), self.dim
        )

    async def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([self._vector(t) for t in texts], np.float32)


@pytest_asyncio.fixture(loop_scope="session")
async def app(
    pg_pool: Any, pg_schema: str, kafka_bootstrap: str, unique_name: str
) -> AsyncIterator[App]:
    settings = curation_settings(pg_schema, unique_name, kafka_bootstrap)
    ctx = build_app(
        settings,
        pool=pg_pool,
        authenticator=Authenticator(KEYS),
        embedders={"words": WordsEmbedder()},
    )
    async with ctx as app:
        yield app


@pytest_asyncio.fixture(loop_scope="session")
async def stubs(app: App) -> AsyncIterator[dict[str, Stub]]:
    async with (
        channel(app.target, api_key="acme-admin-0123456789") as a,
        channel(app.target, api_key="beta-admin-0123456789") as b,
    ):
        yield {"acme": Stub(a), "beta": Stub(b)}


def _spec(tenant: str, external_id: str, text: str, vector: list[float]) -> pb.ItemSpec:
    return pb.ItemSpec(
        external_id=external_id,
        uri=f"s3://{tenant}/{external_id}.txt",
        modality=pb.MODALITY_TEXT,
        text=text,
        embedding=vector,
        metadata={"owner": tenant},
    )


ACME_ITEMS = [
    _spec("acme", "it-0", "harbor expansion plans", [1.0, 0.0, 0.0, 0.0]),
    _spec("acme", "it-1", "harbor expansion plans draft", [0.999, 0.02, 0.0, 0.0]),
    _spec("acme", "it-2", "quarterly revenue", [0.0, 1.0, 0.0, 0.0]),
]
BETA_ITEMS = [
    # acme's external id, acme's text (so its checksum) and acme's vector: beta's own item
    # all the same, not an exact duplicate of acme's.
    _spec("beta", "it-0", "harbor expansion plans", [1.0, 0.0, 0.0, 0.0]),
    _spec("beta", "it-5", "bicycle lane", [0.0, 0.0, 1.0, 0.0]),
]


async def _items(stub: Stub) -> dict[str, pb.Item]:
    page = await stub.ListItems(pb.ListItemsRequest(dataset_id="street", page_size=100))
    return {i.external_id: i for i in page.items}


async def _two_streets(stubs: dict[str, Stub]) -> tuple[dict[str, pb.Item], dict[str, pb.Item]]:
    acme, beta = stubs["acme"], stubs["beta"]
    await acme.CreateDataset(
        pb.CreateDatasetRequest(
            dataset_id="street",
            display_name="acme street",
            embedders=["words"],
            custom_vector_dim=DIM,
        )
    )
    assert (await register(acme, "street", ACME_ITEMS)).items_registered == 3
    made = await beta.CreateDataset(
        pb.CreateDatasetRequest(
            dataset_id="street",
            display_name="beta street",
            embedders=["words"],
            custom_vector_dim=DIM,
            auto_include=True,
        )
    )
    assert (made.dataset.display_name, made.dataset.counts.total) == ("beta street", 0)
    theirs = await register(beta, "street", BETA_ITEMS, import_id="imp")
    # Not "already registered" (acme's it-0) and not an exact duplicate of acme's bytes.
    assert (theirs.items_registered, theirs.items_already_registered) == (2, 0)
    assert theirs.exact_duplicates == 0
    return await _items(acme), await _items(beta)


async def test_another_tenant_creates_its_own_dataset_of_the_same_id(
    app: App, stubs: dict[str, Stub], pg_pool: Any, pg_schema: str
) -> None:
    acme, beta = stubs["acme"], stubs["beta"]
    mine, theirs = await _two_streets(stubs)

    a = (await acme.GetDataset(pb.GetDatasetRequest(dataset_id="street"))).dataset
    b = (await beta.GetDataset(pb.GetDatasetRequest(dataset_id="street"))).dataset
    assert (a.display_name, a.auto_include, a.counts.total, a.counts.pending) == (
        "acme street",
        False,
        3,
        3,
    )
    assert (b.display_name, b.auto_include, b.counts.total, b.counts.included) == (
        "beta street",
        True,
        2,
        2,
    )
    assert a.vector_spaces == b.vector_spaces == ["custom", "words"]
    for stub, name in ((acme, "acme street"), (beta, "beta street")):
        listed = (await stub.ListDatasets(pb.ListDatasetsRequest())).datasets
        assert [(d.dataset_id, d.display_name) for d in listed] == [("street", name)]

    # Same external id, each tenant its own item (own URI, own id, own state).
    assert sorted(mine) == ["it-0", "it-1", "it-2"] and sorted(theirs) == ["it-0", "it-5"]
    assert {i.uri for i in mine.values()} == {f"s3://acme/{k}.txt" for k in mine}
    assert {i.uri for i in theirs.values()} == {f"s3://beta/{k}.txt" for k in theirs}
    assert not {i.item_id for i in mine.values()} & {i.item_id for i in theirs.values()}
    assert mine["it-0"].state == pb.CURATION_STATE_PENDING
    assert theirs["it-0"].state == pb.CURATION_STATE_INCLUDED
    got = await beta.GetItem(pb.GetItemRequest(dataset_id="street", item_id="external:it-0"))
    assert got.item.uri == "s3://beta/it-0.txt"
    filtered = await beta.ListItems(
        pb.ListItemsRequest(dataset_id="street", metadata={"owner": "acme"})
    )
    assert (list(filtered.items), filtered.total_size) == ([], 0)

    # acme's ids are not beta's to read or change.
    rows = await stored(pg_pool, pg_schema)
    for call in (
        beta.GetItem(pb.GetItemRequest(dataset_id="street", item_id=mine["it-1"].item_id)),
        beta.GetItem(pb.GetItemRequest(dataset_id="street", item_id="external:it-1")),
        beta.SearchSimilar(
            pb.SearchSimilarRequest(dataset_id="street", item_id=mine["it-2"].item_id)
        ),
        beta.CurateItems(
            pb.CurateItemsRequest(
                dataset_id="street",
                item_ids=[mine["it-0"].item_id],
                decision=pb.DECISION_EXCLUDE,
                reason=pb.CURATION_REASON_MANUAL,
            )
        ),
    ):
        await fails(call, grpc.StatusCode.NOT_FOUND)
    assert await stored(pg_pool, pg_schema) == rows

    # Creating the id again in one's own tenant is still a duplicate create.
    for stub in (acme, beta):
        await fails(
            stub.CreateDataset(pb.CreateDatasetRequest(dataset_id="street")),
            grpc.StatusCode.ALREADY_EXISTS,
            "DATASET_EXISTS",
        )
    assert await stored(pg_pool, pg_schema) == rows
    assert await serving(app.target)


async def test_searches_duplicates_coverage_and_decisions_stay_in_the_tenant(
    app: App, stubs: dict[str, Stub]
) -> None:
    acme, beta = stubs["acme"], stubs["beta"]
    mine, theirs = await _two_streets(stubs)
    mine_ids = {i.item_id for i in mine.values()}
    their_ids = {i.item_id for i in theirs.values()}

    # Near duplicates: acme's it-0 / it-1 are a group; beta's it-0 (acme's it-0 vector) has no
    # partner in beta's dataset.
    a = await acme.FindDuplicates(
        pb.FindDuplicatesRequest(dataset_id="street", vector_space="custom", threshold=0.95)
    )
    assert a.items_scanned == 3
    assert [set(g.item_ids) for g in a.groups] == [{mine["it-0"].item_id, mine["it-1"].item_id}]
    b = await beta.FindDuplicates(
        pb.FindDuplicatesRequest(
            dataset_id="street", vector_space="custom", threshold=0.95, exclude_duplicates=True
        )
    )
    assert (b.items_scanned, b.group_count, b.items_excluded) == (2, 0, 0)

    # Similarity: each tenant's neighbours are its own items only.
    near = await beta.SearchSimilar(
        pb.SearchSimilarRequest(
            dataset_id="street", item_id=theirs["it-0"].item_id, vector_space="custom"
        )
    )
    assert [r.item.item_id for r in near.results] == [theirs["it-5"].item_id]
    near = await acme.SearchSimilar(
        pb.SearchSimilarRequest(
            dataset_id="street", item_id=mine["it-0"].item_id, vector_space="custom"
        )
    )
    assert [r.item.item_id for r in near.results] == [
        mine["it-1"].item_id,
        mine["it-2"].item_id,
    ]

    # The same words find each tenant's own item of that text, and only its own items.
    query = pb.SearchTextRequest(dataset_id="street", query="harbor expansion plans")
    found = await acme.SearchText(query)
    assert found.results[0].item.item_id == mine["it-0"].item_id
    assert {r.item.item_id for r in found.results} == mine_ids
    found = await beta.SearchText(query)
    assert found.results[0].item.item_id == theirs["it-0"].item_id
    assert {r.item.item_id for r in found.results} == their_ids
    assert all(r.item.uri.startswith("s3://beta/") for r in found.results)

    # Coverage counts and names only the caller's items.
    for stub, ids in ((acme, mine_ids), (beta, their_ids)):
        cov = await stub.AnalyzeCoverage(
            pb.AnalyzeCoverageRequest(dataset_id="street", vector_space="custom", n_clusters=1)
        )
        assert cov.items_analyzed == len(ids)
        named = {c.medoid_item_id for c in cov.clusters} | set(cov.edge_case_item_ids)
        named |= {i for c in cov.clusters for i in c.sample_item_ids}
        assert named and named <= ids

    # beta excluding its it-0 leaves acme's it-0 as it was.
    done = await beta.CurateItems(
        pb.CurateItemsRequest(
            dataset_id="street",
            item_ids=[theirs["it-0"].item_id],
            decision=pb.DECISION_EXCLUDE,
            reason=pb.CURATION_REASON_MANUAL,
        )
    )
    assert done.changed == 1
    assert (await _items(acme))["it-0"].state == pb.CURATION_STATE_PENDING
    a_counts = (await acme.GetDataset(pb.GetDatasetRequest(dataset_id="street"))).dataset.counts
    b_counts = (await beta.GetDataset(pb.GetDatasetRequest(dataset_id="street"))).dataset.counts
    assert (a_counts.pending, a_counts.excluded) == (3, 0)
    assert (b_counts.included, b_counts.excluded) == (1, 1)

    # One Qdrant collection per tenant's dataset and space.
    index = app.parts.index
    assert await index.count("acme", "street", "custom") == 3
    assert await index.count("beta", "street", "custom") == 2
    assert index.collection("acme", "street", "custom") != index.collection(
        "beta", "street", "custom"
    )


async def test_each_tenant_has_its_own_dataset_stream(
    stubs: dict[str, Stub], pg_pool: Any, pg_schema: str
) -> None:
    await _two_streets(stubs)

    async def streams() -> dict[str, list[str]]:
        rows = await pg_pool.fetch(
            f'SELECT tenant_id, type FROM "{pg_schema}".events'
            " WHERE stream_id = 'datasets/street' ORDER BY tenant_id, stream_version"
        )
        out: dict[str, list[str]] = {}
        for r in rows:
            out.setdefault(r["tenant_id"], []).append(r["type"].rsplit(".", 1)[1])
        return out

    before = await streams()
    assert before["acme"][0] == before["beta"][0] == "DatasetCreated"
    assert before["acme"].count("ItemRegistered") == 3
    assert before["beta"].count("ItemRegistered") == 2
    await stubs["beta"].FindDuplicates(pb.FindDuplicatesRequest(dataset_id="street"))
    after = await streams()
    assert after["acme"] == before["acme"]
    assert after["beta"] == [*before["beta"], "DuplicatesFound"]


@pytest.mark.parametrize(
    "request_",
    [
        pb.CreateDatasetRequest(dataset_id="str\x00eet"),
        pb.CreateDatasetRequest(dataset_id="s" * 100_000),
        pb.CreateDatasetRequest(dataset_id="street", description="x\x00" * 50_000),
        pb.RegisterItemsRequest(
            dataset_id="street",
            items=[pb.ItemSpec(external_id="it\x00-0", uri="s3://b/0", modality=1)],
        ),
        pb.RegisterItemsRequest(
            dataset_id="street",
            items=[pb.ItemSpec(external_id="e" * 100_000, uri="s3://b/0", modality=1)],
        ),
        pb.ListItemsRequest(dataset_id="street", import_id="\x00"),
    ],
    ids=["nul-id", "huge-id", "huge-nul-description", "nul-external", "huge-external", "nul-imp"],
)
async def test_hostile_strings_from_either_tenant_are_invalid_argument(
    request_: Any, app: App, stubs: dict[str, Stub], pg_pool: Any, pg_schema: str
) -> None:
    await _two_streets(stubs)
    rows = await stored(pg_pool, pg_schema)
    method = type(request_).__name__.removesuffix("Request")
    for stub in stubs.values():
        call = getattr(stub, method)
        pending = call(iter([request_])) if method == "RegisterItems" else call(request_)
        _, fields = await fails(pending, grpc.StatusCode.INVALID_ARGUMENT)
        assert fields
    assert await stored(pg_pool, pg_schema) == rows
    assert await serving(app.target)


async def test_migration_0003_keys_rows_stored_before_it_by_tenant(
    pg_pool: Any, pg_schema: str
) -> None:
    """Rows of two tenants stored under 0002's keys: after 0003 they keep their tenants, the
    same dataset id and external id fit in another tenant, and only the vectors of tenants
    whose Qdrant collections were renamed (not 'default') are to be indexed again."""
    names = [n for n, _ in MIGRATIONS]
    assert names.index("0003_dataset_ids_per_tenant.sql") == 2
    await migrate(pg_pool, pg_schema, MIGRATIONS[:2])
    s = f'"{pg_schema}"'
    now = datetime.now(UTC)
    for tenant, dataset in (("acme", "old-a"), ("default", "old-d")):
        item = uuid.uuid4()
        await pg_pool.execute(
            f"INSERT INTO {s}.datasets (tenant_id, dataset_id, near_duplicate_threshold,"
            " create_time) VALUES ($1, $2, 0.95, $3)",
            tenant,
            dataset,
            now,
        )
        await pg_pool.execute(
            f"INSERT INTO {s}.items (dataset_id, item_id, external_id, uri, modality, state,"
            " create_time, update_time) VALUES ($1, $2, 'x', 's3://b/x', 1, 1, $3, $3)",
            dataset,
            item,
            now,
        )
        await pg_pool.execute(
            f"INSERT INTO {s}.vectors (dataset_id, vector_space, item_id, dim, vector, indexed)"
            " VALUES ($1, 'custom', $2, 1, $3, true)",
            dataset,
            item,
            b"\0\0\x80?",
        )
    assert await migrate(pg_pool, pg_schema, MIGRATIONS) == ["0003_dataset_ids_per_tenant.sql"]

    items = await pg_pool.fetch(f"SELECT tenant_id, dataset_id FROM {s}.items ORDER BY 1")
    assert [tuple(r) for r in items] == [("acme", "old-a"), ("default", "old-d")]
    vectors = await pg_pool.fetch(f"SELECT tenant_id, indexed FROM {s}.vectors ORDER BY 1")
    assert [tuple(r) for r in vectors] == [("acme", False), ("default", True)]
    # beta may now hold acme's dataset id and external id; acme may not hold it twice.
    await pg_pool.execute(
        f"INSERT INTO {s}.datasets (tenant_id, dataset_id, near_duplicate_threshold,"
        " create_time) VALUES ('beta', 'old-a', 0.95, $1)",
        now,
    )
    await pg_pool.execute(
        f"INSERT INTO {s}.items (tenant_id, dataset_id, item_id, external_id, uri, modality,"
        " state, create_time, update_time)"
        " VALUES ('beta', 'old-a', $1, 'x', 's3://b/x', 1, 1, $2, $2)",
        uuid.uuid4(),
        now,
    )
    with pytest.raises(Exception, match="duplicate key"):
        await pg_pool.execute(
            f"INSERT INTO {s}.items (tenant_id, dataset_id, item_id, external_id, uri,"
            " modality, state, create_time, update_time)"
            " VALUES ('acme', 'old-a', $1, 'x', 's3://b/y', 1, 1, $2, $2)",
            uuid.uuid4(),
            now,
        )
    # An item of a dataset the tenant does not have is refused (composite foreign key).
    with pytest.raises(Exception, match="foreign key"):
        await pg_pool.execute(
            f"INSERT INTO {s}.items (tenant_id, dataset_id, item_id, external_id, uri,"
            " modality, state, create_time, update_time)"
            " VALUES ('beta', 'old-d', $1, 'x', 's3://b/x', 1, 1, $2, $2)",
            uuid.uuid4(),
            now,
        )
