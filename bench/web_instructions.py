"""Instructions per request of the web routes, counted by valgrind (callgrind), for A/B comparisons.

Usage: python bench/web_instructions.py [--requests N] [--routes healthz,public,post,list]

bench/web.py measures what the issue asks for (requests/s against gunicorn), but on a shared
machine its figures move by 15-30% from run to run, so a change worth 3% cannot be seen in them.
This tool counts the instructions the app runs per request instead, which repeat to within about
1%: it seeds the same SQLite database as bench/web.py (10,000 delegates), then for each route
starts one process under callgrind with counting off, warms the route up through Flask's test
client, counts N requests (default 20) and prints millions of instructions per request and the
ratio to /healthz. What is not counted: gunicorn, the kernel (system calls, fsync, page faults)
and time lost to cache misses, so these ratios are not bench/web.py's. Needs valgrind
(apt-get install -y valgrind); about a minute per route. Nothing is asserted.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ROUTES = ("healthz", "public", "post", "list")
CSRF_RE = re.compile(r'name="csrf_token"[^>]*? value="([^"]+)"')


def child(route: str, requests: int, uri: str, instance: str, secret: str, flag: Path) -> None:
    """Runs under callgrind: warm up, say READY, wait for counting to start, run, say DONE."""
    from bench.web import EMAIL, PASSWORD, SLUG
    from eventapp import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": secret, "INSTANCE_PATH": instance,
                      "REQUEST_LOG": False, "RATELIMIT_ENABLED": False})
    client = app.test_client()
    if route == "post":
        page = client.get(f"/a/{SLUG}/register").get_data(as_text=True)
        topics = list(dict.fromkeys(t for t in re.findall(r'<option value="(\d+)"', page) if t != "0"))[:3]
        form = {"csrf_token": CSRF_RE.search(page).group(1), "full_name": "Counted Delegate", "job_title": "Officer",
                "organisation_name": "Bench organisation 03", "consent": "y", "join_waiting_list": "y",
                **{f"choice_{i}": t for i, t in enumerate(topics, start=1)}}

        def one():
            email = f"counted-{uuid.uuid4().hex}@example.org"
            assert client.post(f"/a/{SLUG}/register", data={**form, "email": email}).status_code == 302
    elif route == "list":
        token = CSRF_RE.search(client.get("/login").get_data(as_text=True)).group(1)
        assert client.post("/login", data={"csrf_token": token, "email": EMAIL, "password": PASSWORD}).status_code == 302
        client.get("/organiser/")  # shows (and clears) the "Signed in" message, as bench/web.py does

        def one():
            assert client.get(f"/organiser/assemblies/{SLUG}/registrations").status_code == 200
    else:
        path = {"healthz": "/healthz", "public": f"/a/{SLUG}"}[route]

        def one():
            assert client.get(path).status_code == 200
    for _ in range(10):
        one()
    print("READY", flush=True)
    while not flag.exists():
        time.sleep(0.02)
    for _ in range(requests):
        one()
    print("DONE", flush=True)
    while not Path(f"{flag}.stop").exists():
        time.sleep(0.02)


def count(route: str, requests: int, uri: str, instance: Path, secret: str, workdir: Path) -> float:
    """Millions of instructions per request of one route."""
    flag = workdir / f"go-{route}"
    out_file = workdir / f"callgrind-{route}.out"
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out_file}",
         sys.executable, __file__, "--child", route, "--requests", str(requests), "--uri", uri,
         "--instance", str(instance), "--secret", secret, "--flag", str(flag)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)

    def wait_for(word: str) -> None:
        for line in proc.stdout:
            if line.strip() == word:
                return
        raise SystemExit(f"the {route} run stopped before {word} (exit {proc.wait()})")

    try:
        wait_for("READY")
        subprocess.run(["callgrind_control", "--instr=on", str(proc.pid)], check=True, capture_output=True)
        flag.touch()
        wait_for("DONE")
        subprocess.run(["callgrind_control", "--instr=off", str(proc.pid)], check=True, capture_output=True)
        Path(f"{flag}.stop").touch()
        proc.wait(120)
    finally:
        if proc.poll() is None:
            proc.kill()
    totals = re.search(r"^totals:\s+(\d+)", out_file.read_text(), re.M)
    return int(totals.group(1)) / requests / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--routes", default=",".join(ROUTES))
    parser.add_argument("--child", choices=ROUTES, help=argparse.SUPPRESS)
    parser.add_argument("--uri", help=argparse.SUPPRESS)
    parser.add_argument("--instance", help=argparse.SUPPRESS)
    parser.add_argument("--secret", help=argparse.SUPPRESS)
    parser.add_argument("--flag", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.requests, args.uri, args.instance, args.secret, args.flag)
        return
    if not (shutil.which("valgrind") and shutil.which("callgrind_control")):
        raise SystemExit("valgrind is not installed (apt-get install -y valgrind)")
    routes = [r.strip() for r in args.routes.split(",") if r.strip()]
    unknown = set(routes) - set(ROUTES)
    if unknown:
        raise SystemExit(f"unknown routes: {', '.join(sorted(unknown))} (choose from {', '.join(ROUTES)})")
    if "healthz" not in routes:
        routes.insert(0, "healthz")

    import bench.web as web

    workdir = Path(tempfile.mkdtemp(prefix="eventapp-instr-"))
    try:
        instance = workdir / "instance"
        instance.mkdir()
        uri = f"sqlite:///{workdir / 'bench.sqlite3'}"
        started = time.perf_counter()
        web.seed(uri, instance)
        print(f"Seeded {web.DELEGATES:,} delegates into SQLite in {time.perf_counter() - started:.1f} s")
        counted = {route: count(route, args.requests, uri, instance, web.SECRET, workdir) for route in routes}
        print(f"\nin-process (Flask test client), callgrind, {args.requests} requests per route after 10 to warm up")
        print(f"{'route':10} {'M instructions/request':>24} {'healthz / route':>16}")
        for route, millions in counted.items():
            print(f"{route:10} {millions:24.3f} {counted['healthz'] / millions:16.3f}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
