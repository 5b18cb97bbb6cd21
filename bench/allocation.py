"""Benchmark of the workshop allocator on seeded realistic instances.

Usage: python bench/allocation.py [--quick] [--sizes 200,2000,10000] [--seed N] [--highs-limit S]

For each size it prints our wall time and peak memory (measured in a fresh subprocess), the
time of HiGHS on the full MILP of the same instance (every allowed delegate x workshop pair,
three lexicographic stages, mip_rel_gap=0), the ratio, and the comparison with FCFS.
Every result is checked by the validator. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from eventapp.allocation import Delegate, Problem, Workshop, fcfs, solve, validate  # noqa: E402

SIZES = {200: (200, 12, 3), 2000: (2000, 60, 4), 10000: (10000, 200, 4)}


def generate(n_delegates: int, n_workshops: int, n_rounds: int, seed: int = 1) -> Problem:
    """A realistic instance: Zipf topic popularity, organisations of 1-30, 3-6 choices."""
    rng = random.Random(seed)
    per_round = n_workshops // n_rounds
    n_topics = max(3, round(per_round * 1.4))
    topics = [f"topic-{i:03d}" for i in range(n_topics)]
    pop = [1.0 / (i + 1) ** 0.9 for i in range(n_topics)]
    rng.shuffle(pop)
    total_pop = sum(pop)
    workshops = []
    for r in range(1, n_rounds + 1):
        count = per_round + (1 if r <= n_workshops - per_round * n_rounds else 0)
        # Popular topics run in most rounds, the most popular ones sometimes twice a round.
        chosen = []
        weights = list(pop)
        while len(chosen) < count:
            t = rng.choices(range(n_topics), weights=weights)[0]
            chosen.append(t)
            weights[t] *= 0.15
        seats = n_delegates * rng.uniform(1.04, 1.12)
        share = sum(pop[t] for t in chosen)
        for t in chosen:
            base = seats * (0.5 * pop[t] / share + 0.5 / count)
            cap = max(4, int(base * rng.uniform(0.85, 1.15)))
            workshops.append(Workshop(f"W{len(workshops) + 1}", str(r), topics[t], cap))
    delegates = []
    org = 0
    left_in_org = 0
    sectors = ["police", "council", "health", "voluntary", "fire", "probation", "housing", "education"]
    for i in range(n_delegates):
        if left_in_org == 0:
            org += 1
            left_in_org = min(30, max(1, int(rng.paretovariate(1.2))))
        left_in_org -= 1
        k = rng.randint(3, 6)
        weights = [p / total_pop for p in pop]
        choices = []
        while len(choices) < min(k, n_topics):
            t = rng.choices(range(n_topics), weights=weights)[0]
            if topics[t] not in choices:
                choices.append(topics[t])
            weights[t] = 0.0
        delegates.append(
            Delegate(f"D{i + 1}", f"org-{org:04d}", tuple(choices), (), (), sectors[org % len(sectors)])
        )
    avg_cap = sum(w.capacity for w in workshops) / len(workshops)
    limit = max(2, math.ceil(0.12 * avg_cap))
    # A few organiser pins (keynote speakers, facilitators' colleagues).
    seats = {w.id: w.capacity for w in workshops}
    org_seats: dict[tuple[str, str], int] = {}
    for idx in rng.sample(range(n_delegates), max(1, n_delegates // 200)):
        d = delegates[idx]
        w = rng.choice(workshops)
        key = (w.id, d.organisation)
        if seats[w.id] > 0 and org_seats.get(key, 0) < limit:
            seats[w.id] -= 1
            org_seats[key] = org_seats.get(key, 0) + 1
            delegates[idx] = Delegate(d.id, d.organisation, d.choices, (w.id,), (), d.sector)
    return Problem(tuple(workshops), tuple(delegates), limit)


def with_current(problem: Problem, previous, seed: int) -> Problem:
    """A re-run: the previous allocation is published, then 3% of seats disappear."""
    rng = random.Random(seed)
    workshops = tuple(
        Workshop(w.id, w.round, w.topic, max(0, w.capacity - (rng.random() < 0.3) * max(1, w.capacity // 10)))
        for w in problem.workshops
    )
    pinned_seats: dict[str, int] = {}
    for d in problem.delegates:
        for wid in d.pinned:
            pinned_seats[wid] = pinned_seats.get(wid, 0) + 1
    workshops = tuple(Workshop(w.id, w.round, w.topic, max(w.capacity, pinned_seats.get(w.id, 0))) for w in workshops)
    delegates = tuple(
        Delegate(d.id, d.organisation, d.choices, d.pinned, previous.assignments[d.id], d.sector)
        for d in problem.delegates
    )
    return Problem(workshops, delegates, problem.max_per_organisation)


def _child(spec: dict) -> dict:
    """Run one solve in this (fresh) process and report time and peak memory."""
    problem = generate(*spec["size"], seed=spec["seed"])
    if spec.get("rerun"):
        problem = with_current(problem, solve(problem), spec["seed"])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    if spec["engine"] == "ours":
        result = solve(problem)
    else:
        result = solve(problem, method="milp", time_limit=spec.get("time_limit"))
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    validate(problem, result)
    f = fcfs(problem)
    validate(problem, f)
    return {
        "seconds": seconds,
        "peak_mb": peak / 1024,
        "base_mb": before / 1024,
        "objective": result.objective.as_dict(),
        "fcfs": f.objective.as_dict(),
        "not_worse": result.objective.key() <= f.objective.key(),
        "stats": result.stats,
    }


def run_child(spec: dict, timeout: float | None = None) -> dict:
    """Run _child in a subprocess so peak RSS belongs to that solve alone."""
    cmd = [sys.executable, __file__, "--child", json.dumps(spec)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"killed after {timeout:.0f} s"}
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Parse arguments and print one block per instance size."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="200,2000,10000")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="skip HiGHS on the 10,000 instance")
    ap.add_argument("--highs-limit", type=float, default=300.0, help="HiGHS time limit at 10,000")
    ap.add_argument("--rerun", action="store_true", help="also bench a re-run with a published allocation")
    ap.add_argument("--spread", type=int, default=0, metavar="N",
                    help="also time ours alone on N more seeds of each --spread-sizes size")
    ap.add_argument("--spread-sizes", default="200,2000")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return
    for n in [int(s) for s in args.sizes.split(",")]:
        size = SIZES.get(n, (n, max(4, n // 50), 4))
        for rerun in [False, True] if args.rerun else [False]:
            label = f"{size[0]} delegates x {size[1]} workshops x {size[2]} rounds" + (" (re-run)" if rerun else "")
            spec = {"size": size, "seed": args.seed, "rerun": rerun}
            ours = run_child({**spec, "engine": "ours"})
            print(f"== {label}")
            if "error" in ours:
                print(f"   ours: FAILED {ours['error']}")
                continue
            print(
                f"   ours : {ours['seconds']:8.2f} s  peak RSS {ours['peak_mb']:.0f} MB"
                f" (before solve {ours['base_mb']:.0f} MB)  objective {ours['objective']}  stats {ours['stats']}"
            )
            print(
                f"   fcfs : objective {ours['fcfs']}  -> ours not worse: {ours['not_worse']}"
                f"  (placed +{ours['objective']['placed'] - ours['fcfs']['placed']},"
                f" cost {ours['objective']['cost'] - ours['fcfs']['cost']:+d})"
            )
            if n >= 10000 and args.quick:
                print("   highs: skipped (--quick)")
                continue
            limit = args.highs_limit if n >= 10000 else None
            highs = run_child({**spec, "engine": "highs", "time_limit": limit}, timeout=(limit or 3000) * 4 + 120)
            if "error" in highs:
                hit = "time limit" in highs["error"] or "killed" in highs["error"]
                note = f"hit the {limit:.0f} s time limit" if hit and limit else highs["error"]
                print(f"   highs: {note}; ratio > {(limit or 0) / ours['seconds']:.0f}x" if hit and limit else f"   highs: {note}")
                continue
            same = highs["objective"] == ours["objective"]
            print(
                f"   highs: {highs['seconds']:8.2f} s  peak RSS {highs['peak_mb']:.0f} MB  objective {highs['objective']}"
                f"  same optimum: {same}"
            )
            print(f"   ratio: HiGHS / ours = {highs['seconds'] / ours['seconds']:.1f}x")
    if args.spread:
        spread(args.seed, args.spread, [int(s) for s in args.spread_sizes.split(",")])


def spread(first: int, count: int, sizes: list[int]) -> None:
    """Ours alone on more seeds: one seed can hide a slow shape (fillers the relaxation cannot seat)."""
    for n in sizes:
        size = SIZES.get(n, (n, max(4, n // 50), 4))
        seeds = list(range(first + 1, first + 1 + count))
        print(f"== spread: {size[0]} delegates x {size[1]} workshops x {size[2]} rounds, seeds {seeds[0]}-{seeds[-1]}")
        times, real_view, worse = [], [], 0
        for seed in seeds:
            got = run_child({"size": size, "seed": seed, "rerun": False, "engine": "ours"})
            if "error" in got:
                print(f"   seed {seed}: FAILED {got['error']}")
                continue
            times.append(got["seconds"])
            worse += not got["not_worse"]
            if got["stats"].get("aggregated") is not True:
                real_view.append(seed)
            print(f"   seed {seed}: {got['seconds']:7.2f} s  objective {got['objective']}  aggregated {got['stats'].get('aggregated')}")
        if times:
            times.sort()
            print(f"   min {times[0]:.2f} s, median {times[len(times) // 2]:.2f} s, max {times[-1]:.2f} s;"
                  f" solved on the real view (relaxation could not seat its fillers): {len(real_view)} of {len(times)};"
                  f" worse than first-come-first-served: {worse}")


if __name__ == "__main__":
    main()
