"""Sorted Parquet writing as a pipeline over row groups (pure: bytes in memory, threads).

Sorting means a random-access gather of every column (``take``), which costs about two thirds
of the Parquet encoding itself. So the gather of row group k+1, the counts and the sha256 of
row group k-1 run on other threads while row group k is encoded (Arrow and hashlib release the
GIL); see ``_write_sorted`` and ``bench/bench_datasets.py``. ``materialize`` owns the settings
and passes them in (the row-group size, the writer options).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import queue
import threading
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from labelops_datasets.domain.rows import SCHEMA, SORT_KEYS


def _duplicate_in(part: pa.Table) -> dict[str, Any] | None:
    """The first repeated ``SORT_KEYS`` value within a sorted slice, or None."""
    n = part.num_rows
    if n < 2:
        return None
    same = None
    for key in SORT_KEYS:
        column = part.column(key)
        eq = pc.equal(column.slice(1), column.slice(0, n - 1))
        same = eq if same is None else pc.and_(same, eq)
    if not pc.any(same).as_py():
        return None
    at = pc.index(same, True).as_py() + 1
    return {k: part.column(k)[at].as_py() for k in SORT_KEYS}


def _row_key(part: pa.Table, i: int) -> tuple[Any, ...]:
    return tuple(part.column(k)[i].as_py() for k in SORT_KEYS)


def _key_dict(key: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(SORT_KEYS, key, strict=True))


def _file_slices(
    num_rows: int, rows_per_file: int, row_group_size: int
) -> list[list[tuple[int, int]]]:
    """Per file, the ``(offset, length)`` of its row groups in the sorted order."""
    files: list[list[tuple[int, int]]] = []
    for start in range(0, max(num_rows, 1), rows_per_file):
        end = min(start + rows_per_file, num_rows)
        files.append(
            [(s, min(s + row_group_size, end) - s) for s in range(start, end, row_group_size)]
        )
    return files


class _Sink:
    """File-like sink for the Parquet writer; the file is hashed and assembled on ``worker``.

    The writer hands over each page as ``bytes``. After each row group the new pages go to
    ``worker`` (a single thread, so in order), which feeds them to sha256 and copies them into
    the file's buffer: both passes over the file overlap the encoding instead of following it.
    """

    closed = False

    def __init__(self, worker: ThreadPoolExecutor) -> None:
        self._worker = worker
        self._sha = hashlib.sha256()
        self._buffer = io.BytesIO()
        self._pages: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> int:
        self._pages.append(data if isinstance(data, bytes) else bytes(data))
        self._size += len(data)
        return len(data)

    def tell(self) -> int:
        return self._size

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def drain(self) -> None:
        """Hand the pages written since the last call to the worker."""
        pages, self._pages = self._pages, []
        self._worker.submit(_absorb, self._sha, self._buffer, pages)

    def finish(self) -> Future[tuple[bytes, str]]:
        """The file's bytes and their sha256 hex digest, once the worker is through."""
        self.drain()
        # BytesIO hands over its buffer without a copy when nothing else references it.
        return self._worker.submit(lambda: (self._buffer.getvalue(), self._sha.hexdigest()))


def _absorb(sha: Any, buffer: io.BytesIO, pages: list[bytes]) -> None:
    for page in pages:
        sha.update(page)  # releases the GIL for all but the tiny page headers
        buffer.write(page)


def _take(table: pa.Table, indices: pa.Array, pool: ThreadPoolExecutor, parts: int) -> pa.Table:
    """``table.take(indices)``, the columns split over ``parts`` threads (this one included).

    Same arrays as one ``take`` (the same kernel runs per column); only used where threads
    would otherwise idle: the first row group, which the writer has to wait for.
    """
    if parts < 2:
        return table.take(indices)
    names = table.column_names
    groups = [names[i::parts] for i in range(parts)]  # interleaved: spreads the heavy columns
    futures = [pool.submit(table.select(group).take, indices) for group in groups[1:]]
    taken = [table.select(groups[0]).take(indices), *(f.result() for f in futures)]
    columns = {name: t.column(name) for t in taken for name in t.column_names}
    return pa.Table.from_arrays([columns[name] for name in names], schema=table.schema)


