"""`vanthu evidence verify` — check the gateway's evidence log of the axis exchange (issue 7
item 4): every entry's hash and link, every seal's RFC 3161 token (signed by the TSA, imprint =
the sealed hash, TSA certificate chained to TSA_TRUST_ROOTS or TRUST_ROOTS), every raw package's
bytes against its SHA-256. Names the first broken link; exit 1 when broken, 2 when the store
could not be read. Reads the store as MONGODB_URL and DATABASE_PREFIX say; changes nothing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

app = typer.Typer(help="the evidence log of the axis exchange (issue 7, R-13)", no_args_is_help=True)
console = Console()
SERVICES_WITH_EVIDENCE = ("gateway",)


async def _verify(service: str, tsa_ca: list[Path]):
    from services.gateway.handlers.evidence import verify
    from shared.config import Settings
    from shared.db import Store

    settings = Settings()  # fresh: the environment as it is now
    if tsa_ca:
        settings = settings.model_copy(update={"tsa_trust_roots": tsa_ca})
    elif not (settings.tsa_trust_roots or settings.trust_roots) and (local := settings.var_dir / "tsa" / "ca.crt.pem").exists():
        settings = settings.model_copy(update={"tsa_trust_roots": [local]})  # `vanthu up`'s local TSA
    store = Store(settings.mongodb_url, settings.database_name(service), app_name="vanthu-evidence")
    try:
        return settings.database_name(service), await verify(store.db, settings)
    finally:
        await store.close()


@app.command("verify")
def verify_command(
    service: str = typer.Option("gateway", "--service", "-s", help="the service whose evidence log to check"),
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON"),
    tsa_ca: list[Path] = typer.Option(None, "--tsa-ca", help="PEM of a CA the TSA must chain to (repeatable); "
                                      "default TSA_TRUST_ROOTS, else TRUST_ROOTS, else VAR_DIR/tsa/ca.crt.pem"),
) -> None:
    """Recompute the evidence log's chain, seals and raw bytes; name the first broken link."""
    if service not in SERVICES_WITH_EVIDENCE:
        raise typer.BadParameter(f"only {', '.join(SERVICES_WITH_EVIDENCE)} keeps an evidence log", param_hint="--service")
    try:
        database, report = asyncio.run(_verify(service, tsa_ca or []))
    except Exception as exc:  # the store away
        console.print(f"[red]ERROR: {escape(str(exc))}[/red]")
        raise typer.Exit(2)
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        table = Table(title="evidence log")
        for column in ("service", "database", "entries", "seals", "sealed up to", "unsealed", "status"):
            table.add_column(column)
        status = "[green]ok[/green]" if report.ok else f"[red]{escape(report.status())}[/red]"
        table.add_row(service, database, str(report.entries), str(report.seals), str(report.sealed_up_to),
                      str(report.unsealed), status)
        console.print(table)
        for problem in report.problems[1:]:
            console.print(f"  also: {escape(problem.text())}")
    if not report.ok:
        raise typer.Exit(1)
