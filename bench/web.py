"""Load benchmark of the web app: wrk against gunicorn (sync workers) on 127.0.0.1.

Usage: python bench/web.py [--quick] [--pg] [--duration S] [--connections N] [--workers N] [--rounds N]
                          [--routes public,post,list]

Seeds a scratch database (a SQLite file, or with --pg a PostgreSQL database created on
postgresql://postgres@127.0.0.1/postgres and dropped afterwards) with an open assembly and
10,000 delegates (PostgreSQL is then ANALYZEd, as autovacuum would do soon after), starts one
gunicorn with the same settings for every route, and measures with wrk: /healthz (the hello-world
baseline), the public assembly page, the registration POST (a Lua script
posting the form with a valid CSRF token and session cookie, a unique email per request) and
the organiser's registrations list (signed-in cookie).
Each route is measured right after a /healthz run, in several rounds (default 3), and printed
as the medians over the rounds of requests/s, p50, p99 and the ratio to that /healthz run, with a
breakdown: the gunicorn workers' CPU time per request (from /proc, where there is one), which
says how much of a route's cost is the app's own work rather than waiting.
Targets (printed, never asserted): public ≥ 0.5, POST ≥ 0.25, organiser list ≥ 0.25.
Needs wrk (apt-get install -y wrk).
"""
from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DELEGATES = 10_000
SLUG = "bench"
EMAIL, PASSWORD = "organiser@bench.example.org", "bench password 123"
SECRET = "bench-" + uuid.uuid4().hex
CSRF_RE = re.compile(r'name="csrf_token"[^>]*? value="([^"]+)"')

POST_LUA = r"""
local counter = 0
local thread_id = 0
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  thread_id = tid
end
function request()
  counter = counter + 1
  local email = "wrk" .. thread_id .. "-" .. counter .. "-" .. RUN .. "@example.org"
  local body = BODY .. "&email=" .. email
  return wrk.format("POST", PATH, {["Content-Type"] = "application/x-www-form-urlencoded",
                                   ["Cookie"] = COOKIE}, body)
end
"""

