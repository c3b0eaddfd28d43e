"""Fuzz every public gRPC method of the six services with generated and byte-mutated requests.

Starts the six services in this process on fresh schemas and topics (``local_system``), builds
tenant A's world (tests/security_support.py), then sends ``--per-service`` requests to each
service, spread over its methods, as tenant A's admin (the caller that reaches deepest):

- half *generated*: a request built from A's ids with random fields set to hostile values
  (NUL and control characters, 100k-character strings, empty strings, extreme and negative
  numbers, unknown enum values, long repeated fields);
- half *byte-mutated*: a valid request's bytes with bytes flipped, inserted, deleted,
  truncated, or random garbage appended.

Any INTERNAL, UNKNOWN or DATA_LOSS answer is a failure (bad input must get a clear error), and
every service's health must still be SERVING at the end. Prints a table of status codes per
service; exit 1 on a failure::

    python tools/fuzz_grpc.py                      # 100,000 requests per service (make fuzz)
    python tools/fuzz_grpc.py --per-service 2000   # the quick run tests/test_fuzz.py makes
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import grpc  # noqa: E402
from google.protobuf.descriptor import FieldDescriptor as F  # noqa: E402
from google.protobuf.message import Message  # noqa: E402
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402
from security_support import callers, repeated, request_for, seed_tenant_a, services  # noqa: E402

BAD = grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS
HOSTILE_STRINGS = (
    "",
    "\x00",
    "a\x00b",
    "\x07\x1b[31m",
    "x" * 100_000,
    "🙂" * 5000,
    "../../../../etc/passwd",
    "'; DROP TABLE events; --",
    "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
    "http://169.254.169.254/latest/meta-data/",
)
INTS = (0, -1, 1, 2**31 - 1, -(2**31), 2**63 - 1, -(2**63))
UINTS = (0, 1, 2**32 - 1, 2**63 - 1, 2**64 - 1)
DOUBLES = (0.0, -1.0, 1e308, -1e308, float("nan"), float("inf"), 5e-324)


def _mutate_fields(rng: random.Random, msg: Message, depth: int = 0) -> None:
    for f in msg.DESCRIPTOR.fields:
        if rng.random() > 0.35:
            continue
        try:
            _set_hostile(rng, msg, f, depth)
        except (ValueError, TypeError, OverflowError):
            continue


def _hostile_scalar(rng: random.Random, f: Any) -> Any:
    t = f.type
    if t == F.TYPE_STRING:
        return rng.choice(HOSTILE_STRINGS)
    if t == F.TYPE_BYTES:
        return rng.randbytes(rng.choice((0, 1, 100, 70_000)))
    if t == F.TYPE_BOOL:
        return rng.random() < 0.5
    if t in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
        v = rng.choice(DOUBLES)
        return v if t == F.TYPE_DOUBLE or abs(v) < 3e38 or v != v else 3e38
    if t == F.TYPE_ENUM:
        return rng.choice((0, 1, 2, 99, -5, 2**31 - 1))
    if t in (F.TYPE_UINT64, F.TYPE_FIXED64):
        return rng.choice(UINTS)
    if t in (F.TYPE_UINT32, F.TYPE_FIXED32):
        return rng.choice((0, 1, 2**32 - 1))
    if t in (F.TYPE_INT32, F.TYPE_SINT32, F.TYPE_SFIXED32):
        return rng.choice((0, -1, 2**31 - 1, -(2**31)))
    return rng.choice(INTS)


def _set_hostile(rng: random.Random, msg: Message, f: Any, depth: int) -> None:
    if f.type == F.TYPE_MESSAGE:
        if f.message_type.GetOptions().map_entry:
            target = getattr(msg, f.name)
            key_f = f.message_type.fields_by_name["key"]
            val_f = f.message_type.fields_by_name["value"]
            for _ in range(rng.choice((1, 3, 300)) if depth == 0 else 1):
                key = _hostile_scalar(rng, key_f)
                if val_f.type == F.TYPE_MESSAGE:
                    _mutate_fields(rng, target[key], depth + 1)
                else:
                    target[key] = _hostile_scalar(rng, val_f)
            return
        if depth > 3:
            return
        if repeated(f):
            target = getattr(msg, f.name)
            # Many entries only at the top, and then mostly empty: a request stays under the
            # transport's limit often enough to reach the validator and the handler.
            many = (0, 1, 2, 50, 11_000) if depth == 0 else (0, 1, 2)
            count = rng.choice(many)
            for k in range(count):
                entry = target.add()
                if k < 3:
                    _mutate_fields(rng, entry, depth + 1)
        else:
            _mutate_fields(rng, getattr(msg, f.name), depth + 1)
        return
    if repeated(f):
        target = getattr(msg, f.name)
        count = rng.choice((1, 3, 11_000))
        value = _hostile_scalar(rng, f)
        if count > 3 and isinstance(value, (str, bytes)):
            value = value[:8]
        for _ in range(count):
            target.append(value)
        return
    setattr(msg, f.name, _hostile_scalar(rng, f))


def _mutate_bytes(rng: random.Random, raw: bytes) -> bytes:
    b = bytearray(raw)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(5)
        if op == 0 and b:
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        elif op == 1:
            b.insert(rng.randrange(len(b) + 1), rng.randrange(256))
        elif op == 2 and b:
            del b[rng.randrange(len(b))]
        elif op == 3 and b:
            del b[rng.randrange(len(b)) :]
        else:
            b += rng.randbytes(rng.randint(1, 64))
    return bytes(b)


def fuzz_request(rng: random.Random, method: Any, ids: Mapping[str, str], service: str) -> bytes:
    base = request_for(method, ids, service)
    if rng.random() < 0.5:
        _mutate_fields(rng, base)
        try:
            return base.SerializeToString()
        except Exception:  # a value protobuf itself refuses to encode: mutate bytes instead
            base = request_for(method, ids, service)
    return _mutate_bytes(rng, base.SerializeToString())


async def _send(ch: grpc.aio.Channel, method: Any, raw: bytes) -> grpc.StatusCode:
    path = f"/{method.containing_service.full_name}/{method.name}"
    ident = lambda b: b  # noqa: E731
    try:
        if method.client_streaming:

            async def one() -> Any:
                yield raw

            if method.server_streaming:
                call = ch.stream_stream(path, request_serializer=ident, response_deserializer=ident)
                async for _ in call(one(), timeout=5):
                    break
            else:
                call = ch.stream_unary(path, request_serializer=ident, response_deserializer=ident)
                await call(one(), timeout=10)
        elif method.server_streaming:
            call = ch.unary_stream(path, request_serializer=ident, response_deserializer=ident)
            n = 0
            async for _ in call(raw, timeout=10):
                n += 1
                if n > 5:
                    break
        else:
            call = ch.unary_unary(path, request_serializer=ident, response_deserializer=ident)
            await call(raw, timeout=10)
        return grpc.StatusCode.OK
    except grpc.aio.AioRpcError as exc:
        return exc.code()


async def fuzz_service(
    target: str,
    service: str,
    key: str,
    ids: Mapping[str, str],
    n: int,
    seed: int,
    concurrency: int = 16,
) -> tuple[Counter[str], list[str]]:
    from labelops_grpckit import channel

    methods = [m for svc, d in services() if svc == service for m in d.methods]
    codes: Counter[str] = Counter()
    bad: list[str] = []
    async with channel(target, api_key=key) as ch:

        async def worker(w: int) -> None:
            rng = random.Random(seed * 1000 + w)
            for i in range(w, n, concurrency):
                method = methods[i % len(methods)]
                raw = fuzz_request(rng, method, ids, service)
                code = await _send(ch, method, raw)
                codes[code.name] += 1
                if code in BAD and len(bad) < 20:
                    bad.append(f"{method.full_name} {code.name} request={raw[:120]!r}")

        await asyncio.gather(*(worker(w) for w in range(concurrency)))
        health = health_pb2_grpc.HealthStub(ch)
        status = (await health.Check(health_pb2.HealthCheckRequest(), timeout=10)).status
        if status != health_pb2.HealthCheckResponse.SERVING:
            bad.append(f"{service}: health {status} after fuzzing")
    return codes, bad


@contextlib.asynccontextmanager
async def fuzzed_system(kafka_bootstrap: str, pg_dsn: str, tag: str) -> AsyncIterator[Any]:
    """The six services on fresh schemas and topics with tenant A's world built: yields
    ``(system, world, people)``; the schemas are dropped afterwards."""
    import asyncpg
    from labelops_demo.system import SERVICES, local_system
    from labelops_grpckit import Authenticator

    people = callers()
    auth = Authenticator({c.key: dict(c.fields) for c in people.values()})
    schemas = {s: f"{tag}_{uuid.uuid4().hex[:8]}_{s}" for s in SERVICES}
    conn = await asyncpg.connect(pg_dsn)
    for name in schemas.values():
        await conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        with tempfile.TemporaryDirectory() as tmp:
            async with local_system(
                kafka_bootstrap=kafka_bootstrap,
                pg_dsn=pg_dsn,
                data_dir=Path(tmp),
                schemas=schemas,
                prefix=f"{tag}{uuid.uuid4().hex[:6]}-",
                authenticator=auth,
                overrides=fuzz_overrides(),
            ) as system:
                world = await seed_tenant_a(
                    system.targets, people["a_admin"].key, people["vendor_x"].key
                )
                yield system, world, people
    finally:
        for name in schemas.values():
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        await conn.close()


async def run(per_service: int, seed: int, kafka_bootstrap: str, pg_dsn: str) -> dict[str, Any]:
    from labelops_demo.system import SERVICES

    report: dict[str, Any] = {"per_service": per_service, "seed": seed, "services": {}}
    async with fuzzed_system(kafka_bootstrap, pg_dsn, "fuzz") as (system, world, people):
        for service in SERVICES:
            t0 = time.monotonic()
            codes, bad = await fuzz_service(
                system.targets[service],
                service,
                people["a_admin"].key,
                world.ids,
                per_service,
                seed,
            )
            report["services"][service] = {
                "requests": sum(codes.values()),
                "seconds": round(time.monotonic() - t0, 1),
                "codes": dict(codes.most_common()),
                "failures": bad,
            }
    return report


def fuzz_overrides() -> dict[str, dict[str, Any]]:
    """Settings of the fuzzed system: rate limits out of the way (they would answer most
    calls RESOURCE_EXHAUSTED before a handler saw them)."""
    from labelops_servicekit import ServiceSettings

    fields = ServiceSettings.model_fields
    extra: dict[str, Any] = {}
    if "rate_limit_per_s" in fields:
        extra["rate_limit_per_s"] = 1e9
    if "rate_limit_burst" in fields:
        extra["rate_limit_burst"] = 10**9
    return {
        s: dict(extra) for s in ("ontology", "curation", "routing", "prelabel", "qa", "datasets")
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--per-service", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=17)
    p.add_argument("--kafka", default="127.0.0.1:29092")
    p.add_argument("--pg", default="postgresql://labelops@127.0.0.1:55432/labelops")
    p.add_argument("--json", type=Path, help="write the report here too")
    args = p.parse_args(argv)
    report = asyncio.run(run(args.per_service, args.seed, args.kafka, args.pg))
    failed = False
    for service, r in report["services"].items():
        codes = ", ".join(f"{k} {v}" for k, v in r["codes"].items())
        print(f"{service:9} {r['requests']:>7} requests in {r['seconds']:>6}s: {codes}")
        for line in r["failures"]:
            failed = True
            print(f"  FAIL {line}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
