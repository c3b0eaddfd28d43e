"""ServiceRuntime: a failing worker is restarted while the API serves; stop stops everything."""

from __future__ import annotations

import asyncio

from labelops_grpckit import GrpcServer, ServiceRuntime, Worker
from labelops_testkit.grpc import serving


class Flaky:
    """Fails its first ``failures`` runs, then runs until stopped."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.runs = 0
        self.stopped = asyncio.Event()
        self.running = asyncio.Event()

    async def run(self) -> None:
        self.runs += 1
        if self.runs <= self.failures:
            raise RuntimeError(f"boom {self.runs}")
        self.running.set()
        await self.stopped.wait()

    async def stop(self) -> None:
        self.stopped.set()


async def test_failing_worker_is_restarted_and_the_api_keeps_serving() -> None:
    flaky = Flaky(failures=2)
    runtime = ServiceRuntime(
        GrpcServer(host="127.0.0.1", port=0),
        [Worker("flaky", flaky.run, flaky.stop)],
        restart_base_s=0.01,
    )
    await runtime.start()
    try:
        assert await serving(runtime.target)
        await asyncio.wait_for(flaky.running.wait(), timeout=5)
        assert flaky.runs == 3
    finally:
        await runtime.stop()
    assert flaky.stopped.is_set()


async def test_a_worker_that_ignores_stop_is_cancelled(monkeypatch) -> None:
    import labelops_grpckit.runtime as rt

    monkeypatch.setattr(rt, "STOP_TIMEOUT_S", 0.1)
    cancelled = asyncio.Event()

    async def stubborn() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def ignore() -> None:
        return None

    runtime = ServiceRuntime(GrpcServer(host="127.0.0.1", port=0), [Worker("s", stubborn, ignore)])
    await runtime.start()
    await asyncio.sleep(0.05)
    await runtime.stop()
    assert cancelled.is_set()
