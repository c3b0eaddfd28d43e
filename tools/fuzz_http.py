"""Fuzz every HTTP route of the gateway with schemathesis-generated and byte-mutated requests.

Starts the six services in this process on fresh schemas and topics (``local_system``), builds
tenant A's world through gRPC (tests/security_support.py), starts the gateway in front of them
and sends ``--requests`` requests as tenant A's admin:

- half *generated* by schemathesis from the gateway's own OpenAPI document, valid ones
  (positive mode) and ones that break the schema (negative mode), spread over every operation
  but the event stream (a response that never ends);
- the rest *byte-mutated*: a generated request's JSON body or path with bytes flipped,
  inserted, deleted, truncated, NUL and control characters spliced in, or garbage appended.

Any 5xx is a failure (bad input must get a clear 4xx), and ``/readyz`` must still answer 200
(every backend SERVING) at the end. Prints the status codes; exit 1 on a failure::

    python tools/fuzz_http.py                   # 100,000 requests (make fuzz)
    python tools/fuzz_http.py --requests 2000   # a quick run
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import sys
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tools"))

import httpx  # noqa: E402
from fuzz_grpc import fuzzed_system  # noqa: E402

EXCLUDED = ["/v1/events/stream"]
JUNK = (b"\x00", b"\x01\x02", b"\xff\xfe", b"\x1b[31m", b"{", b"}", b'"', b"\\u0000", b"\xc3\x28")


def explore(app: Any, examples: int, headers: dict[str, str], budget: int) -> dict[str, Any]:
    """schemathesis over every operation, positive and negative; at most ``budget`` calls.
    Returns the status codes, failures and some (path, body) samples for the mutation pass."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path=EXCLUDED)
    codes: Counter[str] = Counter()
    failures: list[str] = []
    samples: list[tuple[str, str, bytes | None]] = []
    now: dict[str, Any] = {}  # the operation and mode being run (read by ``run``)
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            now.update(label=f"{operation.label} [{mode.value}]", positive=mode.value == "positive")

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def run(case: schemathesis.Case) -> None:
                if sum(codes.values()) >= budget:
                    return
                # One credential only (two are refused before anything else is looked at).
                case.headers = {
                    k: v
                    for k, v in (case.headers or {}).items()
                    if k.lower() not in ("authorization", "x-api-key")
                }
                response = case.call(headers=headers)
                codes[str(response.status_code)] += 1
                if response.status_code >= 500 and len(failures) < 20:
                    failures.append(f"{now['label']} {response.status_code}: {response.text[:200]}")
                if len(samples) < 2000 and (response.status_code < 300 or now["positive"]):
                    body = _body_bytes(case.body)
                    samples.append((case.method.upper(), case.formatted_path, body))

            with contextlib.suppress(Unsatisfiable):
                run()
    return {"codes": codes, "failures": failures, "samples": samples}


def _body_bytes(body: Any) -> bytes | None:
    """A generated body as JSON bytes; None when the case has none (schemathesis' NotSet)."""
    if body is None or type(body).__name__ == "NotSet":
        return None
    try:
        return json.dumps(body).encode()
    except (TypeError, ValueError):
        return None


def mutate(rng: random.Random, raw: bytes) -> bytes:
    """One byte-level mutation of ``raw``."""
    b = bytearray(raw or b"{}")
    op = rng.randrange(6)
    i = rng.randrange(len(b) + 1)
    if op == 0 and b:
        b[min(i, len(b) - 1)] ^= 1 << rng.randrange(8)
    elif op == 1:
        b[i:i] = rng.choice(JUNK)
    elif op == 2 and b:
        del b[i : i + rng.randrange(1, 8)]
    elif op == 3:
        b = b[:i]
    elif op == 4:
        b += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
    else:
        b[i:i] = b"\x00" * rng.randrange(1, 4) + "🙂".encode()
    return bytes(b)


