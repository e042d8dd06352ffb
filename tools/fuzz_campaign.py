"""Runs rgrad's hostile-input fuzz (tools/fuzz_calls.py) in worker processes and reports what
it found: crashes (death by a signal, or an abnormal exit), panics (a ``PanicException`` or
another ``BaseException`` that is not an ``Exception``), hangs (a call that runs past the
per-call timeout) and inconsistent tensors (``numel()`` against the shape, ``numpy()`` and
``tolist()`` against each other). Workers run under an address-space limit, so a huge
allocation must raise, not take the machine. A worker that crashes, hangs or panics is
replaced and the campaign goes on with the next call; each class of failure is confirmed by
running its call alone in a fresh process (and, with ``--culprits``, by finding which earlier
calls of the same process it needs) and printed as a paste-ready reproducer.

    python tools/fuzz_campaign.py --calls 120000 --seed 11 [--jobs 2] [--json report.json]
    python tools/fuzz_campaign.py --sweep --hostile      # the explicit cases only

Environment defaults: RGRAD_FUZZ_CAMPAIGN (calls), RGRAD_FUZZ_SEED, RGRAD_FUZZ_TIMEOUT
(seconds per call), RGRAD_FUZZ_MEMORY (bytes of address space per worker).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

TOOLS = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(TOOLS, "fuzz_calls.py")
sys.path.insert(0, TOOLS)

import fuzz_calls  # noqa: E402

FAILURE_KINDS = ("crash", "panic", "hang", "inconsistent")
STARTUP_TIMEOUT = 300.0


@dataclass
class Finding:
    kind: str
    op: str
    tag: str
    detail: str
    src: str
    index: object
    repro: str = ""  # the script that reproduces it (after confirmation)
    confirmed: str = "unconfirmed"  # "alone", "after earlier calls", "not reproduced"

    @property
    def key(self):
        return f"{self.kind}:{self.op}:{self.tag}"

    def reproducer(self):
        return self.repro or fuzz_calls.reproducer(self.src)

    def as_text(self):
        return (
            f"# {self.kind} in {self.op}: {self.tag}  (call {self.index}, {self.confirmed})\n"
            f"# {self.detail[:400]}\n{self.reproducer()}"
        )


@dataclass
class Report:
    counts: collections.Counter = field(default_factory=collections.Counter)
    # key -> [number of calls, first finding]
    classes: dict = field(default_factory=dict)
    seconds: float = 0.0
    # call index -> (kind, detail) of every call of a run_list
    outcomes: dict = field(default_factory=dict)
    out_of_time: bool = False  # the time budget ran out before the last call

    def add(self, finding: Finding):
        self.counts[finding.kind] += 1
        if finding.key in self.classes:
            self.classes[finding.key][0] += 1
            return False
        self.classes[finding.key] = [1, finding]
        return True

    def merge(self, other: Report):
        self.counts.update(other.counts)
        self.out_of_time |= other.out_of_time
        for key, (n, finding) in other.classes.items():
            if key in self.classes:
                self.classes[key][0] += n
            else:
                self.classes[key] = [n, finding]

    def failures(self):
        return sum(self.counts[k] for k in FAILURE_KINDS)

    def summary(self):
        c = self.counts
        return (
            f"{c['calls']} calls in {self.seconds:.0f} s: {c['crash']} crashes, {c['panic']} "
            f"panics, {c['hang']} hangs, {c['inconsistent']} inconsistent tensors "
            f"({c['ok']} returned, {c['error']} raised an Exception; "
            f"{len(self.classes)} failure classes)"
            + (" -- stopped by its time budget" if self.out_of_time else "")
        )

    def as_json(self):
        return {
            "counts": dict(self.counts),
            "seconds": round(self.seconds, 1),
            "classes": [
                {
                    "key": k,
                    "calls": n,
                    "confirmed": f.confirmed,
                    "detail": f.detail,
                    "reproducer": f.reproducer(),
                }
                for k, (n, f) in sorted(self.classes.items(), key=lambda kv: -kv[1][0])
            ],
        }


def _normalize(message):
    line = (message.strip().splitlines() or [""])[0]
    return re.sub(r"\d+", "N", line)[:90]


def _crash_tag(returncode, stderr):
    patterns = [
        (r"memory allocation of \d+ bytes failed", "allocation failed (abort)"),
        (r"has overflowed its stack", "stack overflow"),
        (r"Fatal Python error: (Segmentation fault|Aborted|Bus error|Floating point)", "signal"),
        (r"Fatal Python error: ([^\n]*)", None),
        (r"fatal runtime error: ([^\n]*)", None),
        (r"panicked at [^\n]*\n([^\n]*)", None),
    ]
    for rx, tag in patterns:
        m = re.search(rx, stderr)
        if m and tag != "signal":
            return tag or _normalize(m.group(1))
        if m:
            break
    if returncode < 0:
        try:
            return signal.Signals(-returncode).name
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


class Runner:
    """Runs calls in worker processes, replacing a worker that dies, hangs or panics."""

    def __init__(
        self, timeout=20.0, memory=None, confirm=True, culprits=False, log=None, budget=None
    ):
        """budget: seconds after which no further call is started (the report says so)."""
        self.timeout = timeout
        self.deadline = time.monotonic() + budget if budget else None
        self.memory = memory
        self.confirm = confirm
        self.culprits = culprits
        self.log = log or (lambda msg: None)
        # The workers' cwd (anything save() writes lands there); removed with the runner.
        self._scratch = tempfile.TemporaryDirectory(prefix="rgrad-fuzz-")
        self.scratch = self._scratch.name

    # One worker process: yields events (tag, index, payload); ends with ("exit", rc, stderr)
    # or ("hang", None, stderr).
    def _worker(self, mode, arg):
        env = dict(os.environ, RUST_BACKTRACE="0", PYTHONFAULTHANDLER="1", PYTHONHASHSEED="0")
        if self.memory:
            env["RGRAD_FUZZ_MEMORY"] = str(self.memory)
        rfd, wfd = os.pipe()
        err = tempfile.TemporaryFile(dir=self.scratch)
        proc = subprocess.Popen(
            [sys.executable, WORKER, "--worker", str(wfd), mode, arg],
            pass_fds=(wfd,),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            cwd=self.scratch,
            env=env,
        )
        os.close(wfd)
        buf = b""
        limit = STARTUP_TIMEOUT
        try:
            while True:
                ready, _, _ = select.select([rfd], [], [], limit)
                if not ready:
                    proc.kill()
                    proc.wait()
                    yield "hang", None, _tail(err)
                    return
                data = os.read(rfd, 1 << 16)
                if not data:
                    rc = proc.wait()
                    yield "exit", rc, _tail(err)
                    return
                buf += data
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    tag, index, payload = line.decode().split(" ", 2)
                    limit = self.timeout
                    yield tag, index, json.loads(payload)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            os.close(rfd)
            err.close()

    def _run(self, mode, arg, report, history):
        """Runs one worker to its end; returns the index of the last call started (None if
        none) and whether the worker got through all of its calls."""
        started = finished = None
        for tag, index, payload in self._worker(mode, arg):
            if tag == "B":
                if self.deadline and time.monotonic() > self.deadline:
                    report.out_of_time = True
                    return None, True  # closing the generator ends the worker
                started = (index, *payload)
                history.append(started)
                report.counts["calls"] += 1
            elif tag == "E":
                kind = payload["kind"]
                if mode == "list":
                    report.outcomes[started[0]] = (kind, payload.get("type") or payload.get("tag"))
                if kind in ("ok", "error"):
                    report.counts[kind] += 1
                else:
                    finding = Finding(
                        kind,
                        started[1],
                        payload.get("tag") or _normalize(payload["detail"]),
                        f"{payload.get('type', '')} {payload['detail']}".strip(),
                        started[2],
                        started[0],
                    )
                    self._record(finding, report, history)
                started, finished = None, started
            elif tag == "D":
                if payload == "restart":  # after a panic: the next calls in a fresh worker
                    return index, False
                return None, True
            elif tag in ("exit", "hang"):
                kind = "hang" if tag == "hang" else "crash"
                detail = payload[-1500:]
                ctag = "timeout" if kind == "hang" else _crash_tag(index, payload)
                if started is None:
                    # Between two calls: what the last call left behind (a finalizer run by
                    # the garbage collector, a thread) is to blame.
                    if finished is None:
                        raise RuntimeError(f"fuzz worker failed before its first call:\n{payload}")
                    started = finished
                    ctag += " (after the call returned)"
                finding = Finding(kind, started[1], ctag, detail, started[2], started[0])
                if mode == "list":
                    report.outcomes[started[0]] = (kind, ctag)
                self._record(finding, report, history)
                return started[0], False
        return started[0] if started else None, False

    def _record(self, finding, report, history):
        if report.add(finding):
            self.log(f"new: {finding.key}  (call {finding.index})")
            if self.confirm:
                self._confirm(finding, list(history)[:-1])

    def _replay(self, calls):
        """Runs calls [(op, src), ...] in a fresh worker: the kind of failure of the last one
        (None if it returned or raised an Exception)."""
        path = os.path.join(self.scratch, "replay.json")
        with open(path, "w") as f:
            json.dump([[i, op, src] for i, (op, src) in enumerate(calls)], f)
        report = Report()
        history = collections.deque(maxlen=4)
        saved = self.confirm, self.log
        self.confirm, self.log = False, (lambda msg: None)
        try:
            self._run("list", path, report, history)
        finally:
            self.confirm, self.log = saved
        last = str(len(calls) - 1)
        for _, finding in report.classes.values():
            if finding.index == last:
                return finding.kind
        return None

    def _confirm(self, finding, earlier):
        if self._replay([(finding.op, finding.src)]) == finding.kind:
            finding.confirmed = "alone"
            return
        finding.confirmed = "not reproduced alone"
        if not (self.culprits and earlier):
            return
        # The failure needs earlier calls of the same process: find the shortest tail of them
        # that brings it back (bisection), then try the first of that tail on its own.
        earlier = [(op, src) for _, op, src in earlier]
        target = [(finding.op, finding.src)]
        if self._replay(earlier + target) != finding.kind:
            finding.confirmed = "not reproduced in a fresh process"
            return
        lo, hi = 0, len(earlier)  # earlier[lo:] reproduces; earlier[hi:] does not
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._replay(earlier[mid:] + target) == finding.kind:
                lo = mid
            else:
                hi = mid
        tail = earlier[lo:]
        if len(tail) > 1 and self._replay([tail[0]] + target) == finding.kind:
            tail = [tail[0]]
        finding.confirmed = f"after {len(tail)} earlier call(s)"
        finding.repro = fuzz_calls.reproducer("".join(src for _, src in tail + target))

    def run_random(self, seed, start, count):
        report = Report()
        t0 = time.perf_counter()
        end = start + count
        while start < end:
            history = collections.deque(maxlen=64)
            last, finished = self._run("random", f"{seed}:{start}:{end - start}", report, history)
            if finished or last is None:
                break
            start = int(last) + 1
        report.seconds = time.perf_counter() - t0
        return report

    def run_list(self, calls):
        """calls: [(op, src), ...]; returns the report and each call's outcome kind."""
        report = Report()
        t0 = time.perf_counter()
        pending = list(enumerate(calls))
        while pending:
            path = os.path.join(self.scratch, "list.json")
            with open(path, "w") as f:
                json.dump([[str(i), op, src] for i, (op, src) in pending], f)
            history = collections.deque(maxlen=64)
            last, finished = self._run("list", path, report, history)
            if finished or last is None:
                break
            pending = [(i, c) for i, c in pending if i > int(last)]
        report.seconds = time.perf_counter() - t0
        return report


