"""What a report costs beside one ``verify --full`` of the same ledger (issue #12 item 2).

Builds (or reuses, ``--ledger DIR``) a SQLite demo ledger of ``--accesses`` data
accesses (``govledger demo``, year 2025), brings the views to its head (the worker's
job in a deployment: timed, not a target), then runs, each in its own process as an
operator would: ``govledger verify --full`` and ``govledger report KIND --year 2025
--format json|pdf`` for the three reports. Each line gives the wall time (median of
``--repeats``), the ratio to verify's time and the process's peak RSS (``wait4``).

``--million`` repeats every measure on a ledger of about 1,000,000 events (slow to
build: reuse it with ``--million-ledger DIR``) and compares it with the first ledger.

Targets: risk JSON <= 1.0 x verify (and the audit JSON, which reads only the views);
every report's peak RSS < 300 MB, PDFs included; at a million events the same (risk JSON
<= 1.0 x that ledger's verify, peak < 300 MB) and each report (JSON and PDF) within 2 x
its time on the first ledger (``<kind>_<format>_million_over_200k``). A PDF needs a CJK font
(fonts-noto-cjk): without one its line says failed and it is left out of the peak.

Beside each ledger it prints the newest snapshot of the zone fold (``snapshots`` view):
its bytes and what it keeps for the rules judged by business time (P2, D1, S3 on a
lapsed grant, F8; docs/projections.md §Recorded late), bytes and entries; target: at a
million events within 2 x its size on the first ledger (``fold_state_million_over_200k``).

The peak is the report process's own (``ru_maxrss`` from ``wait4``): the whole PDF, the
font subsetting before the layout included (docs/reports.md "Fonts in the PDF"), is made
in that one process, which starts no child (a child's peak would count only as a max,
not added).

Layout (issue #15): the risk PDF of ``govledger demo`` at its default size (20,000
accesses) has at most 25 pages (``pdfinfo``): tested by
tests/projections/reports/test_pages.py, and reported here as a target (``--no-pages``
skips it).

    .venv/bin/python bench/reports.py [--accesses 200000] [--ledger DIR] [--repeats 1]
                                      [--million [--million-ledger DIR]] [--formats json,pdf]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import orjson
from _common import ROOT, target

from ledger.config import Settings
from projections.runner import latest_snapshot
from projections.store import ViewStore

GOVLEDGER = str(Path(sys.executable).with_name("govledger"))
YEAR = "2025"  # the demo's year
KINDS = ("risk", "annual", "audit")
FORMATS = ("json", "pdf")
PEAK_MB, RATIO, GROWTH = 300.0, 1.0, 2.0
DEMO_ACCESSES, DEMO_RISK_PAGES = 20_000, 25
MILLION = 1_000_000


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mb: float
    ok: bool
    error: str


def run(args: list[str], env: dict[str, str]) -> Run:
    """One command in its own process: wall time, peak RSS (MB), success."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        child = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _pid, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        lines = err.read().decode(errors="replace").strip().splitlines()
    return Run(seconds, usage.ru_maxrss / 1024, child.returncode == 0, lines[-1] if lines else "")


def repeated(args: list[str], env: dict[str, str], repeats: int) -> Run:
    runs = [run(args, env) for _ in range(repeats)]
    failed = next((r for r in runs if not r.ok), None)
    if failed is not None:
        return failed
    return Run(statistics.median(r.seconds for r in runs), max(r.peak_mb for r in runs), True, "")


def ledger_env(directory: Path) -> dict[str, str]:
    return {
        **os.environ,
        "GOVLEDGER_DATABASE_URL": f"sqlite:///{directory / 'ledger.db'}",
        "GOVLEDGER_STATE_DIR": str(directory / "state"),
    }


