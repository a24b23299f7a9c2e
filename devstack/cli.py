"""`vanthu` — run the whole system on one machine and poke at it.

  vanthu up                 start everything (embedded store when MONGODB_URL is unset)
  vanthu send-test          make a simulated agency send the commune a signed document
  vanthu issue-test         hand dispatch an approved document to sign, number and issue
  vanthu status             readiness of every service
  vanthu show SERVICE PATH  GET a service's API as a member of staff (default: the clerk)
  vanthu token              a short-lived token for a member of staff, for curl
  vanthu audit verify       check every service's audit hash chain (R-4.1)
  vanthu evidence verify    check the gateway's evidence log of the axis exchange (seals, raw bytes)
  vanthu backup create|verify|restore   the store to a directory or .tar(.gz) and back (R-13)

Service APIs take only signed tokens (R-15.5); these commands mint them, as the portal would,
with the system's portal key under VAR_DIR/auth (AUTH_KEYS_DIR).
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from devstack.backup import backup_app
from devstack.evidence_cli import app as evidence_app
from devstack.processes import DEFAULT_PORTS, SERVICES
from devstack.stack import DEFAULT_AXIS_PORT, StackOptions, start_stack
from shared.config import REPO_ROOT

app = typer.Typer(help="vanthu — the commune's electronic-document system, on one machine", no_args_is_help=True)
console = Console()
audit_app = typer.Typer(help="the audit log's hash chain (R-4.1)", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
app.add_typer(evidence_app, name="evidence")
app.add_typer(backup_app, name="backup")

PROVINCE_OFFICE = "000.01.00.H56"


def _service_url(name: str) -> str:
    return f"http://127.0.0.1:{DEFAULT_PORTS[name]}"


def _keys_dir(var_dir: Path | None) -> Path:
    from shared.config import Settings

    return var_dir / "auth" if var_dir else Path(Settings().auth_keys_dir)


def _token(user: str, var_dir: Path | None = None) -> str:
    """The portal's short-lived token for a member of staff (their role from the staff file)."""
    from shared.auth import PORTAL_ISSUER, TokenIssuer
    from shared.config import Settings
    from shared.staff import load_staff

    member = load_staff(Settings().staff_file).get(user)
    if member is None:
        raise typer.BadParameter(f"no member of staff {user!r} (deploy/staff.json)", param_hint="--as")
    keys = _keys_dir(var_dir)
    if not (keys / f"{PORTAL_ISSUER}.key").exists():
        console.print(f"[red]no portal key at {keys}[/red]: is the system running (vanthu up)? else set --var-dir or AUTH_KEYS_DIR")
        raise typer.Exit(2)
    return TokenIssuer(keys, PORTAL_ISSUER).mint(member.user, member.role.value, member.name)


def _auth(user: str, var_dir: Path | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(user, var_dir)}"}


VAR_DIR_OPTION = typer.Option(None, help="the running system's var dir (default: VAR_DIR, i.e. ./var)")


@app.command()
def up(
    var_dir: Path = typer.Option(REPO_ROOT / "var", help="where data, logs and the token live"),
    axis_port: int = typer.Option(DEFAULT_AXIS_PORT),
) -> None:
    """Start RabbitMQ (if stopped), the store, the token, the local axis and the five services."""
    console.print("[bold]vanthu[/bold]: starting… (logs in %s)" % (var_dir / "logs"))
    stack = start_stack(StackOptions(var_dir=var_dir, axis_port=axis_port))
    table = Table(title="vanthu is running")
    table.add_column("process")
    table.add_column("listens at")
    table.add_column("log")
    for name in SERVICES:
        table.add_row(name, _service_url(name) + "  (/docs, /readyz, /metrics)", str(stack.processes[name].log_path))
    table.add_row("local axis", f"http://127.0.0.1:{axis_port}  (/docs)", str(stack.processes["axis"].log_path))
    table.add_row("store", stack.env["MONGODB_URL"], str(stack.processes.get("store").log_path) if "store" in stack.processes else "external")
    table.add_row("broker", stack.env["AMQP_URL"].replace("guest:guest@", ""), "")
    console.print(table)
    console.print(
        "Send a test document from the provincial office:  [bold].venv/bin/vanthu send-test[/bold]\n"
        "Issue a test document to the province:           [bold].venv/bin/vanthu issue-test[/bold]\n"
        "Ctrl-C stops everything."
    )
    stopping = False

    def _stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stopping:
            time.sleep(1)
            dead = [n for n, p in stack.processes.items() if not p.alive]
            if dead:
                console.print(f"[red]stopped unexpectedly: {', '.join(dead)}[/red] — see their logs")
                break
    except KeyboardInterrupt:
        pass
    finally:
        console.print("stopping…")
        stack.stop_all()


