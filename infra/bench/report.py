#!/usr/bin/env python3
"""Writes BENCHMARKS.md from the results of infra/bench/run.sh.

usage: report.py <results dir> <BENCHMARKS.md>

Inputs: <results>/coldstart.json and warm.json (calbridge-bench), criterion.txt (the bench
log, to know which benchmarks ran) and target/criterion/**/new/estimates.json (criterion's
own estimates), plus infra/bench/notes.md (the closing note, written by a person). Standard
library only. Targets are the issue's goals: they are reported against, never changed.
"""

import glob
import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone

RESULTS, OUT = sys.argv[1], sys.argv[2]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_baseline():
    path = os.path.join(ROOT, "infra", "bench", "baseline.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def change(before, after):
    """`after` relative to `before`, as a signed percentage."""
    if before is None or after is None or before == 0:
        return "-"
    return f"{(after - before) / before * 100:+.0f} %"


def load(name):
    path = os.path.join(RESULTS, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:
        return "n/a"


def f1(x):
    return "n/a" if x is None else f"{x:.1f}"


def f2(x):
    return "n/a" if x is None else f"{x:.2f}"


def verdict(measured, target, unit, lower_is_better=True):
    if measured is None:
        return "not measured"
    if (measured <= target) if lower_is_better else (measured >= target):
        return "met"
    over = measured - target
    return f"**missed** by {over:.2f} {unit} ({measured / target:.1f}x the target)" if target else f"**missed** by {over:.2f} {unit}"


def machine():
    cpu = "n/a"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "n/a"
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = f"{kb / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    osname = "n/a"
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    osname = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    peer_py = os.path.join(ROOT, "infra/bench/peers/python/.venv/bin/python")
    return [
        ("CPU", f"{cpu}, {os.cpu_count()} logical cores"),
        ("Memory", mem),
        ("OS / kernel", f"{osname} / {platform.release()} ({platform.machine()})"),
        ("Load average (1/5/15 min) when the run started", (load("run.json") or {}).get("load_average_at_start", "n/a")),
        ("rustc", sh("rustc", "-V")),
        ("Node.js (peer)", sh("node", "--version")),
        ("Python (peer)", sh(peer_py, "--version") if os.path.exists(peer_py) else "n/a"),
        ("moto", sh(os.path.join(ROOT, ".venv/bin/python"), "-c", "import moto; print(moto.__version__)")),
        ("Written", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
    ]


def criterion_results():
    ran = ""
    if os.path.exists(os.path.join(RESULTS, "criterion.txt")):
        with open(os.path.join(RESULTS, "criterion.txt")) as f:
            ran = f.read()
    rows = []
    for est in sorted(glob.glob(os.path.join(ROOT, "target/criterion/**/new/estimates.json"), recursive=True)):
        bench = os.path.join(os.path.dirname(est), "benchmark.json")
        if not os.path.exists(bench):
            continue
        with open(bench) as f:
            full_id = json.load(f)["full_id"]
        if full_id not in ran:
            continue
        with open(est) as f:
            e = json.load(f)
        m = e["median"]
        rows.append((full_id, m["point_estimate"], m["confidence_interval"]["lower_bound"], m["confidence_interval"]["upper_bound"]))
    return rows


def human_ns(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.3f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"


def calls_text(calls):
    parts = [f"{k} {v:g}" for k, v in sorted(calls.items()) if v]
    return ", ".join(parts) if parts else "none"


def group_calls(calls):
    """{'google': {...}, 'aws': {...}} -> (google total excl. the `token` umbrella, kms, ddb, sm)."""
    google = calls.get("google", {}) or {}
    aws = calls.get("aws", {}) or {}
    g = sum(v for k, v in google.items() if k != "token_refresh")
    kms = sum(v for k, v in aws.items() if k.startswith("kms:"))
    ddb = sum(v for k, v in aws.items() if k.startswith("dynamodb:"))
    sm = sum(v for k, v in aws.items() if k.startswith("secretsmanager:"))
    return g, kms, ddb, sm, google.get("token_refresh", 0), google.get("freebusy", 0)


def main():
    cold = load("coldstart.json")
    warm = load("warm.json")
    crit = criterion_results()
    out = []
    w = out.append
    w("# calbridge benchmarks\n")
    w("Generated by `infra/bench/run.sh` (this file is its output: edit `infra/bench/report.py` or "
      "`infra/bench/notes.md`, not this file). Every number below comes from one run on the machine "
      "described here; rerun the command to get yours.\n")
    w("```sh\ninfra/bench/run.sh            # BENCH_RUNS=30 BENCH_REQUESTS=2000 BENCH_CONCURRENCY=16 by default\n```\n")
    run = load("run.json")
    if run:
        secs = run["seconds"]
        builds = ("release builds skipped with `BENCH_SKIP_BUILD=1`: the binaries were already built; a first run "
                  "adds the release builds" if run["builds_skipped"] else "release builds included")
        w(f"This run took {secs // 60} min {secs % 60} s ({builds}). Knobs: BENCH_RUNS={run['runs']}, "
          f"BENCH_REQUESTS={run['requests']}, BENCH_CONCURRENCY={run['concurrency']}.\n")

    w("## Machine\n")
    w("| | |\n|---|---|")
    for k, v in machine():
        w(f"| {k} | {v} |")
    w("")

    # ---------------------------------------------------------------- targets
    rust = [t for t in (cold or {}).get("targets", []) if t["group"] == "calbridge"]
    peers = [t for t in (cold or {}).get("targets", []) if t["group"] != "calbridge"]
    worst_next = max(rust, key=lambda t: t["start_to_next_ms"]["median"] or 0, default=None)
    worst_rss = max(rust, key=lambda t: t["peak_rss_mb"]["max"] or 0, default=None)
    sm_per_start = max((sum(v for k, v in t["calls_per_start"].items() if k.startswith("secretsmanager:")) for t in rust), default=None)
    ops = (warm or {}).get("operations", [])
    kms_warm = {o["operation"]: group_calls(o["warm"]["calls_per_1000"])[1] for o in ops}
    worst_kms = max(kms_warm.items(), key=lambda kv: kv[1], default=(None, None))
    sm_warm = sum(group_calls(o["warm"]["calls_per_1000"])[3] + group_calls(o["cold"]["calls"])[3] for o in ops) if ops else None
    refresh_warm = sum(group_calls(o["warm"]["calls_per_1000"])[4] for o in ops) if ops else None
    avail = next((o for o in ops if o["function"] == "get-availability"), None)
    sync = next((o for o in ops if o["function"] == "sync-appointment"), None)
    slot_bench = [r for r in crit if "slots_50_users" in r[0]]
    w("## Targets\n")
    w("Goals from the issue, reported against as they are (not test assertions).\n")
    w("| Target | Goal | Measured | Verdict |\n|---|---|---|---|")
    if worst_next:
        w(f"| Process start to Runtime API `/next`, median, worst function | ≤ 5 ms | "
          f"{f2(worst_next['start_to_next_ms']['median'])} ms (`{worst_next['name']}`) | "
          f"{verdict(worst_next['start_to_next_ms']['median'], 5, 'ms')} |")
    if worst_rss:
        w(f"| Peak RSS per function (max over runs, worst function) | ≤ 32 MB | "
          f"{f1(worst_rss['peak_rss_mb']['max'])} MiB (`{worst_rss['name']}`) | "
          f"{verdict(worst_rss['peak_rss_mb']['max'], 32, 'MiB')} |")
    if worst_kms[0] is not None:
        w(f"| KMS calls per 1000 warm requests, returning user (worst operation) | ≤ 10 | "
          f"{worst_kms[1]:g} (`{worst_kms[0]}`) | {verdict(worst_kms[1], 10, 'calls')} |")
    if sm_per_start is not None:
        w(f"| Secrets Manager calls per container (Lambda binaries, per cold start) | ≤ 1 | {sm_per_start:g} | "
          f"{verdict(sm_per_start, 1, 'calls')} |")
    connect_sm = group_calls(warm["connect_flow_calls"])[3] if warm and "connect_flow_calls" in warm else None
    if connect_sm is not None:
        w(f"| Secrets Manager calls per container, local stack: connect flow (authorize + launch + callback) | ≤ 1 | "
          f"{connect_sm:g} | {verdict(connect_sm, 1, 'calls')} |")
    if sm_warm is not None:
        w(f"| Secrets Manager calls per container, local stack: every operation below, cold + warm | ≤ 1 per container | "
          f"{sm_warm:g} in {len(ops)} containers | {verdict(sm_warm, len(ops), 'calls')} |")
    if avail:
        fb = group_calls(avail["warm"]["calls_per_1000"])[5] / 1000
        w(f"| Google FreeBusy per availability request (1 user, 2 calendars) | 1 | {fb:g} | {verdict(fb, 1, 'calls')} |")
    if sync:
        google = sync["warm"]["calls_per_1000"].get("google", {})
        writes = sum(v for k, v in google.items() if k in ("events_insert", "events_patch", "events_update", "events_delete")) / 1000
        w(f"| Google writes per sync | 1 | {writes:g} | {verdict(writes, 1, 'calls')} |")
    if refresh_warm is not None:
        w(f"| Extra token refreshes (warm, all operations, per 1000) | 0 | {refresh_warm:g} | {verdict(refresh_warm, 0, 'calls')} |")
    if slot_bench:
        ms = max(r[1] for r in slot_bench) / 1e6
        w(f"| Slot computation, 50 users x 1 week x 200 busy each, median | < 1 ms | {ms:.3f} ms (slowest mode) | "
          f"{verdict(ms, 1, 'ms')} |")
    w("")

    # ---------------------------------------------------------------- cold starts
    if cold:
        n = rust[0]["runs"] if rust else 0
        w("## Cold start and memory per function\n")
        w(f"Each binary started {n} times (plus one unmeasured start each), round-robin across binaries. "
          "`start → /next`: from just before `spawn` to the binary's first `GET /2018-06-01/runtime/invocation/next` "
          "at the stub (config read, every client built). `start → response`: to the `POST .../response` of the first "
          "invocation (a sample event from `events/`, against moto and the Google emulator, with the benchmark user "
          "connected). Peak RSS: `VmHWM` once the runtime polls again. Calls: per start, counted by the proxy in front of "
          "moto and by the emulator. All times in ms, min / median / max.\n")
        w("| Function | event | start → /next | start → response | peak RSS MiB | RSS at /next MiB | binary MiB | outcome | calls per start |")
        w("|---|---|---|---|---|---|---|---|---|")
        for t in rust + peers:
            s, r, m, i = t["start_to_next_ms"], t["start_to_first_response_ms"], t["peak_rss_mb"], t["rss_at_next_mb"]
            size = f"{t['binary_bytes'] / 1048576:.1f}" if t.get("binary_bytes") and t["group"] == "calbridge" else "-"
            outcome = ", ".join(f"{k} x{v}" for k, v in t["outcomes"].items())
            if t["failures"]:
                outcome += f", {t['failures']} failed"
            w(f"| {t['name']} | `{os.path.relpath(t['event'], os.path.join(ROOT, 'events'))}` | "
              f"{f2(s['min'])} / **{f2(s['median'])}** / {f2(s['max'])} | {f1(r['min'])} / **{f1(r['median'])}** / {f1(r['max'])} | "
              f"{f1(m['min'])} / **{f1(m['median'])}** / {f1(m['max'])} | {f1(i['median'])} | {size} | {outcome} | "
              f"{calls_text(t['calls_per_start'])} |")
        w("")
        before = load_baseline()
        if before:
            w("### Before and after\n")
            w(f"The same columns (medians) next to the figures in `infra/bench/baseline.json`: {before['_about']} "
              "A negative change is smaller / faster. arm64 sizes of this code: the \"Binary sizes\" section.\n")
            w("| Function | start → /next before | after | change | peak RSS MiB before | after | change | "
              "x86_64 binary MiB before | after | change |")
            w("|---|---|---|---|---|---|---|---|---|---|")
            for t in rust:
                b = before["functions"].get(t["name"])
                if not b:
                    continue
                nxt, rss = t["start_to_next_ms"]["median"], t["peak_rss_mb"]["median"]
                size = t["binary_bytes"] / 1048576 if t.get("binary_bytes") else None
                w(f"| {t['name']} | {f2(b['start_to_next_ms_median'])} | **{f2(nxt)}** | {change(b['start_to_next_ms_median'], nxt)} | "
                  f"{f1(b['peak_rss_mib_median'])} | **{f1(rss)}** | {change(b['peak_rss_mib_median'], rss)} | "
                  f"{f1(b['x86_64_binary_mib'])} | **{f1(size) if size else '-'}** | {change(b['x86_64_binary_mib'], size)} |")
            w("")
        ga = next((t for t in rust if t["name"] == "get-availability"), None)
        if ga and peers:
            w("### get-availability: calbridge / peer\n")
            w("Same event, same moto, same emulator, same connected user, measured in the same run (interleaved). "
              "A ratio below 1 means calbridge is smaller / faster.\n")
            w("| Peer | start → /next (median) | start → response (median) | peak RSS (median) |\n|---|---|---|---|")
            for p in peers:
                def ratio(key, unit):
                    a, b = ga[key]["median"], p[key]["median"]
                    return f"{a:.1f} {unit} / {b:.1f} {unit} = **{a / b:.3f}**" if a and b else "n/a"
                w(f"| {p['name']} | {ratio('start_to_next_ms', 'ms')} | {ratio('start_to_first_response_ms', 'ms')} | "
                  f"{ratio('peak_rss_mb', 'MiB')} |")
            w("")
        elif ga:
            w("The Node.js and Python peers did not run (see `infra/bench/results/peers-setup.log`).\n")

    # ---------------------------------------------------------------- warm
    if warm:
        first = ops[0]["warm"] if ops else {}
        w("## Warm per-request cost through the local stack\n")
        w(f"`calbridge-dev` (release) with DynamoDB + KMS on moto through a counting proxy, Secrets Manager "
          f"(`GOOGLE_SECRET_ARN`) on moto, Google = the emulator with {warm['user']['busy_events_in_range']} events in the "
          f"availability week. One returning user, connected through the real OAuth flow. **cache-cold**: the first "
          f"request after a restart of the stack (empty data-key and access-token caches, as a new Lambda container). "
          f"**cache-warm**: {first.get('requests')} requests ({next((o['warm']['requests'] for o in ops if o['function'] == 'create-meet'), '-')} "
          f"for create-meet, whose every request waits for Google to finish the Meet conference), {first.get('concurrency')} in flight, "
          f"after 20 warm-up requests. The load generator, the stack, the emulator and moto share the same cores, so latency here includes "
          f"moto's (Python) time for every AWS call.\n")
        w("| Operation | function | cold: status, ms | cold: Google / KMS / DynamoDB / SM calls | warm: p50 / p90 / p99 / max ms | warm req/s | warm statuses | warm calls per 1000: Google / KMS / DynamoDB / SM |")
        w("|---|---|---|---|---|---|---|---|")
        for o in ops:
            c, wm = o["cold"], o["warm"]
            cg = group_calls(c["calls"])
            wg = group_calls(wm["calls_per_1000"])
            lat = wm["latency_ms"]
            w(f"| `{o['operation']}` | {o['function']} | {c['status']}, {c['latency_ms']:.1f} | {cg[0]:g} / {cg[1]:g} / {cg[2]:g} / {cg[3]:g} | "
              f"{f2(lat['median'])} / {f2(lat['p90'])} / {f2(lat['p99'])} / {f2(lat['max'])} | {wm['throughput_rps']:.0f} | "
              f"{', '.join(f'{k} x{v}' for k, v in wm['statuses'].items())} | {wg[0]:g} / {wg[1]:g} / {wg[2]:g} / {wg[3]:g} |")
        w("")
        fc = (warm or {}).get("connect_flow_calls")
        if fc:
            flat = {**{f"google.{k}": v for k, v in fc.get("google", {}).items()}, **fc.get("aws", {})}
            w(f"The connect flow itself (authorize + launch + consent + callback, one fresh stack): {calls_text(flat)}.\n")
        w("Calls by name (cache-cold request; cache-warm per 1000 requests):\n")
        for o in ops:
            cold_all = {**{f"google.{k}": v for k, v in o["cold"]["calls"].get("google", {}).items()}, **o["cold"]["calls"].get("aws", {})}
            warm_all = {**{f"google.{k}": v for k, v in o["warm"]["calls_per_1000"].get("google", {}).items()}, **o["warm"]["calls_per_1000"].get("aws", {})}
            w(f"- `{o['operation']}`: cold: {calls_text(cold_all)}; warm: {calls_text(warm_all)}")
        w("\n(`google.token` counts every `POST /token`; `google.token_refresh` is the refresh-grant subset of it.)\n")

    # ---------------------------------------------------------------- binary sizes
    # Written by infra/bench/sizes.sh (run.sh runs it after the release build).
    sizes = os.path.join(RESULTS, "sizes.md")
    if os.path.exists(sizes):
        with open(sizes) as f:
            w(f.read().rstrip() + "\n")

    # ---------------------------------------------------------------- criterion
    if crit:
        w("## Micro-benchmarks (criterion)\n")
        w("`cargo bench -p calbridge --bench slots --bench vault`. Median with its 95% confidence interval. "
          "`token_record/*` seals/opens a Google token pair through `tokens::seal`/`tokens::open` with the local key "
          "provider standing in for KMS (so: calbridge's own CPU cost; a real KMS call adds a network round trip, "
          "which the warm cache avoids).\n")
        w("| Benchmark | median | 95% CI |\n|---|---|---|")
        for full_id, med, lo, hi in crit:
            w(f"| `{full_id}` | **{human_ns(med)}** | {human_ns(lo)} – {human_ns(hi)} |")
        w("")

    notes = os.path.join(ROOT, "infra/bench/notes.md")
    if os.path.exists(notes):
        with open(notes) as f:
            w(f.read().rstrip() + "\n")
    with open(OUT, "w") as f:
        f.write("\n".join(out))


main()