class _Lane:
    """One worker thread that runs urgent work first and side work in its spare time.

    The gather of the next row group is urgent (the writer will wait for it); the counts are
    not. A plain executor runs them in submission order, so a count submitted at the wrong
    moment delays a gather, and counts left for the end run after the last row group is
    encoded. Here side work starts only when no urgent work is queued, and finishes in the
    time the lane would otherwise idle.
    """

    def __init__(self) -> None:
        self._queue: queue.PriorityQueue[tuple[int, int, Any, tuple[Any, ...], Future[Any]]]
        self._queue = queue.PriorityQueue()
        self._order = itertools.count()
        self._thread = threading.Thread(target=self._run, name="materialize-lane", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any, urgent: bool = True) -> Future[Any]:
        future: Future[Any] = Future()
        self._queue.put((0 if urgent else 1, next(self._order), fn, args, future))
        return future

    def _run(self) -> None:
        while True:
            _, _, fn, args, future = self._queue.get()
            if fn is None:
                return
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args))
                except BaseException as e:  # handed to whoever waits on the future
                    future.set_exception(e)
            del fn, args, future  # drop references now (e.g. a row group to free)

    def __enter__(self) -> _Lane:
        return self

    def __exit__(self, *exc: object) -> None:
        # Lowest priority: everything already queued runs first (or is cancelled on error).
        if exc[0] is not None:
            self._cancel_queued()
        self._queue.put((2, next(self._order), None, (), Future()))
        self._thread.join()

    def _cancel_queued(self) -> None:
        pending = []
        while True:
            try:
                pending.append(self._queue.get_nowait())
            except queue.Empty:
                break
        for item in pending:
            item[4].cancel()


def _write_sorted(
    table: pa.Table,
    order: pa.Array,
    rows_per_file: int,
    *,
    pool: ThreadPoolExecutor,
    workers: int,
    lane: _Lane,
    hasher: ThreadPoolExecutor,
    side_tasks: list[Callable[[], Any]],
    row_group_size: int,
    writer_options: Mapping[str, Any],
) -> tuple[list[tuple[Future[tuple[bytes, str]], int]], list[Future[Any]]]:
    """Per file (its bytes and sha256, its rows), rows gathered in ``order``; side results.

    A pipeline over row groups: ``lane`` gathers (``take``) and checks row group k+1 while this
    thread encodes row group k, and ``hasher`` hashes and copies out the pages of row group
    k-1. Encoding is the slowest stage and a gather takes ~2/3 of it, so the lane runs the
    ``side_tasks`` in the remaining third rather than a third thread taking CPU from the
    encoder. The first row group has nothing to overlap with: this thread and the
    ``workers`` of ``pool`` gather it together. Duplicate keys (see ``materialize``) are
    checked within a row group on the lane and across row-group boundaries here, where the
    groups come in order. ``row_group_size`` and ``writer_options``: ``materialize``'s.
    """

    def gather(offset: int, length: int, parts: int = 1) -> pa.Table:
        part = _take(table, order.slice(offset, length), pool, parts)
        duplicate = _duplicate_in(part)
        if duplicate is not None:
            raise ValueError(f"duplicate rows for sort key {duplicate}")
        return part

    settings = dict(writer_options)
    files = _file_slices(table.num_rows, rows_per_file, row_group_size)
    slices = deque(s for groups in files for s in groups)
    side: list[Future[Any]] | None = None
    pending: Future[pa.Table] | None = None
    last_key: tuple[Any, ...] | None = None
    written: list[tuple[Future[tuple[bytes, str]], int]] = []
    for groups in files:
        sink = _Sink(hasher)
        rows = 0
        with pq.ParquetWriter(sink, SCHEMA, **settings) as writer:
            for _ in groups:
                if pending is None:
                    part = gather(*slices.popleft(), parts=workers + 1)
                else:
                    part = pending.result()
                pending = lane.submit(gather, *slices.popleft()) if slices else None
                if side is None:
                    # Queued once the first gather is: the lane runs them whenever no gather
                    # is waiting for it.
                    side = [lane.submit(task, urgent=False) for task in side_tasks]
                first = _row_key(part, 0)
                if first == last_key:
                    raise ValueError(f"duplicate rows for sort key {_key_dict(first)}")
                last_key = _row_key(part, part.num_rows - 1)
                writer.write_table(part, row_group_size=row_group_size)
                rows += part.num_rows
                sink.drain()
                # Freed on the lane, between two gathers: its allocator then reuses the memory
                # for the next gather at once instead of returning it to the OS and faulting
                # it back in (which costs as much as the gather itself on some VMs).
                holder = [part]
                del part
                lane.submit(holder.clear)
        written.append((sink.finish(), rows))
    if side is None:  # no row group at all: an empty version
        side = [lane.submit(task, urgent=False) for task in side_tasks]
    return written, side