@app.command("send-test")
def send_test(
    sender: str = typer.Option(PROVINCE_OFFICE, help="simulated agency that sends"),
    subject: str = typer.Option("Về việc triển khai chuyển đổi số năm 2026"),
    urgency: int = typer.Option(0, help="0 thường, 1 khẩn, 2 thượng khẩn, 3 hỏa tốc"),
    fault: str = typer.Option("", help="e.g. tamper_after_signing, unsigned, broken_xml, missing_field"),
    count: int = typer.Option(1),
    axis_url: str = typer.Option(f"http://127.0.0.1:{DEFAULT_AXIS_PORT}"),
) -> None:
    """A simulated agency sends the commune a signed document through the local axis."""
    body = {"subject": subject, "urgency": urgency, "count": count}
    if fault:
        body["fault"] = fault
    response = httpx.post(f"{axis_url}/_sim/agencies/{sender}/send", json=body, timeout=60)
    response.raise_for_status()
    console.print_json(json.dumps(response.json(), ensure_ascii=False))
    console.print("Follow it: [bold].venv/bin/vanthu show intake /documents[/bold]  and  "
                  "[bold].venv/bin/vanthu show archive /records[/bold]")


@app.command("issue-test")
def issue_test(
    recipient: str = typer.Option(PROVINCE_OFFICE),
    subject: str = typer.Option("Báo cáo kết quả triển khai văn bản điện tử"),
    type_name: str = typer.Option("Báo cáo"),
    user: str = typer.Option("vanthu", "--as", help="the clerk who issues it (R-5.3)"),
    var_dir: Path = VAR_DIR_OPTION,
) -> None:
    """Hand dispatch an approved document, as the clerk: leader signature, number, agency signature, issue."""
    from shared.pdfdocs import DocumentText, render_document

    pdf = render_document(DocumentText(type_name=type_name.upper(), subject=subject, number_notation="Số:      /BC-UBND")).pdf
    response = httpx.post(
        f"{_service_url('dispatch')}/outgoing",
        files={"file": ("du-thao.pdf", pdf, "application/pdf")},
        data={"type_name": type_name, "subject": subject, "recipients": recipient, "signer_full_name": "Lê Văn Minh"},
        headers=_auth(user, var_dir),
        timeout=30,
    )
    if response.status_code in (401, 403):
        console.print(f"[red]refused ({response.status_code})[/red]: {escape(response.text)}")
        raise typer.Exit(1)
    response.raise_for_status()
    key = response.json()["id"]
    console.print(f"accepted: {key}; follow it: [bold].venv/bin/vanthu show dispatch /outgoing/{key}[/bold]")


@app.command()
def status() -> None:
    """Readiness of every service (/readyz stays open for probes: no token)."""
    for name in SERVICES:
        try:
            r = httpx.get(f"{_service_url(name)}/readyz", timeout=3)
            console.print(f"{name:9} {r.status_code} {r.text}")
        except httpx.HTTPError as exc:
            console.print(f"{name:9} [red]down[/red] ({exc})")


