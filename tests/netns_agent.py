"""What the network tests run *on* a host: ``python -m tests.netns_agent COMMAND …``.

A command line, so that it runs inside a network namespace (``ip netns exec``)
and answers with one JSON object on stdout. It uses the spec-written client
(tests/tlog_client.py) and httpx only, never govledger's code:

* ``wait URL…`` — until each answers 200 (deadline 60 s);
* ``post URL FILE`` — POST the file, answer its status and body;
* ``get URL`` — GET, answer its status and body;
* ``monitor`` — what a monitor does: audit the log's tiles against its key
  (with a consistency proof from ``--previous``), then fetch every witness's
  cosigned checkpoint, verify its log signature and cosignature, and compare
  its root with the root the tiles give for its size: two roots for one size
  is a split view.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests import tlog_client

_DEADLINE_SECONDS = 60


def wait(urls: list[str]) -> dict[str, Any]:
    deadline = time.monotonic() + _DEADLINE_SECONDS
    with httpx.Client(timeout=2) as client:
        for url in urls:
            while True:
                try:
                    if client.get(url).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    return {"ok": False, "waiting_for": url}
                time.sleep(0.1)  # poll while the service starts, bounded by the deadline
    return {"ok": True}


def post(url: str, path: str) -> dict[str, Any]:
    reply = httpx.post(url, content=Path(path).read_bytes(), timeout=10)
    return {"status": reply.status_code, "body": reply.text}


def get(url: str) -> dict[str, Any]:
    reply = httpx.get(url, timeout=10)
    return {"status": reply.status_code, "body": reply.text}


def monitor(args: argparse.Namespace) -> dict[str, Any]:
    previous = None
    if args.previous and Path(args.previous).exists():
        key = tlog_client.parse_vkey(args.log_key, 0x01)
        previous = tlog_client.open_checkpoint(Path(args.previous).read_bytes(), key)
    with httpx.Client(timeout=10) as client:
        fetch = tlog_client.http_fetcher(client, args.log)
        audit = tlog_client.audit(fetch, args.log_key, previous=previous, sample=16)
        if args.save:
            Path(args.save).write_bytes(audit.checkpoint.note)
        tiles = tlog_client.TiledLog(fetch, audit.checkpoint)
        witnesses = {}
        for spec in args.witness:
            name, url, vkey = spec.split("=", 2)
            witnesses[name] = _witness_view(client, url, vkey, args.log_key, tiles)
    roots: dict[int, set[str]] = {}
    for view in witnesses.values():
        if "size" in view:
            roots.setdefault(view["size"], set()).add(view["root"])
    split = any(len(r) > 1 for r in roots.values()) or any(
        view.get("matches_log") is False for view in witnesses.values()
    )
    return {
        "published": {"size": audit.checkpoint.size, "root": audit.checkpoint.root.hex()},
        "entries": len(audit.entries),
        "witnesses": witnesses,
        "split_view": split,
    }


def _witness_view(
    client: httpx.Client, url: str, vkey: str, log_key: str, tiles: tlog_client.TiledLog
) -> dict[str, Any]:
    try:
        reply = client.get(url, timeout=2)
    except httpx.TransportError as e:
        return {"unreachable": type(e).__name__}
    if reply.status_code != 200:
        return {"status": reply.status_code}
    checkpoint = tlog_client.open_checkpoint(reply.content, tlog_client.parse_vkey(log_key, 0x01))
    timestamp = tlog_client.verify_cosignature(checkpoint, tlog_client.parse_vkey(vkey, 0x04))
    view: dict[str, Any] = {
        "size": checkpoint.size,
        "root": checkpoint.root.hex(),
        "cosigned_at": timestamp,
    }
    # The log's tiles give the root of every size up to the published one.
    view["matches_log"] = (
        tiles.root(checkpoint.size) == checkpoint.root if checkpoint.size <= tiles.size else None
    )
    return view


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="netns_agent")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("wait").add_argument("urls", nargs="+")
    p = sub.add_parser("post")
    p.add_argument("url")
    p.add_argument("file")
    sub.add_parser("get").add_argument("url")
    p = sub.add_parser("monitor")
    p.add_argument("--log", required=True, help="the log's tiles prefix URL")
    p.add_argument("--log-key", required=True)
    p.add_argument("--witness", action="append", default=[], help="NAME=CHECKPOINT_URL=VKEY")
    p.add_argument("--previous", help="a checkpoint note seen before (consistency from it)")
    p.add_argument("--save", help="where to keep the checkpoint now seen")
    args = parser.parse_args(argv)
    if args.command == "wait":
        answer = wait(args.urls)
    elif args.command == "post":
        answer = post(args.url, args.file)
    elif args.command == "get":
        answer = get(args.url)
    else:
        answer = monitor(args)
    json.dump(answer, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