def _tail(f, n=6000):
    f.seek(0, os.SEEK_END)
    size = f.tell()
    f.seek(max(0, size - n))
    return f.read().decode(errors="replace")


def run_parallel(runner_args, seed, count, jobs):
    """The campaign's calls split over `jobs` workers at once (one supervising thread each)."""
    report = Report()
    t0 = time.perf_counter()
    chunks = [(j * count // jobs, (j + 1) * count // jobs) for j in range(jobs)]
    results = [None] * jobs

    def run(j):
        a, b = chunks[j]
        results[j] = Runner(**runner_args).run_random(seed, a, b - a)

    threads = [threading.Thread(target=run, args=(j,)) for j in range(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        report.merge(r)
    report.seconds = time.perf_counter() - t0
    return report


def print_report(title, report, limit=40, out=sys.stdout):
    print(f"== {title}: {report.summary()}", file=out)
    ranked = sorted(report.classes.items(), key=lambda kv: -kv[1][0])
    for key, (n, finding) in ranked[:limit]:
        print(f"\n-- {key}  ({n} calls)\n{finding.as_text()}", file=out)
    if len(ranked) > limit:
        print(f"\n... and {len(ranked) - limit} more classes", file=out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--calls", type=int, default=int(os.environ.get("RGRAD_FUZZ_CAMPAIGN", 0) or 120_000)
    )
    parser.add_argument("--seed", default=os.environ.get("RGRAD_FUZZ_SEED", "1"))
    parser.add_argument("--start", type=int, default=0, help="index of the first call")
    parser.add_argument(
        "--timeout", type=float, default=float(os.environ.get("RGRAD_FUZZ_TIMEOUT", 20))
    )
    parser.add_argument("--memory", type=int, default=None, help="bytes of address space")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument(
        "--culprits", action="store_true", help="for a failure that needs earlier calls, find them"
    )
    parser.add_argument("--sweep", action="store_true", help="run the overflow sweep")
    parser.add_argument("--hostile", action="store_true", help="run the issue's hostile calls")
    parser.add_argument("--json", help="write the report(s) here")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    log = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    runner_args = dict(timeout=args.timeout, memory=args.memory, culprits=args.culprits, log=log)
    reports = {}
    if args.sweep or args.hostile:
        import fuzz_cases

        if args.sweep:
            reports["overflow sweep"] = Runner(**runner_args).run_list(fuzz_cases.sweep_calls())
        if args.hostile:
            reports["hostile calls"] = Runner(**runner_args).run_list(fuzz_cases.HOSTILE_CALLS)
    else:
        title = f"campaign seed={args.seed} calls={args.calls}"
        if args.jobs > 1:
            reports[title] = run_parallel(runner_args, args.seed, args.calls, args.jobs)
        else:
            reports[title] = Runner(**runner_args).run_random(args.seed, args.start, args.calls)
    for title, report in reports.items():
        print_report(title, report)
        print()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({t: r.as_json() for t, r in reports.items()}, f, indent=1)
    for title, report in reports.items():
        c = report.counts
        print(
            f"{title}: crashes={c['crash']} panics={c['panic']} hangs={c['hang']} "
            f"inconsistent={c['inconsistent']} calls={c['calls']}"
        )
    return 1 if any(r.failures() for r in reports.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
