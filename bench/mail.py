"""Benchmark: render and deliver 5,000 calendar invitations to a local SMTP sink.

    python bench/mail.py [--count 5000] [--database sqlite:////tmp/bench-mail.db | postgresql://…]

Prints messages per second for
  1. queueing: sync_calendar() deciding and queueing one iMIP invite per delegate,
  2. delivery: the outbox sender (claim, build MIME, SMTP through Flask-Mail, mark sent), over the
     worker's usual MAIL_CONNECTIONS connections at once (--connections 1 for a single one),
  3. plain smtplib sending the same prebuilt messages over one connection to the same sink,
and the ratio of (2) and of (1)+(2) to (3), twice: with each email rendered as it is queued (three
templates and an iCalendar object in 1; a sync of up to CALENDAR_INLINE_MAX delegates does that), and
queued as a recipe that the sender renders (in 2; a larger sync, such as this one, does that). The sink is aiosmtpd's discarding handler in a
separate process, so it does not share a GIL with the sender. Nothing is asserted.
"""
from __future__ import annotations

import argparse
import os
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date, time as dtime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sink(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c",
                             "aiosmtpd.handlers.Sink"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("The SMTP sink did not start.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--database", default=None, help="Database URL (default: a temporary SQLite file).")
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--connections", type=int, default=None, help="SMTP connections per batch (default: the app's).")
    args = parser.parse_args()

    from flask_migrate import upgrade

    from eventapp import create_app
    from eventapp.extensions import db
    from eventapp.mail.services import DEFAULTS

    tmp = tempfile.mkdtemp(prefix="bench-mail-")
    url = args.database or f"sqlite:///{tmp}/bench.sqlite3"
    port = free_port()
    sink = start_sink(port)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "INSTANCE_PATH": tmp,
                      "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port, "PUBLIC_BASE_URL": "https://events.example.org",
                      "MAIL_BATCH_SIZE": args.batch,
                      **({"MAIL_CONNECTIONS": args.connections} if args.connections else {})})
    try:
        with app.app_context():
            if url.startswith("postgres"):
                db.drop_all()
                db.session.execute(db.text("DROP TABLE IF EXISTS alembic_version"))
                db.session.commit()
            upgrade()
            runs = {}
            # A sync of up to CALENDAR_INLINE_MAX delegates renders each email as it queues it; a larger one (this
            # size, by default) queues recipes that the sender renders: both paths, on the same data.
            for mode, inline_max in (("rendered when queued", 10 ** 9), ("rendered by the sender", 0)):
                app.config["CALENDAR_INLINE_MAX"] = inline_max
                runs[mode] = _one_run(args, app, port, mode)
    finally:
        sink.terminate()
        sink.wait()

    n = args.count
    conns = app.config.get("MAIL_CONNECTIONS", DEFAULTS["MAIL_CONNECTIONS"])
    print(f"database: {url.split('@')[-1] if '@' in url else url}")
    for mode, run in runs.items():
        print(f"== {mode}")
        print(f"invites queued:   {run['queued']:6d} in {run['render_s']:6.2f} s = "
              f"{run['queued'] / run['render_s']:8.0f} msg/s (decide + queue{', render' if 'queued' in mode else ''})")
        print(f"  of which the commit of the outbox rows:  {run['commit_s']:6.2f} s")
        print(f"outbox delivery:  {run['sent']:6d} in {run['deliver_s']:6.2f} s = {run['sent'] / run['deliver_s']:8.0f} "
              f"msg/s (claim, {'render, ' if 'sender' in mode else ''}MIME, SMTP over {conns} connection(s), mark sent)")
        print(f"plain smtplib:    {n:6d} in {run['plain_s']:6.2f} s = {n / run['plain_s']:8.0f} msg/s "
              "(same prebuilt messages)")
        print(f"(building those messages' MIME, outside every timing above: {run['mime_us']:.0f} us each)")
        print(f"ratio delivery / smtplib:            {run['plain_s'] / run['deliver_s']:.2f}")
        print(f"ratio queue+delivery / smtplib:      {run['plain_s'] / (run['render_s'] + run['deliver_s']):.2f}")


def _one_run(args, app, port: int, tag: str) -> dict:
    """Queue one invitation per delegate of a new assembly with sync_calendar, deliver them, then send the same
    messages through bare smtplib: the timings."""
    from sqlalchemy import select

    from eventapp.assemblies.models import Assembly
    from eventapp.extensions import db
    from eventapp.invites.services import sync_calendar
    from eventapp.mail.models import OutboxMessage
    from eventapp.mail.services import mime_bytes, send_pending
    from eventapp.organisations.models import Organisation
    from eventapp.registration.models import Registration

    key = f"{os.getpid()}-{tag.split()[-1]}"
    assembly = Assembly(title="Benchmark Assembly", slug=f"bench-{key}", date=date(2027, 3, 18),
                        start_time=dtime(9), end_time=dtime(16), venue_name="Shireford Guildhall",
                        venue_address="1 Market Place\nShireford", status="open", capacity=args.count)
    org = Organisation(name=f"Bench org {key}", name_key=f"bench org {key}", sector="police", status="approved")
    db.session.add_all([assembly, org])
    db.session.flush()
    db.session.add_all([Registration(assembly_id=assembly.id, organisation_id=org.id,
                                     full_name=f"Delegate {i} Ó'Brien", email=f"d{i}.{key}@example.org",
                                     email_key=f"d{i}.{key}@example.org", status="confirmed")
                        for i in range(args.count)])
    db.session.commit()
    assembly_id = assembly.id
    ids = list(db.session.scalars(select(Registration.id).where(Registration.assembly_id == assembly_id)))

    t0 = time.perf_counter()
    queued = sync_calendar(ids)
    t1 = time.perf_counter()
    db.session.commit()
    render_s = time.perf_counter() - t0
    commit_s = time.perf_counter() - t1

    t0 = time.perf_counter()
    sent = 0
    while True:
        report = send_pending(args.batch)
        if not report.handled:
            break
        sent += report.sent
    deliver_s = time.perf_counter() - t0
    db.session.remove()

    # The baseline: the very same messages, built beforehand, through bare smtplib.
    rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.assembly_id == assembly_id)
                              .order_by(OutboxMessage.id)).all()
    t0 = time.perf_counter()
    prebuilt = [(m.to_email, mime_bytes(m)) for m in rows]
    mime_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for to, raw in prebuilt:
            smtp.sendmail(app.config["ORGANISER_EMAIL"], [to], raw)
    plain_s = time.perf_counter() - t0
    return {"queued": queued, "render_s": render_s, "commit_s": commit_s, "sent": sent, "deliver_s": deliver_s,
            "plain_s": plain_s, "mime_us": mime_s / len(rows) * 1e6}


if __name__ == "__main__":
    main()
