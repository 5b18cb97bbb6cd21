"""Command-line tools: ``flask users create``, ``flask demo``."""
from __future__ import annotations

import click
from flask import Flask

from .domain import DomainError


def init_app(app: Flask) -> None:
    @app.cli.group("users")
    def users() -> None:
        """Manage organiser and facilitator accounts."""

    @users.command("create")
    @click.argument("email")
    @click.option("--role", type=click.Choice(["organiser", "facilitator"]), default="organiser", show_default=True)
    @click.option("--name", default="", help="The person's full name.")
    @click.password_option(prompt="Password (at least 10 characters)")
    def create_user(email: str, role: str, name: str, password: str) -> None:
        """Create an account; prompts for the password."""
        from .accounts.services import create_user as create

        try:
            user = create(email, password, role, name)
        except DomainError as err:
            raise click.ClickException(err.message) from None
        click.echo(f"Created {user.role} account {user.email}.")

    @app.cli.group("mail")
    def mail_group() -> None:
        """Deliver the outbox."""

    @mail_group.command("send")
    @click.option("--limit", default=500, show_default=True, help="Most messages to send in this pass.")
    def mail_send(limit: int) -> None:
        """Send every due message once (one pass)."""
        from .mail.services import send_pending

        if not app.config.get("MAIL_SERVER"):
            raise click.ClickException("No SMTP server configured (set FLASK_MAIL_SERVER); messages stay in the outbox.")
        sent, failed = send_pending(limit)
        click.echo(f"Sent {sent}, failed {failed}.")

    @app.cli.command("allocate")
    @click.argument("slug")
    @click.option("--publish", is_flag=True, help="Publish the allocation after computing it.")
    def allocate(slug: str, publish: bool) -> None:
        """Allocate an assembly's confirmed delegates to workshops (a proposal unless --publish)."""
        from .assemblies.services import get_assembly
        from .domain import NotFound
        from .placements import services as placements

        try:
            assembly = get_assembly(slug)
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

    @app.cli.command("demo")
    def demo() -> None:
        """Load a realistic county Community Safety Assembly (idempotent)."""
        from flask_migrate import upgrade

        from .demo import load_demo

        upgrade()
        for line in load_demo():
            click.echo(line)
