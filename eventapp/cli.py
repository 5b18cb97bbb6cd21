"""Command-line tools: ``flask users create``, ``flask demo``."""
from __future__ import annotations

import functools

import click
from flask import Flask

from .domain import DomainError


def needs_current_schema(command):
    """A command that reads or writes the app's tables: on a database that is unreachable or not
    yet upgraded it says so in one line and exits 1, instead of printing an SQL traceback."""

    @functools.wraps(command)
    def checked(*args, **kwargs):
        from .ops.services import schema_problem

        problem = schema_problem()
        if problem:
            raise click.ClickException(problem)
        return command(*args, **kwargs)

    return checked


def init_app(app: Flask) -> None:
    @app.cli.group("users")
    def users() -> None:
        """Manage organiser, facilitator and reception accounts."""

    @users.command("create")
    @click.argument("email")
    @click.option("--role", type=click.Choice(["organiser", "facilitator", "reception"]), default="organiser", show_default=True)
    @click.option("--name", default="", help="The person's full name.")
    @needs_current_schema
    def create_user(email: str, role: str, name: str) -> None:
        """Create an account; prompts for the password."""
        from .accounts.services import create_user as create

        # Asked once the database is known to be ready: nobody types a password for nothing.
        password = click.prompt("Password (at least 10 characters)", hide_input=True, confirmation_prompt=True)
        try:
            user = create(email, password, role, name)
        except DomainError as err:
            raise click.ClickException(err.message) from None
        click.echo(f"Created {user.role} account {user.email}.")

    @app.cli.group("mail")
    def mail_group() -> None:
        """Deliver the outbox."""

    @mail_group.command("retry-failed")
    @needs_current_schema
    def mail_retry_failed() -> None:
        """Queue every failed message again (say after fixing the SMTP settings)."""
        from .mail.services import retry_failed

        queued, stale = retry_failed()
        click.echo(f"Queued {queued} failed messages again"
                   + (f"; {stale} out-of-date calendar messages stay failed." if stale else "."))

    @mail_group.command("send")
    @click.option("--limit", default=500, show_default=True, help="Most messages to send in this pass.")
    @needs_current_schema
    def mail_send(limit: int) -> None:
        """Send every due message once (one pass)."""
        from .mail.services import send_pending

        if not app.config.get("MAIL_SERVER"):
            raise click.ClickException("No SMTP server configured (set FLASK_MAIL_SERVER); messages stay in the outbox.")
        sent = retrying = failed = not_sent = 0
        problem = ""
        # Out-of-date emails count against the limit too: each was claimed and looked at in this pass.
        while sent + retrying + failed + not_sent < limit:
            report = send_pending(min(limit - sent - retrying - failed - not_sent,
                                      app.config.get("MAIL_BATCH_SIZE", 100)))
            if not report.handled:
                break
            sent, retrying, failed = sent + report.sent, retrying + report.retrying, failed + report.failed
            not_sent += report.not_sent
            problem = report.problem or problem
        click.echo(f"Sent {sent}, will retry {retrying}, failed {failed}"
                   + (f", not sent (out of date) {not_sent}." if not_sent else ".") + (f" {problem}" if problem else ""))

    @mail_group.command("worker")
    @click.option("--interval", default=5.0, show_default=True, help="Seconds to wait when nothing is due.")
    @click.option("--batch", default=100, show_default=True, help="Messages claimed at a time.")
    @needs_current_schema
    def mail_worker(interval: float, batch: int) -> None:
        """Deliver the outbox continuously (Ctrl-C or SIGTERM stops it after the current batch)."""
        from .mail.services import run_worker
        from .workers import stop_on_signals

        if not app.config.get("MAIL_SERVER"):
            raise click.ClickException("No SMTP server configured (set FLASK_MAIL_SERVER); messages stay in the outbox.")
        click.echo(f"Mail worker delivering to {app.config['MAIL_SERVER']}:{app.config.get('MAIL_PORT', 25)}.")
        with stop_on_signals() as stop:
            run_worker(interval=interval, limit=batch, stop=stop, echo=click.echo)
        click.echo("Mail worker stopped.")

    @mail_group.command("sink")
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=1025, show_default=True)
    @click.option("--dir", "directory", default=None, help="Where to store .eml files [instance/mail-sink].")
    def mail_sink(host: str, port: int, directory: str | None) -> None:
        """Run a local SMTP server that stores every message it receives as an .eml file."""
        from pathlib import Path

        from .mail.sink import run_sink

        target = Path(directory) if directory else Path(app.instance_path) / "mail-sink"
        click.echo(f"Mail sink on {host}:{port}, storing in {target}. Point the app at it with "
                   f"FLASK_MAIL_SERVER={host} FLASK_MAIL_PORT={port}. Ctrl-C stops.")
        try:
            run_sink(host, port, target, echo=click.echo)
        except (RuntimeError, OSError) as err:
            raise click.ClickException(str(err)) from None

    @mail_group.command("reminders")
    @click.option("--days", default=3, show_default=True, help="Remind delegates of assemblies this many days ahead.")
    @needs_current_schema
    def mail_reminders(days: int) -> None:
        """Queue a reminder to each confirmed delegate of assemblies N days away (never twice)."""
        from .invites.services import queue_reminders

        click.echo(f"Queued {queue_reminders(days)} reminders.")

    @app.cli.command("allocate")
    @click.argument("slug")
    @click.option("--publish", is_flag=True, help="Publish the allocation after computing it.")
    @needs_current_schema
    def allocate(slug: str, publish: bool) -> None:
        """Allocate an assembly's confirmed delegates to workshops (a proposal unless --publish)."""
        from .assemblies.services import get_assembly
        from .domain import NotFound
        from .placements import services as placements

        try:
            assembly = get_assembly(slug)
            job = placements.active_job(assembly)
            if job is not None:
                # Solving here too would duplicate minutes of work, and whichever finished last
                # would replace the other's proposal.
                raise click.ClickException(
                    f"An allocation of this assembly is already {job.status} in the background (job {job.id}). "
                    "Run 'flask allocate-worker --once' to run it now; its proposal appears on the allocation page.")
            run = placements.run_allocation(assembly)
        except NotFound:
            raise click.ClickException(f"No assembly has the address {slug!r}.") from None
        except DomainError as err:
            raise click.ClickException(err.message) from None
        summary = run.result["summary"]
        click.echo(f"Proposal {run.id}: {run.placed} places for {summary['delegates']} delegates, "
                   f"{summary['first_choice_delegates']} with a first choice, {len(run.result['unplaced'])} unplaced, "
                   f"{run.moves} moves, cost {run.cost}.")
        fcfs = run.result["fcfs"]
        click.echo(f"First come, first served would give: {fcfs['objective']['placed']} places, "
                   f"{fcfs['first_choice_delegates']} with a first choice, cost {fcfs['objective']['cost']}.")
        if publish:
            try:
                outcome = placements.publish(run, assembly)
            except DomainError as err:
                raise click.ClickException(err.message) from None
            click.echo(f"Published: {outcome.placed} places, {len(outcome.changed)} changed.")

    @app.cli.command("allocate-worker")
    @click.option("--interval", default=5.0, show_default=True, help="Seconds to wait when no job is queued.")
    @click.option("--once", is_flag=True, help="Run the queued jobs, then stop.")
    @needs_current_schema
    def allocate_worker(interval: float, once: bool) -> None:
        """Run the allocations organisers queued for big assemblies (Ctrl-C or SIGTERM stops it after the current one)."""
        from .placements.services import run_jobs
        from .workers import stop_on_signals

        if not once:
            click.echo("Allocation worker waiting for jobs.")
        with stop_on_signals() as stop:
            done = run_jobs(interval=interval, once=once, stop=stop, echo=click.echo)
        click.echo(f"Allocation worker stopped after {done} job{'s' if done != 1 else ''}.")

    @app.cli.command("backup")
    @click.argument("path", type=click.Path(dir_okay=False))
    def backup(path: str) -> None:
        """Write a consistent snapshot of the database (SQLite backup API or pg_dump)."""
        from .ops.services import backup as do_backup

        try:
            target = do_backup(path)
        except DomainError as err:
            raise click.ClickException(err.message) from None
        click.echo(f"Backup written to {target}.")

    @app.cli.command("restore")
    @click.argument("path", type=click.Path(dir_okay=False))
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    def restore(path: str, yes: bool) -> None:
        """Replace the database with a snapshot written by `flask backup`."""
        from .ops.services import restore as do_restore

        if not yes:
            click.confirm("This replaces everything in the database. Continue?", abort=True)
        try:
            do_restore(path)
        except DomainError as err:
            raise click.ClickException(err.message) from None
        click.echo(f"Database restored from {path}.")

    @app.cli.group("privacy")
    def privacy_group() -> None:
        """Personal data retention."""

    @privacy_group.command("purge")
    @click.option("--apply", "apply_", is_flag=True, help="Anonymise for real (default: only list what would be).")
    @needs_current_schema
    def privacy_purge(apply_: bool) -> None:
        """Anonymise registrations of archived assemblies past their retention period, and delete password-reset
        request counts older than a day (dry run by default)."""
        from .accounts.services import forget_reset_requests, stale_reset_requests
        from .registration.services import anonymise_registrations, purge_due
        from .templating import counted

        due = purge_due()
        resets = stale_reset_requests()
        if not due and not resets:
            click.echo("Nothing to purge.")
            return
        for assembly, count in due:
            if apply_:
                anonymise_registrations(assembly)
                click.echo(f"Anonymised {count} registrations of {assembly.slug}.")
            else:
                click.echo(f"Would anonymise {count} registrations of {assembly.slug}.")
        if resets:
            # Counts of an address's password-reset requests (kept as a keyed hash), of no use after their day.
            if apply_:
                click.echo(f"Deleted {counted(forget_reset_requests(), 'password-reset request count')} "
                           "older than a day.")
            else:
                click.echo(f"Would delete {counted(resets, 'password-reset request count')} older than a day.")
        if not apply_:
            click.echo("Dry run: nothing changed. Run again with --apply to anonymise.")

    @app.cli.command("demo")
    def demo() -> None:
        """Load a realistic county Community Safety Assembly (idempotent)."""
        from flask_migrate import upgrade

        from .demo import load_demo

        upgrade()
        for line in load_demo():
            click.echo(line)