@app.command()
def show(
    service: str = typer.Argument(..., help="gateway, intake, dispatch, signing or archive"),
    path: str = typer.Argument(..., help="e.g. /documents, /records, /outgoing/<id>"),
    user: str = typer.Option("vanthu", "--as", help="the member of staff who asks (deploy/staff.json)"),
    var_dir: Path = VAR_DIR_OPTION,
) -> None:
    """GET a service's API as a member of staff, with the token the portal would mint for them."""
    if service not in DEFAULT_PORTS or service == "portal":
        raise typer.BadParameter(f"one of {', '.join(n for n in SERVICES if n != 'portal')}", param_hint="SERVICE")
    response = httpx.get(f"{_service_url(service)}/{path.lstrip('/')}", headers=_auth(user, var_dir), timeout=30)
    if "json" in response.headers.get("content-type", ""):
        console.print_json(json.dumps(response.json(), ensure_ascii=False))
    else:
        console.print(f"{response.status_code} {response.headers.get('content-type', '')}, {len(response.content)} octets")
    if response.status_code >= 400:
        raise typer.Exit(1)


@app.command()
def token(
    user: str = typer.Option("vanthu", "--as", help="the member of staff (deploy/staff.json)"),
    var_dir: Path = VAR_DIR_OPTION,
) -> None:
    """Print a short-lived (5 min) token, e.g. curl -H "Authorization: Bearer $(vanthu token)" …"""
    print(_token(user, var_dir))


@app.command()
def keys(directory: Path = typer.Argument(..., help="e.g. deploy/auth: private/ and public/ are made below it")) -> None:
    """Make the token issuers' Ed25519 keys for production (R-15.5): `private/<name>.key` is
    mounted into that process only, `public/*.pub` into every process (docker-compose.yml)."""
    import shutil

    from devstack.stack import ISSUERS
    from shared.auth import ensure_keys

    private, public = directory / "private", directory / "public"
    ensure_keys(private, ISSUERS)
    public.mkdir(parents=True, exist_ok=True)
    for issuer in ISSUERS:
        shutil.copyfile(private / f"{issuer}.pub", public / f"{issuer}.pub")
    print(f"keys of {', '.join(ISSUERS)}: private in {private}, public in {public}")


async def _verify_services(names: list[str]) -> list[tuple[str, str, object]]:
    from shared.audit_chain import verify_chain
    from shared.config import Settings
    from shared.db import Store

    settings = Settings()  # fresh: MONGODB_URL and DATABASE_PREFIX as they are now
    results: list[tuple[str, str, object]] = []
    for name in names:
        database = settings.database_name(name)
        store = Store(settings.mongodb_url, database, app_name="vanthu-audit")
        try:
            results.append((name, database, await verify_chain(store.db)))
        except Exception as exc:  # the store away: say so, keep checking the others
            results.append((name, database, exc))
        finally:
            await store.close()
    return results


@audit_app.command("verify")
def audit_verify(
    service: list[str] = typer.Option(None, "--service", "-s", help="service to check (repeatable); default all five"),
) -> None:
    """Recompute every service's audit hash chain; name the first broken link. Seals nothing.
    Exit 1 if a chain is broken, 2 if a store could not be read."""
    names = service or list(SERVICES)
    unknown = [n for n in names if n not in SERVICES]
    if unknown:
        raise typer.BadParameter(f"unknown service {', '.join(unknown)}; one of {', '.join(SERVICES)}", param_hint="--service")
    table = Table(title="audit hash chains")
    for column in ("service", "database", "sealed", "unsealed", "status"):
        table.add_column(column)
    broken = failed = False
    for name, database, report in asyncio.run(_verify_services(names)):
        if isinstance(report, Exception):
            failed = True
            table.add_row(name, database, "-", "-", f"[red]ERROR: {escape(str(report))}[/red]")
            continue
        broken |= not report.ok
        status_text = "[green]ok[/green]" if report.ok else f"[red]{escape(report.status())}[/red]"
        table.add_row(name, database, str(report.sealed), str(report.unsealed), status_text)
    console.print(table)
    if broken:
        raise typer.Exit(1)
    if failed:
        raise typer.Exit(2)


if __name__ == "__main__":
    app()
