"""Throughput of the local control plane over real HTTP, printed as numbers and ratios (not a test).

    /work/venv/bin/python bench/server_bench.py [--pipelines 2500] [--threads 8]

Measures: sequential creates, a full listing at pageSize 1000 and 100, GETs, whole-document PATCHes
sequentially and from N threads, and the DQL engine alone over the same documents. Ratios compare
concurrent to sequential writes (how much the single-writer SQLite lock costs) and HTTP listing to
the pure filter/sort/page work (how much is serialisation and transport).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from reconciler.server import dql
from reconciler.server.testing import serve_in_thread


def timed(label: str, count: int, fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    print(f"{label:<44} {count:>6} in {elapsed:7.3f}s  {count / elapsed:9.1f}/s")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipelines", type=int, default=2500)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    n, threads = args.pipelines, args.threads

    with tempfile.TemporaryDirectory() as tmp, serve_in_thread(Path(tmp) / "state.db") as server:
        session = requests.Session()
        session.headers["authorization"] = f"Bearer {server.token}"
        base = server.base_url
        project_id = session.get(f"{base}/projects/local/name", timeout=30).json()[0]["id"]
        ids: list[str] = []

        def create_all() -> None:
            for i in range(n):
                r = session.post(f"{base}/pipelines", json={"name": f"b{i:05d}", "projectId": project_id}, timeout=30)
                r.raise_for_status()
                ids.append(r.json()["id"])

        timed("create (sequential)", n, create_all)

        def list_all(page_size: int) -> Callable[[], None]:
            def run() -> None:
                page, seen = 0, 0
                while True:
                    body = {"filter": {"$and": [{"projectId": project_id}]}, "page": page, "pageSize": page_size,
                            "resource": "pipeline"}
                    out = session.post(f"{base}/pipelines/query", json=body, timeout=60).json()
                    seen += len(out["items"])
                    if not out["hasNextPage"]:
                        break
                    page += 1
                assert seen == n, seen

            return run

        http_list = timed("list all, pageSize 1000 (HTTP)", n, list_all(1000))
        timed("list all, pageSize 100 (HTTP)", n, list_all(100))

        def get_all() -> None:
            for pid in ids[:500]:
                session.get(f"{base}/pipelines/{pid}", timeout=30).raise_for_status()

        timed("get by id (sequential)", min(n, 500), get_all)

        docs = [session.get(f"{base}/pipelines/{pid}", timeout=30).json() for pid in ids[: threads * 25]]

        def patch_sequential() -> None:
            for doc in docs:
                session.patch(f"{base}/pipelines/{doc['id']}", json={**doc, "description": "seq"},
                              timeout=30).raise_for_status()

        seq = timed("patch whole document (sequential)", len(docs), patch_sequential)

        def patch_concurrent() -> None:
            def lane(k: int) -> None:
                own = requests.Session()
                own.headers["authorization"] = f"Bearer {server.token}"
                for doc in docs[k::threads]:
                    own.patch(f"{base}/pipelines/{doc['id']}", json={**doc, "description": "par"},
                              timeout=30).raise_for_status()

            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(lane, range(threads)))

        par = timed(f"patch whole document ({threads} threads)", len(docs), patch_concurrent)

        everything = [session.get(f"{base}/pipelines/{pid}", timeout=30).json() for pid in ids]

        def pure_dql() -> None:
            match = dql.compile_filter({"$and": [{"projectId": project_id}, {"name": "b*"}]})
            ordered = dql.sort_documents([d for d in everything if match(d)], {"createdAt": "ascending"})
            for page in range(0, (len(ordered) + 999) // 1000):
                dql.paginate(ordered, page, 1000)

        pure = timed("DQL filter+sort+page alone", n, pure_dql)

    print(f"\nconcurrent/sequential patch time ratio: {par / seq:.2f} (<1 means threads help)")
    print(f"HTTP listing / pure DQL time ratio:     {http_list / pure:.1f}")


if __name__ == "__main__":
    main()