async def mutated(
    app: Any,
    samples: list[tuple[str, str, bytes | None]],
    n: int,
    seed: int,
    headers: dict[str, str],
) -> dict[str, Any]:
    """``n`` byte-mutated requests built from ``samples`` (bodies, else paths)."""
    rng = random.Random(seed)
    codes: Counter[str] = Counter()
    failures: list[str] = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:

        async def worker(w: int) -> None:
            for _ in range(w, n, 8):
                method, path, body = rng.choice(samples)
                if body is not None and rng.random() < 0.7:
                    content, url = mutate(rng, body), path
                else:
                    content = body
                    url = mutate(rng, path.encode()).decode("latin-1")
                    url = "/" + "".join(c if 32 < ord(c) < 127 else "%00" for c in url)
                try:
                    r = await client.request(
                        method,
                        url,
                        content=content,
                        headers={**headers, "content-type": "application/json"},
                    )
                    code = r.status_code
                except httpx.InvalidURL:
                    code = 400  # refused by the client itself: never reached the gateway
                codes[str(code)] += 1
                if code >= 500 and len(failures) < 20:
                    failures.append(f"{method} {url[:120]} body={content!r:.120}: {code}")

        await asyncio.gather(*(worker(w) for w in range(8)))
        ready = await client.get("/readyz")
        if ready.status_code != 200:
            failures.append(f"/readyz {ready.status_code} after fuzzing: {ready.text[:200]}")
    return {"codes": codes, "failures": failures}


async def run(requests: int, seed: int, kafka_bootstrap: str, pg_dsn: str) -> dict[str, Any]:
    from labelops_demo.system import SERVICES
    from labelops_gateway.bootstrap import create_app
    from labelops_gateway.config import Settings
    from labelops_grpckit import Authenticator
    from schemathesis.python import asgi

    async with fuzzed_system(kafka_bootstrap, pg_dsn, "fuzzh") as (system, _, people):
        keys = {c.key: dict(c.fields) for c in people.values()}
        headers = {"x-api-key": people["a_admin"].key}
        settings = Settings(
            **{f"{s}_target": t for s, t in system.targets.items()},
            kafka_bootstrap=kafka_bootstrap,
            event_topics=[system.topic(s) for s in SERVICES],
            rate_limit_per_s=0,
        )

        def gateway() -> Any:
            return create_app(settings, authenticator=Authenticator(keys))

        t0 = time.monotonic()
        n_ops = len(gateway().openapi()["paths"])  # every path, each with its methods
        examples = max(1, math.ceil(requests / 2 / max(1, 2 * n_ops)))
        try:
            gen = await asyncio.to_thread(explore, gateway(), examples, headers, requests)
        finally:
            await asyncio.to_thread(asgi.shutdown_lifespans)
        app = gateway()
        async with app.router.lifespan_context(app):
            rest = requests - sum(gen["codes"].values())
            mut = await mutated(app, gen["samples"], rest, seed, headers)
        seconds = round(time.monotonic() - t0, 1)
    codes = gen["codes"] + mut["codes"]
    return {
        "requests": sum(codes.values()),
        "generated": sum(gen["codes"].values()),
        "mutated": sum(mut["codes"].values()),
        "seconds": seconds,
        "codes": dict(codes.most_common()),
        "failures": gen["failures"] + mut["failures"],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=17)
    p.add_argument("--kafka", default="127.0.0.1:29092")
    p.add_argument("--pg", default="postgresql://labelops@127.0.0.1:55432/labelops")
    p.add_argument("--json", type=Path, help="write the report here too")
    args = p.parse_args(argv)
    # schemathesis / hypothesis warn about their own internals on every operation.
    warnings.filterwarnings("ignore")
    r = asyncio.run(run(args.requests, args.seed, args.kafka, args.pg))
    codes = ", ".join(f"{k} {v}" for k, v in r["codes"].items())
    print(
        f"gateway {r['requests']:>7} requests ({r['generated']} generated, {r['mutated']}"
        f" mutated) in {r['seconds']}s: {codes}"
    )
    for line in r["failures"]:
        print(f"  FAIL {line}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(r, indent=2))
    return 1 if r["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