def ensure_ledger(directory: Path, accesses: int) -> dict[str, str]:
    """The demo ledger in ``directory``, built once (its progress on this terminal)."""
    env = ledger_env(directory)
    if not (directory / "ledger.db").exists():
        directory.mkdir(parents=True, exist_ok=True)
        print(f"building a demo of {accesses:,} accesses in {directory} …", flush=True)
        subprocess.run(
            [GOVLEDGER, "demo", "--accesses", str(accesses), "--if-empty"], env=env, check=True
        )
    print("bringing the views to the head …", flush=True)
    views = run([GOVLEDGER, "projections", "run"], env)
    if not views.ok:
        raise SystemExit(f"projections run failed: {views.error}")
    print(f"  views caught up in {views.seconds:.1f} s (peak {views.peak_mb:.0f} MB)")
    return env


def demo_risk_pages(scratch: Path) -> float:
    """Pages of the risk PDF of the default demo (``pdfinfo``); inf when it cannot be made."""
    env = ensure_ledger(scratch / "demo", DEMO_ACCESSES)
    pdf = scratch / "demo-risk.pdf"
    made = run([GOVLEDGER, "report", "risk", "--year", YEAR, "--format", "pdf", "-o", str(pdf)],
               env)  # fmt: skip
    if not made.ok or shutil.which("pdfinfo") is None:
        print(f"demo risk PDF: not made ({made.error or 'no pdfinfo'})")
        return float("inf")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=False)
    pages = next(
        (int(line.split()[-1]) for line in info.stdout.splitlines() if line.startswith("Pages:")),
        None,
    )
    print(f"demo risk PDF: {pages} pages in {made.seconds:.1f} s")
    return float("inf") if pages is None else float(pages)


# What the zone fold keeps for the rules judged by business time (docs/projections.md
# §Recorded late): state key -> how deep its entries are counted.
KEPT = {"provisions": 3, "core_provisions": 4, "lapsed_accesses": 2, "access_days": 2}


def _entries(value: object, depth: int) -> int:
    if depth == 0 or not isinstance(value, dict | list):
        return 1
    inner = value.values() if isinstance(value, dict) else value
    return sum(_entries(v, depth - 1) for v in inner)


def fold_state(env: dict[str, str]) -> int:
    """The newest snapshot of the zone fold (the ``snapshots`` view): its bytes, and the
    bytes and entries of what it keeps per rule judged by business time. Returns its bytes."""
    settings = Settings(database_url=env["GOVLEDGER_DATABASE_URL"],
                        state_dir=env["GOVLEDGER_STATE_DIR"])  # fmt: skip
    store = ViewStore(settings, readonly=True)
    try:
        position, state = latest_snapshot(store, 2**62)
    finally:
        store.close()
    if state is None:
        print("  fold state: no snapshot")
        return 0
    size = len(orjson.dumps(state))
    kept = ", ".join(
        f"{key} {len(orjson.dumps(state.get(key, {}))):,} B / "
        f"{_entries(state.get(key, {}), depth):,}"
        for key, depth in KEPT.items()
    )
    print(f"  fold state at {position:,}: {size:,} B; kept (bytes / entries): {kept}")
    return size


def events_of(env: dict[str, str]) -> int:
    done = subprocess.run(
        [GOVLEDGER, "projections", "status"], env=env, capture_output=True, text=True, check=False
    )
    return max((int(w) for w in done.stdout.split() if w.isdigit()), default=0)


def measure(
    env: dict[str, str], repeats: int, out: Path, formats: tuple[str, ...] = FORMATS
) -> dict[str, Run]:
    found = {"verify": repeated([GOVLEDGER, "verify", "--full"], env, repeats)}
    for kind in KINDS:
        for fmt in formats:
            found[f"{kind} {fmt}"] = repeated(
                [GOVLEDGER, "report", kind, "--year", YEAR, "--format", fmt,
                 "-o", str(out / f"{kind}.{fmt}")],
                env, repeats,
            )  # fmt: skip
    return found


def show(title: str, runs: dict[str, Run]) -> None:
    verify = runs["verify"].seconds
    print(f"\n{title}")
    print(f"  {'what':<14}{'seconds':>9}{'x verify':>10}{'peak MB':>9}")
    for name, r in runs.items():
        if r.ok:
            print(f"  {name:<14}{r.seconds:>9.2f}{r.seconds / verify:>10.2f}{r.peak_mb:>9.0f}")
        else:
            print(f"  {name:<14}{'failed':>9}  {r.error[:90]}")


