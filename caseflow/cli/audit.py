"""`caseflow audit …`: verify the trail, seal it with checkpoints, write and verify
evidence packages."""

from __future__ import annotations

import sys
import time
from datetime import date

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import select

from ..audit.package import run_verifier
from ..errors import CaseflowError
from ..extensions import db
from ..models import Case
from ..services.audit import create_checkpoint, verify_everything
from ..services.context import Actor
from ..services.evidence import (
    PackageRefused,
    export_case_package,
    export_facilitator_package,
    package_evidence,
)
from .util import command_group, fail, user_named


def register(app: Flask) -> None:
    audit = command_group(app, "audit", "Audit trail: verify and seal.")

    @audit.command("verify")
    @click.option("--package", "packages", multiple=True, type=click.Path(exists=True, dir_okay=False),
                  help="An evidence package exported earlier: its newest checkpoint must still be in "
                       "the database (repeatable).")
    @with_appcontext
    def audit_verify(packages: tuple[str, ...]) -> None:
        """Walk every chain and checkpoint, and compare the checkpoints with those kept outside
        the database (the checkpoint log, and --package); exit 1 and name the first break if any,
        2 if a package is unreadable or not this server's."""
        try:
            evidence = [package_evidence(path) for path in packages]
        except PackageRefused as exc:
            fail(str(exc), 2)
        report = verify_everything(evidence=evidence)
        click.echo(f"{report.chains} chains, {report.events} events, {report.checkpoints} checkpoints checked")
        if report.ok:
            click.echo("OK: no event was altered, removed, inserted or reordered")
            return
        click.echo(f"BROKEN: {report.first_problem}", err=True)
        for problem in report.problems[1:20]:
            click.echo(f"  also: {problem}", err=True)
        sys.exit(1)

    @audit.command("verify-package")
    @click.argument("file", type=click.Path(dir_okay=False))
    @click.option("--public-key", type=click.Path(exists=True, dir_okay=False),
                  help="The server's public key (PEM) to trust; without it the package's own key is used "
                       "and its fingerprint printed for comparison.")
    def verify_package(file: str, public_key: str | None) -> None:
        """Verify an evidence package: exit 0 if it holds, 1 if tampered with, 2 if unreadable.

        Needs no database: only the package, the standard library and `cryptography`.
        """
        code = run_verifier(file, public_key, click.echo, lambda line: click.echo(line, err=True))
        sys.exit(code)

    @audit.command("checkpoint")
    @click.option("--every", type=click.IntRange(min=1), default=None, metavar="SECONDS",
                  help="Keep running and seal every SECONDS (for deployments without cron or systemd timers).")
    @click.option("--count", type=click.IntRange(min=1), default=None, hidden=True,
                  help="With --every: stop after this many rounds (tests).")
    @with_appcontext
    def audit_checkpoint(every: int | None, count: int | None) -> None:
        """Seal the current chain heads with a signed checkpoint.

        Cron line (every 10 minutes):
        */10 * * * *  cd /srv/caseflow && .venv/bin/caseflow audit checkpoint >> /var/log/caseflow-checkpoint.log 2>&1
        """
        if every is None:
            checkpoint = create_checkpoint(Actor.cli(), force=True)
            click.echo(f"checkpoint {checkpoint.id}: {checkpoint.entry_count} chain heads sealed, "
                       f"digest {checkpoint.digest}")
            return
        rounds = 0
        while True:
            started = time.monotonic()
            try:
                checkpoint = create_checkpoint(Actor.cli())
            except CaseflowError as exc:
                # A busy or read-only database is not a reason to stop sealing later.
                click.echo(f"checkpoint skipped: {exc}", err=True)
                checkpoint = None
            if checkpoint is not None:
                click.echo(f"checkpoint {checkpoint.id}: {checkpoint.entry_count} chain heads sealed, "
                           f"digest {checkpoint.digest}", )
            db.session.remove()
            rounds += 1
            if count is not None and rounds >= count:
                return
            time.sleep(max(0.0, every - (time.monotonic() - started)))

    @audit.command("export-case")
    @click.argument("case_number")
    @click.option("--as", "username", required=True, help="The auditor exporting.")
    @click.option("--out", type=click.Path(dir_okay=False, writable=True), default=None,
                  help="Where to write the ZIP (default: its own name in the current folder).")
    @with_appcontext
    def export_case(case_number: str, username: str, out: str | None) -> None:
        """Write the evidence package of one case."""
        user = user_named(username)
        case_id = db.session.execute(select(Case.id).where(Case.number == case_number)).scalar_one_or_none()
        if case_id is None:
            fail(f"no case numbered '{case_number}'")
        try:
            package = export_case_package(Actor.cli(user), case_id)
        except CaseflowError as exc:
            fail(str(exc))
        _write(package, out)

    @audit.command("export-facilitator")
    @click.argument("facilitator_username")
    @click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]))
    @click.option("--until", "end", required=True, type=click.DateTime(["%Y-%m-%d"]))
    @click.option("--as", "username", required=True, help="The auditor exporting.")
    @click.option("--out", type=click.Path(dir_okay=False, writable=True), default=None)
    @with_appcontext
    def export_facilitator(facilitator_username: str, start, end, username: str, out: str | None) -> None:
        """Write the evidence package of one facilitator's actions over a period (whole days)."""
        user = user_named(username)
        facilitator = user_named(facilitator_username, None)
        try:
            package = export_facilitator_package(Actor.cli(user), facilitator.id, date.fromordinal(
                start.toordinal()), date.fromordinal(end.toordinal()))
        except CaseflowError as exc:
            fail(str(exc))
        _write(package, out)


def _write(package, out: str | None) -> None:
    path = out or package.filename
    with open(path, "wb") as handle:
        handle.write(package.data)
    click.echo(f"wrote {path}: {package.chains} chain(s), {package.events} event(s), sha256 {package.sha256}")
