"""`paylab payments ...`: operator commands for payments (the lead wires `register` in)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer

from paylab.payment.replay import printable, replay
from paylab.payment.settings import get_payment_settings


def _print_items(
    items: Sequence[Any], as_json: bool, line: Callable[[Any], str], summary: str
) -> None:
    """One line per item (one JSON object with --json), then the summary (not with --json)."""
    for item in items:
        typer.echo(json.dumps(item.as_dict()) if as_json else line(item))
    if not as_json:
        typer.echo(summary)


def register(app: typer.Typer) -> None:
    """Add the `payments` command group to the paylab CLI."""
    payments = typer.Typer(help="Payments: event streams and their Postgres projection.")

    @payments.command("replay")
    def replay_command(
        payment_id: Annotated[str, typer.Argument(help="The payment id (its stream id)")],
        repair: Annotated[
            bool, typer.Option("--repair", help="Project the events a lagging row missed")
        ] = False,
    ) -> None:
        """Rebuild a payment from its events, print it, and say whether the row matches."""
        from paylab.payment.wiring import build

        svc = build(get_payment_settings())
        if repair:
            svc.repo.catch_up(payment_id)
        result = replay(svc.repo, payment_id)
        if result.folded is None and result.projected is None:
            typer.echo(f"no payment {payment_id}: no events, no row", err=True)
            raise typer.Exit(1)
        typer.echo(json.dumps(printable(result.folded), indent=2, default=str))
        if result.matches:
            typer.echo(
                f"OK: the Postgres row equals the fold of {result.events} events "
                f"(version {result.folded.version if result.folded else 0})."
            )
            return
        typer.echo("MISMATCH: the Postgres row differs from the events:", err=True)
        for field, (events, row) in result.differences.items():
            typer.echo(f"  {field}: events={events!r} row={row!r}", err=True)
        raise typer.Exit(1)

    @payments.command("saga")
    def saga_command(
        payment_id: Annotated[str, typer.Argument(help="The payment id (its execution's name)")],
        as_json: Annotated[bool, typer.Option("--json", help="The trace as JSON")] = False,
    ) -> None:
        """Show the payment's SAGA: each state, its tries and errors, where a Catch went.

        Exits 0 whatever the SAGA's outcome, 1 when there is no execution to show.
        """
        from paylab.payment.saga_cli import show_saga

        show_saga(payment_id, as_json=as_json)

    @payments.command("compensate")
    def compensate_command(
        payment_id: Annotated[str, typer.Argument(help="The payment id (its execution's name)")],
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Say what would run, run nothing")
        ] = False,
        as_json: Annotated[
            bool, typer.Option("--json", help="The plan and results as JSON")
        ] = False,
        force: Annotated[
            bool, typer.Option("--force", help="Run even when the payment has its outcome")
        ] = False,
    ) -> None:
        """Finish a compensation the SAGA stopped for an operator (ReversalFailed,
        CompensationFailed, a stopped execution, Notify out of retries).

        Runs the rest of the SAGA's path from where it stopped through the same Lambdas
        (ReverseCharge, ReleaseFunds, Notify; each idempotent). Exits 1 when the execution
        is running, succeeded or stopped before its compensation, when the payment already has
        its outcome (unless --force), or when a step fails.
        """
        from paylab.payment.saga_cli import compensate_saga

        compensate_saga(payment_id, dry_run=dry_run, as_json=as_json, force=force)

    @payments.command("stopped")
    def stopped_command(
        as_json: Annotated[
            bool, typer.Option("--json", help="One JSON object per payment")
        ] = False,
    ) -> None:
        """List SAGAs that ended FAILED, ABORTED or TIMED_OUT, their payment without an outcome.

        Each says where it stopped and whether `paylab payments compensate ID` can finish it.
        Exits 1 while any is listed.
        """
        from paylab.payment.saga_cli import list_stopped

        list_stopped(as_json=as_json)

    @payments.command("review")
    def review_command(
        payment_id: Annotated[str, typer.Argument(help="A payment antifraud held (cod 7)")],
        decision: Annotated[str, typer.Argument(help="approve or reject")],
        reason: Annotated[str | None, typer.Option("--reason", help="The operator's note")] = None,
    ) -> None:
        """Approve or reject a payment held for antifraud review (as POST /v1/ops/.../review)."""
        from paylab.core.problems import Problem
        from paylab.payment.review import ReviewConflict, decide_review
        from paylab.payment.review_routes import review_out
        from paylab.payment.wiring import build

        if decision not in ("approve", "reject"):
            typer.echo("decision must be approve or reject", err=True)
            raise typer.Exit(2)
        svc = build(get_payment_settings())
        try:
            state = decide_review(svc, payment_id, decision, reason)
        except ReviewConflict as conflict:
            typer.echo(f"{conflict.detail}", err=True)
            typer.echo(review_out(conflict.state).model_dump_json(indent=2))
            raise typer.Exit(1) from None
        except Problem as problem:
            typer.echo(f"{problem.status} {problem.slug}: {problem.detail}", err=True)
            raise typer.Exit(1) from None
        typer.echo(review_out(state).model_dump_json(indent=2))

    @payments.command("reconcile-refunds")
    def reconcile_refunds_command(
        older_than: Annotated[
            int,
            typer.Option(
                "--older-than", min=0, help="Seconds a reservation must be old to be settled"
            ),
        ] = 600,
        payment_id: Annotated[
            str | None, typer.Option("--payment", help="Only this payment's refunds")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON object per refund")] = False,
    ) -> None:
        """Finish or undo refunds that a failed request left reserved in the wallet.

        Cancels what the bank never refunded, completes and records what it did; exits 1
        when a refund stays in doubt or could not be settled (it is listed).
        """
        from datetime import timedelta

        from paylab.payment.partners import PartnerRejected, PartnerUnavailable
        from paylab.payment.refund_reconcile import reconcile_refunds
        from paylab.payment.wiring import build

        svc = build(get_payment_settings())
        try:
            settled = reconcile_refunds(
                svc, older_than=timedelta(seconds=older_than), payment_id=payment_id
            )
        except (PartnerUnavailable, PartnerRejected) as exc:
            typer.echo(f"cannot list the wallet's reserved refunds: {exc}", err=True)
            raise typer.Exit(1) from None
        _print_items(
            settled,
            as_json,
            lambda item: (
                f"{item.action:<10} payment {item.payment_id} refund {item.refund_id} "
                f"{item.amount}: {item.detail}"
            ),
            f"{len(settled)} reserved refund(s) older than {older_than} s looked at.",
        )
        if any(item.action in ("in-doubt", "failed") for item in settled):
            raise typer.Exit(1)

    @payments.command("late-approvals")
    def late_approvals_command(
        as_json: Annotated[
            bool, typer.Option("--json", help="One JSON object per payment")
        ] = False,
        settle_id: Annotated[
            str | None,
            typer.Option("--settle", help="Mark this payment's late approval as settled"),
        ] = None,
        note: Annotated[
            str | None,
            typer.Option("--note", help="What the operator did (with --settle; 500 characters)"),
        ] = None,
    ) -> None:
        """List PSE approvals that came after the SAGA had ended the payment otherwise.

        The payer paid at the bank, the merchant was not credited: each needs an operator
        (docs/decisions.md), who then says so with --settle ID --note TEXT. Exits 1 while any
        is listed.
        """
        from paylab.payment.late_approvals import NotLate, late_approvals, settle
        from paylab.payment.wiring import build

        svc = build(get_payment_settings())
        if settle_id is not None:
            if not (note or "").strip() or len(str(note)) > 500:
                typer.echo(
                    "--settle needs a --note of 1 to 500 characters: what was done", err=True
                )
                raise typer.Exit(2)
            try:
                done = settle(svc, settle_id, str(note).strip())
            except NotLate as exc:
                typer.echo(str(exc), err=True)
                raise typer.Exit(1) from None
            typer.echo(f"settled: payment {done.payment_id} ({done.amount} {done.currency})")
            return
        found = late_approvals(svc)
        _print_items(
            found,
            as_json,
            lambda item: (
                f"payment {item.payment_id} merchant {item.merchant_id} {item.amount} "
                f"{item.currency}: ended {item.outcome}, PSE approved transfer "
                f"{item.pse_transaction_id} at {item.confirmed_at.isoformat()}"
            ),
            f"{len(found)} PSE approval(s) at odds with their payment's outcome.",
        )
        if found:
            raise typer.Exit(1)

    app.add_typer(payments, name="payments")