GET_LUA = r"""
wrk.headers["Cookie"] = COOKIE
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def lua_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- database ----------------------------------------------------------------------------------


def create_pg() -> tuple[str, callable]:
    import sqlalchemy as sa

    server = sa.engine.make_url("postgresql+psycopg://postgres@127.0.0.1/postgres")
    name = f"eventapp_bench_{os.getpid()}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return server.set(database=name).render_as_string(hide_password=False), drop


def seed(uri: str, instance: Path) -> None:
    """Migrate, then an organiser, an open assembly of 3 rounds × 4 workshops and 10,000 delegates."""
    from datetime import date, datetime, time as dtime

    from flask_migrate import upgrade

    from eventapp import create_app
    from eventapp.accounts.models import User
    from eventapp.assemblies.models import Assembly, Round, Topic, Workshop
    from eventapp.extensions import db
    from eventapp.organisations.models import Organisation, name_key
    from eventapp.registration.models import Preference, Registration, email_key

    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": SECRET, "INSTANCE_PATH": str(instance),
                      "REQUEST_LOG": False})
    with app.app_context():
        upgrade()
        user = User(email=EMAIL, role="organiser", name="Bench Organiser")
        user.set_password(PASSWORD)
        assembly = Assembly(title="Benchmark Assembly", slug=SLUG, date=date(2027, 3, 18), start_time=dtime(9),
                            end_time=dtime(16), venue_name="Shireford Guildhall", capacity=1_000_000, status="open",
                            summary="Partners working together on community safety.",
                            registration_opens_at=datetime(2020, 1, 1), registration_closes_at=datetime(2099, 1, 1))
        topics = [Topic(name=f"Bench topic {i}", name_key=f"bench topic {i}") for i in range(8)]
        orgs = [Organisation(name=f"Bench organisation {i:02d}", name_key=name_key(f"Bench organisation {i:02d}"),
                             sector=("police", "health", "local_authority")[i % 3], status="approved")
                for i in range(40)]
        db.session.add_all([user, assembly, *topics, *orgs])
        db.session.flush()
        for r in range(3):
            rnd = Round(assembly=assembly, name=f"Round {r + 1}", starts_at=dtime(10 + 2 * r),
                        ends_at=dtime(11 + 2 * r), position=r + 1)
            db.session.add(rnd)
            for w in range(4):
                t = topics[(r + w) % len(topics)]
                db.session.add(Workshop(round=rnd, topic=t, title=t.name, capacity=3000, room=f"Room {w + 1}"))
        db.session.flush()
        for start in range(0, DELEGATES, 2000):
            for i in range(start, start + 2000):
                email = f"delegate{i}@example.org"
                reg = Registration(assembly_id=assembly.id, organisation_id=orgs[i % len(orgs)].id,
                                   full_name=f"Delegate {i:05d}", email=email, email_key=email_key(email),
                                   job_title="Community safety officer", status="confirmed")
                reg.preferences = [Preference(topic_id=topics[(i + k) % len(topics)].id, rank=k + 1)
                                   for k in range(3)]
                db.session.add(reg)
            db.session.flush()
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            # Planner statistics, as autovacuum gathers them within a minute of a bulk load: without
            # them PostgreSQL guesses 3 rows for 10,000 and sorts them all for every page of the list.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
        db.session.remove()
        db.engine.dispose()


# --- server and clients -------------------------------------------------------------------------


def start_gunicorn(uri: str, instance: Path, workers: int, log: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLASK_")}
    env.update({"FLASK_SQLALCHEMY_DATABASE_URI": uri, "FLASK_SECRET_KEY": SECRET,
                "FLASK_INSTANCE_PATH": str(instance), "FLASK_RATELIMIT_ENABLED": "false",
                "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")})
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class",
                                 "sync", "--bind", f"127.0.0.1:{port}", "eventapp:create_app()"],
                                env=env, cwd=instance, stdout=out, stderr=subprocess.STDOUT)
    for _ in range(300):
        try:
            if fetch(port, "GET", "/healthz")[0] == 200:
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"gunicorn did not start; see {log}")


def fetch(port: int, method: str, path: str, cookie: str = "", form: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Cookie": cookie} if cookie else {}
    body = urlencode(form) if form is not None else None
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    text = response.read().decode("utf-8", "replace")
    conn.close()
    set_cookie = response.getheader("Set-Cookie") or ""
    match = re.search(r"(session=[^;]+)", set_cookie)
    return response.status, (match.group(1) if match else cookie), text


def form_session(port: int, path: str, cookie: str = "") -> tuple[str, str]:
    status, cookie, text = fetch(port, "GET", path, cookie)
    assert status == 200, (path, status)
    return cookie, CSRF_RE.search(text).group(1)


def sign_in(port: int) -> str:
    cookie, token = form_session(port, "/login")
    status, cookie, _ = fetch(port, "POST", "/login", cookie, {"csrf_token": token, "email": EMAIL,
                                                                "password": PASSWORD})
    assert status == 302, f"sign-in answered {status}"
    # The page after sign-in shows (and clears) its "Signed in" message, as a browser would see
    # it once; without this every list request would carry it and re-sign the cookie.
    status, cookie, _ = fetch(port, "GET", "/organiser/", cookie)
    assert status == 200, f"the organiser's home answered {status}"
    return cookie


def registration_body(port: int) -> tuple[str, str]:
    cookie, token = form_session(port, f"/a/{SLUG}/register")
    _, _, page = fetch(port, "GET", f"/a/{SLUG}/register", cookie)
    choices = re.findall(r'<option value="(\d+)"', page)
    org = re.search(r'<option value="(Bench organisation \d+)"', page)
    fields = {"csrf_token": token, "full_name": "Wrk Delegate", "job_title": "Officer",
              "organisation_name": org.group(1) if org else "Bench organisation 00",
              "consent": "y", "join_waiting_list": "y"}
    for n, topic in enumerate(dict.fromkeys(c for c in choices if c != "0"), start=1):
        if n > 3:
            break
        fields[f"choice_{n}"] = topic
    body = urlencode(fields)
    status, _, text = fetch(port, "POST", f"/a/{SLUG}/register", cookie,
                            {**fields, "email": f"probe-{uuid.uuid4().hex}@example.org"})
    assert status == 302, f"the registration form was refused ({status}): check the fields posted"
    return cookie, body


def parse_duration(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def run_wrk(url: str, script: str, duration: int, connections: int, threads: int, workdir: Path) -> dict:
    path = workdir / f"script-{uuid.uuid4().hex[:6]}.lua"
    path.write_text(script)
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(path),
                          url], capture_output=True, text=True, timeout=duration + 60)
    text = out.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    p50 = parse_duration(re.search(r"\s50%\s+([\d.]+\w+)", text).group(1))
    p99 = parse_duration(re.search(r"\s99%\s+([\d.]+\w+)", text).group(1))
    requests = int(re.search(r"(\d+) requests in", text).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors:.*", text)
    return {"rps": rps, "p50": p50, "p99": p99, "requests": requests, "non_2xx_3xx": int(bad.group(1)) if bad else 0,
            "socket_errors": errors.group(0) if errors else ""}


def workers_cpu(parent: int) -> float | None:
    """CPU seconds (user + system) used so far by the children of ``parent`` (the gunicorn workers)."""
    if not os.path.isdir("/proc"):
        return None
    total = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 s per run (for CI); default 10 s")
    parser.add_argument("--pg", action="store_true", help="PostgreSQL instead of a SQLite file")
    parser.add_argument("--duration", type=int, default=None)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of measurement; medians are printed")
    parser.add_argument("--routes", default="public,post,list",
                        help="comma-separated routes to measure, of public, post, list (default: all)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    duration = args.duration or (3 if args.quick else 10)

    workdir = Path(tempfile.mkdtemp(prefix="eventapp-bench-"))
    instance = workdir / "instance"
    instance.mkdir()
    drop = None
    if args.pg:
        uri, drop = create_pg()
    else:
        uri = f"sqlite:///{workdir / 'bench.sqlite3'}"
    proc = None
    try:
        started = time.perf_counter()
        seed(uri, instance)
        print(f"Seeded {DELEGATES:,} delegates into {'PostgreSQL' if args.pg else 'SQLite'} "
              f"in {time.perf_counter() - started:.1f} s")
        proc, port = start_gunicorn(uri, instance, args.workers, workdir / "gunicorn.log")
        base = f"http://127.0.0.1:{port}"
        organiser = sign_in(port)
        reg_cookie, body = registration_body(port)
        # A filtered-out page is not the point: check the list really shows the 10,000.
        status, _, page = fetch(port, "GET", f"/organiser/assemblies/{SLUG}/registrations", organiser)
        assert status == 200 and "Delegate 00000" in page, "the organiser list did not render"

        get = GET_LUA.replace("COOKIE", lua_string(""))
        hello_route = ("hello-world /healthz", f"{base}/healthz", get, None)
        routes = [
            ("public", "public assembly page", f"{base}/a/{SLUG}", get, 0.5),
            ("post", "registration POST", f"{base}/a/{SLUG}/register",
             POST_LUA.replace("RUN", lua_string(uuid.uuid4().hex[:8])).replace("BODY", lua_string(body))
             .replace("PATH", lua_string(f"/a/{SLUG}/register")).replace("COOKIE", lua_string(reg_cookie)), 0.25),
            ("list", "organiser registrations list (10,000)", f"{base}/organiser/assemblies/{SLUG}/registrations",
             GET_LUA.replace("COOKIE", lua_string(organiser)), 0.25),
        ]
        wanted = {name.strip() for name in args.routes.split(",") if name.strip()}
        unknown = wanted - {key for key, *_ in routes}
        if unknown:
            raise SystemExit(f"unknown routes: {', '.join(sorted(unknown))} (choose from public, post, list)")
        routes = [route for key, *route in routes if key in wanted]

        def measure(url: str, script: str) -> dict:
            before = workers_cpu(proc.pid)
            result = run_wrk(url, script, duration, args.connections, 2, workdir)
            after = workers_cpu(proc.pid)
            result["cpu_ms"] = ((after - before) * 1000 / result["requests"]
                                if before is not None and after is not None and result["requests"] else None)
            return result

        # Each route is measured right after hello-world, in several rounds: a route's ratio is
        # to the hello-world run just before it, and the median over rounds is printed, so
        # another load on the machine for a few seconds moves one round, not the figure.
        runs: dict[str, list[tuple[dict, float]]] = {name: [] for name, *_ in [hello_route, *routes]}
        for _ in range(args.rounds):
            for name, url, script, _target in routes:
                hello = measure(hello_route[1], hello_route[2])
                runs[hello_route[0]].append((hello, 1.0))
                result = measure(url, script)
                runs[name].append((result, result["rps"] / hello["rps"] if hello["rps"] else 0.0))

        def median(values):
            values = sorted(v for v in values if v is not None)
            return values[len(values) // 2] if values else None

        print(f"\ngunicorn --workers {args.workers} --worker-class sync; wrk -t2 -c{args.connections} "
              f"-d{duration}s; {'PostgreSQL' if args.pg else 'SQLite'}; {os.cpu_count()} cores; "
              f"medians of {args.rounds} rounds, each route right after a hello-world run")
        print(f"{'route':42} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6} {'(min-max)':>11} "
              f"{'cpu ms/req':>10}  target")
        for name, _url, _script, target in [hello_route, *routes]:
            rs = runs[name]
            ratio = median([q for _, q in rs])
            verdict = "" if target is None else (f">= {target}: " + ("met" if ratio >= target else "NOT MET"))
            errors = sum(r["non_2xx_3xx"] for r, _ in rs)
            sockets = [r["socket_errors"] for r, _ in rs if r["socket_errors"]]
            extra = f"  [{errors} non-2xx/3xx]" if errors else ""
            extra += f"  [{'; '.join(sockets)}]" if sockets else ""
            cpu_ms = median([r["cpu_ms"] for r, _ in rs])
            cpu = f"{cpu_ms:10.2f}" if cpu_ms is not None else f"{'-':>10}"
            spread = f"{min(q for _, q in rs):.2f}-{max(q for _, q in rs):.2f}"
            print(f"{name:42} {median([r['rps'] for r, _ in rs]):9.1f} {median([r['p50'] for r, _ in rs]):8.2f} "
                  f"{median([r['p99'] for r, _ in rs]):8.2f} {ratio:6.2f} {spread:>11} {cpu}  {verdict}{extra}")
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if drop:
            drop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