def peak(runs: dict[str, Run]) -> float:
    """The highest peak RSS of the reports that ran (a failed run is listed, not counted)."""
    return max((r.peak_mb for n, r in runs.items() if n != "verify" and r.ok), default=0.0)


def ratio(top: Run, bottom: Run) -> float:
    return top.seconds / bottom.seconds if top.ok and bottom.ok else float("inf")


def million_targets(small: dict[str, Run], large: dict[str, Run]) -> list[str]:
    """The first ledger's targets again at a million events, and each report's time there
    over its time on the first ledger (<= ``GROWTH``): issue #12 "the same at 1,000,000
    events within 2x of the 200k figure"."""
    lines = [
        target("risk_json_over_verify_million", ratio(large["risk json"], large["verify"]),
               RATIO, higher_is_better=False),
        target("report_peak_mb_million", peak(large), PEAK_MB, higher_is_better=False),
    ]  # fmt: skip
    for name, first in small.items():
        if name != "verify":
            lines.append(target(f"{name.replace(' ', '_')}_million_over_200k",
                                ratio(large[name], first), GROWTH,
                                higher_is_better=False))  # fmt: skip
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accesses", type=int, default=200_000)
    parser.add_argument("--ledger", type=Path, help="reuse (or build here) the demo ledger")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--million", action="store_true", help="also a ~1,000,000-event ledger")
    parser.add_argument("--million-ledger", type=Path)
    parser.add_argument(
        "--formats", default=",".join(FORMATS), help="comma-separated: json,pdf (default both)"
    )
    parser.add_argument("--no-pages", action="store_true", help="skip the demo risk PDF's pages")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-reports-"))
    try:
        env = ensure_ledger(args.ledger or scratch / "ledger", args.accesses)
        print(f"ledger: {events_of(env):,} events; machine: {os.cpu_count()} cores, shared")
        state = fold_state(env)
        # JSON always: the targets are read from it.
        formats = ("json", *(f for f in args.formats.split(",") if f in FORMATS and f != "json"))
        runs = measure(env, args.repeats, scratch, formats)
        show(f"{args.accesses:,} accesses", runs)
        verify, risk = runs["verify"], runs["risk json"]
        lines = [
            target("risk_json_over_verify", risk.seconds / verify.seconds if risk.ok else
                   float("inf"), RATIO, higher_is_better=False),
            target("report_peak_mb", peak(runs), PEAK_MB, higher_is_better=False),
            # the audit report reads only the views: what the others should cost
            target("audit_json_over_verify", runs["audit json"].seconds / verify.seconds
                   if runs["audit json"].ok else float("inf"), RATIO, higher_is_better=False),
        ]  # fmt: skip
        if not args.no_pages:
            pages = demo_risk_pages(scratch)
            lines.append(target("demo_risk_pdf_pages", pages, DEMO_RISK_PAGES,
                                higher_is_better=False))  # fmt: skip
        if args.million:
            big = ensure_ledger(args.million_ledger or scratch / "million", MILLION)
            print(f"ledger: {events_of(big):,} events")
            big_state = fold_state(big)
            large = measure(big, args.repeats, scratch, formats)
            show(f"{MILLION:,} accesses", large)
            if any(not r.ok for r in large.values()):
                failed_large = [n for n, r in large.items() if not r.ok]
                print(f"failed at a million (not counted in the peak): {', '.join(failed_large)}")
            lines += million_targets(runs, large)
            lines.append(target("fold_state_million_over_200k",
                                big_state / state if state else float("inf"), GROWTH,
                                higher_is_better=False))  # fmt: skip
        failed = [n for n, r in runs.items() if not r.ok]
        if failed:
            print(f"\nfailed (not counted in the peak): {', '.join(failed)}")
        print()
        print("\n".join(lines))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    raise SystemExit(main())
