"""A small synchronous client of ``labelops.datasets.v1.DatasetService``.

Plain blocking calls (what a training script or notebook wants); every RPC is one gRPC call,
errors surface as ``grpc.RpcError`` with the service's status code and details.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import pyarrow as pa
from labelops.datasets.v1 import datasets_pb2 as pb
from labelops.datasets.v1 import datasets_pb2_grpc

if TYPE_CHECKING:
    import datasets
    import pandas

API_KEY_HEADER = "x-api-key"
_MAX_MESSAGE = 64 * 1024 * 1024

FORMATS = {
    "coco": pb.EXPORT_FORMAT_COCO,
    "yolo": pb.EXPORT_FORMAT_YOLO,
    "label_studio": pb.EXPORT_FORMAT_LABEL_STUDIO,
    "hf_parquet": pb.EXPORT_FORMAT_HF_PARQUET,
}


class Client:
    """Connection to the datasets service (``target`` "host:port")."""

    def __init__(
        self,
        target: str = "127.0.0.1:50056",
        *,
        api_key: str | None = None,
        timeout: float = 600.0,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        options = [
            ("grpc.max_receive_message_length", _MAX_MESSAGE),
            ("grpc.max_send_message_length", _MAX_MESSAGE),
        ]
        self._channel = (
            grpc.secure_channel(target, credentials, options)
            if credentials is not None
            else grpc.insecure_channel(target, options)
        )
        self.stub = datasets_pb2_grpc.DatasetServiceStub(self._channel)
        self.timeout = timeout
        self.metadata: tuple[tuple[str, str], ...] = ((API_KEY_HEADER, api_key),) if api_key else ()

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, request: Any) -> Any:
        return getattr(self.stub, method)(request, timeout=self.timeout, metadata=self.metadata)

    def dataset(self, dataset_id: str) -> Dataset:
        return Dataset(self, dataset_id)


class Dataset:
    def __init__(self, client: Client, dataset_id: str) -> None:
        self.client = client
        self.id = dataset_id

    def versions(self) -> list[pb.DatasetVersion]:
        """Every version, oldest first."""
        out: list[pb.DatasetVersion] = []
        token = ""
        while True:
            resp = self.client.call(
                "ListDatasetVersions",
                pb.ListDatasetVersionsRequest(dataset_id=self.id, page_token=token),
            )
            out.extend(resp.versions)
            token = resp.next_page_token
            if not token:
                return out

    def version(self, number: int = 0) -> Version:
        """Version ``number`` (0 = the latest)."""
        resp = self.client.call(
            "GetDatasetVersion", pb.GetDatasetVersionRequest(dataset_id=self.id, version=number)
        )
        return Version(self.client, resp.version, resp.manifest_json)

    def create_version(
        self,
        *,
        project_id: str = "",
        cut: pb.Cut | None = None,
        filter: pb.Filter | None = None,
        ontology_version: str = "",
        description: str = "",
        request_id: str = "",
    ) -> Version:
        """A new version (default cut: everything the service has consumed)."""
        resp = self.client.call(
            "CreateDatasetVersion",
            pb.CreateDatasetVersionRequest(
                dataset_id=self.id,
                project_id=project_id,
                cut=cut or pb.Cut(latest=True),
                filter=filter,
                ontology_version=ontology_version,
                description=description,
                request_id=request_id,
            ),
        )
        return self.version(resp.version.version)

    def diff(self, from_version: int, to_version: int) -> tuple[pb.DiffSummary, list[Any]]:
        """(summary, every LabelChange) between two versions."""
        changes: list[Any] = []
        token = ""
        while True:
            resp = self.client.call(
                "DiffDatasetVersions",
                pb.DiffDatasetVersionsRequest(
                    dataset_id=self.id,
                    from_version=from_version,
                    to_version=to_version,
                    page_size=1000,
                    page_token=token,
                ),
            )
            changes.extend(resp.changes)
            token = resp.next_page_token
            if not token:
                return resp.summary, changes


class Version:
    """One immutable version: its record, manifest and rows."""

    def __init__(self, client: Client, record: pb.DatasetVersion, manifest_json: bytes) -> None:
        if hashlib.sha256(manifest_json).hexdigest() != record.manifest_sha256:
            raise ValueError(f"manifest of {record.name} does not match its sha256")
        self.client = client
        self.record = record
        self.manifest: dict[str, Any] = json.loads(manifest_json)

    @property
    def number(self) -> int:
        return int(self.record.version)

    @property
    def content_sha256(self) -> str:
        """The hash of the version's cut (its data files), independent of its number and of
        time: two versions of the same cut have the same one (reproducibility in one hash)."""
        return self.record.content_sha256 or str(self.manifest.get("content_sha256", ""))

    def _ipc(self, split: str, columns: Sequence[str]) -> Iterator[bytes]:
        for message in self.client.call(
            "StreamDatasetVersion",
            pb.StreamDatasetVersionRequest(
                dataset_id=self.record.dataset_id,
                version=self.record.version,
                split=split,
                columns=list(columns),
            ),
        ):
            yield message.arrow_ipc

    def to_arrow(self, split: str = "", columns: Sequence[str] = ()) -> pa.Table:
        """The rows (optionally one split / some columns) as a ``pyarrow.Table``."""
        data = b"".join(self._ipc(split, columns))
        table = pa.ipc.open_stream(pa.BufferReader(data)).read_all()
        if not split and not columns and table.num_rows != self.record.rows:
            raise ValueError(
                f"{self.record.name}: streamed {table.num_rows} rows, manifest says "
                f"{self.record.rows}"
            )
        return table

    def to_pandas(self, split: str = "", columns: Sequence[str] = ()) -> pandas.DataFrame:
        return self.to_arrow(split, columns).to_pandas()

    def to_hf(self, split: str = "", columns: Sequence[str] = ()) -> datasets.Dataset:
        """A Hugging Face ``datasets.Dataset`` over the rows (no copy of the Arrow data)."""
        import datasets

        return datasets.Dataset(self.to_arrow(split, columns))

    def export(self, format: str, dest: str | Path) -> list[Path]:
        """Write the export (``coco``, ``yolo``, ``label_studio``, ``hf_parquet``) under
        ``dest``; every file is checked against the sha256 the service announced."""
        fmt = FORMATS.get(format)
        if fmt is None:
            raise ValueError(f"format must be one of {sorted(FORMATS)}")
        dest = Path(dest)
        expected: dict[str, str] = {}
        written: dict[str, Any] = {}
        try:
            for message in self.client.call(
                "ExportDatasetVersion",
                pb.ExportDatasetVersionRequest(
                    dataset_id=self.record.dataset_id, version=self.record.version, format=fmt
                ),
            ):
                if message.WhichOneof("part") == "header":
                    expected = {f.path: f.sha256 for f in message.header.files}
                    continue
                path = message.chunk.path
                if path not in expected or Path(path).is_absolute() or ".." in Path(path).parts:
                    raise ValueError(f"unexpected export path {path!r}")
                if path not in written:
                    target = dest / path
                    target.parent.mkdir(parents=True, exist_ok=True)
                    written[path] = (target.open("wb"), hashlib.sha256())
                f, h = written[path]
                f.write(message.chunk.data)
                h.update(message.chunk.data)
        finally:
            for f, _ in written.values():
                f.close()
        for path, sha in expected.items():
            if path not in written:  # an empty file sends no chunk
                (dest / path).parent.mkdir(parents=True, exist_ok=True)
                (dest / path).write_bytes(b"")
                got = hashlib.sha256(b"").hexdigest()
            else:
                got = written[path][1].hexdigest()
            if got != sha:
                raise ValueError(f"export file {path} does not match its sha256")
        return [dest / p for p in sorted(expected)]
