"""checkup-server [--config FILE] COMMAND ...

Commands: run, migrate, token create|list|revoke, device list|requests|approve|reject|revoke|restore,
owner set|clear, exempt add|list|remove, admin create, prune, backup, audit.

Exit codes: 0 done, 3 a usage error or a failure (as the agent's ``checkup``: its 1 and 2
mean nudge and fail). Every error is one line on stderr, never a traceback.
"""
from __future__ import annotations

import argparse
import datetime as dt
import getpass
import ipaddress
import logging
import secrets
import sys

from . import __version__
from .config import ConfigError, load_config

EXIT_ERROR = 3
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


class UsageError(Exception):
    """Bad input: one line on stderr, exit 3."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print its usage and exit 2
        raise UsageError(f"{self.prog}: {message} (see 'checkup-server --help')")


def _port(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)") from None
    if not 1 <= n <= 65535:
        raise argparse.ArgumentTypeError(f"{n} is not a port number (1-65535)")
    return n


def _days(text: str) -> float:
    try:
        n = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days") from None
    if not 0 < n <= 36500:   # also refuses nan and inf
        raise argparse.ArgumentTypeError(
            f"{text} days would make a token that has already expired; give more than 0 days"
            if n <= 0 else f"{text} is not a number of days between 0 and 36500")
    return n


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n}: must be at least 1")
    return n


def _seconds(text: str) -> float:
    try:
        n = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= n <= 86400:
        raise argparse.ArgumentTypeError(f"{text}: give 0 to 86400 seconds")
    return n


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="checkup-server",
                                description="Checkup's central server: reports and fleet pages for IT.")
    p.add_argument("--config", metavar="FILE", help="server config (TOML)")
    p.add_argument("--version", action="version", version=f"checkup-server {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser("run", help="start the server (loopback by default)")
    run.add_argument("--host", help="address to listen on (default from config: 127.0.0.1)")
    run.add_argument("--port", type=_port, help="port, 1-65535 (default from config: 8465)")
    run.add_argument("--workers", type=_positive_int, default=1,
                     help="server processes (use with PostgreSQL; SQLite: keep 1)")
    run.add_argument("--ssl-certfile", help="serve https with this certificate (PEM)")
    run.add_argument("--ssl-keyfile", help="the certificate's private key (PEM)")
    run.add_argument("--forwarded-allow-ips", default="127.0.0.1",
                     help="reverse proxies trusted for X-Forwarded-Proto/For (default 127.0.0.1)")
    run.add_argument("--no-migrate", action="store_true", help="do not upgrade the schema at start")
    run.add_argument("--log-level", default="info", type=str.lower, choices=LOG_LEVELS)
    run.add_argument("--log-format", choices=("text", "json"),
                     help="json: one JSON object per line (default: $CHECKUP_SERVER_LOG_FORMAT or text)")
    run.add_argument("--graceful-timeout", type=_seconds, default=30.0, metavar="SECONDS",
                     help="on SIGTERM, let in-flight requests finish for this long (default 30)")

    sub.add_parser("migrate", help="create or upgrade the database schema")

    tok = sub.add_parser("token", help="enrollment tokens")
    tsub = tok.add_subparsers(dest="token_command", metavar="ACTION", parser_class=_Parser)
    tc = tsub.add_parser("create", help="make a token (printed once; stored hashed)")
    tc.add_argument("--label", default="", help="what it is for, e.g. 'Berlin office'")
    tc.add_argument("--expires", metavar="DAYS", type=_days,
                    help="valid for this many days (more than 0; fractions allowed)")
    tc.add_argument("--uses", metavar="N", type=_positive_int, help="at most N enrollments")
    tsub.add_parser("list", help="list tokens (never their secrets)")
    tr = tsub.add_parser("revoke", help="revoke a token")
    tr.add_argument("token_id")
    tr.add_argument("--devices", action="store_true",
                    help="also revoke every device enrolled with it (a leaked token)")

    from .api_token_cli import add_commands as add_api_token_commands   # api-token ...
    add_api_token_commands(sub, _days)
    from .alerts_cli import add_commands as add_alert_commands   # webhook ..., digest send
    add_alert_commands(sub)

    dev = sub.add_parser("device", help="enrolled devices: approvals and revocation")
    dsub = dev.add_subparsers(dest="device_command", metavar="ACTION", parser_class=_Parser)
    dl = dsub.add_parser("list", help="list devices (id, state, name, serial, last report)")
    dl.add_argument("--revoked", action="store_true", help="only revoked devices")
    dsub.add_parser("requests", help="enrollments waiting for IT (a reinstalled laptop, or "
                                     "someone else claiming to be it)")
    da = dsub.add_parser("approve", help="let a waiting computer in as the device it claims to be")
    da.add_argument("request_id")
    dj = dsub.add_parser("reject", help="turn down a waiting enrollment")
    dj.add_argument("request_id")
    dr = dsub.add_parser("revoke", help="remove a device: its secret stops working now")
    dr.add_argument("device_id")
    dsr = dsub.add_parser("restore", help="undo a revocation (the laptop then asks IT to approve it)")
    dsr.add_argument("device_id")

    adm = sub.add_parser("admin", help="IT logins for the web pages")
    asub = adm.add_subparsers(dest="admin_command", metavar="ACTION", parser_class=_Parser)
    ac = asub.add_parser("create", help="make (or reset the password of) an IT login")
    ap = asub.add_parser("passwd", help="change an IT login's password: ends its sessions "
                                        "and lifts a lockout")
    for a in (ac, ap):
        a.add_argument("username")
        a.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
        a.add_argument("--generate", action="store_true", help="generate a password and print it")
    asub.add_parser("list", help="IT logins: last login, open sessions, lockouts")
    for name, text in (("delete", "remove an IT login (ends its sessions)"),
                       ("sessions", "an IT login's open sessions"),
                       ("logout", "end every session of an IT login now"),
                       ("unlock", "let an IT login locked out by failed logins try again now")):
        asub.add_parser(name, help=text).add_argument("username")

    own = sub.add_parser("owner", help="who owns a device (IT's word beats a claim and an MDM)")
    osub = own.add_subparsers(dest="owner_command", metavar="ACTION", parser_class=_Parser)
    os_ = osub.add_parser("set", help="make EMAIL the owner of DEVICE (source: it)")
    os_.add_argument("device_id", metavar="DEVICE")
    os_.add_argument("email", metavar="EMAIL")
    osub.add_parser("clear", help="remove DEVICE's owner").add_argument("device_id", metavar="DEVICE")

    ex = sub.add_parser("exempt", help="excuse a device (or an owner's devices) from one check "
                                       "until a date, with a reason")
    xsub = ex.add_subparsers(dest="exempt_command", metavar="ACTION", parser_class=_Parser)
    xa = xsub.add_parser("add", help="exempt DEVICE (or --owner EMAIL) from CHECK until a date")
    xa.add_argument("device_id", metavar="DEVICE", nargs="?", default="")
    xa.add_argument("--owner", default="", metavar="EMAIL", help="every device this person owns")
    xa.add_argument("--check", required=True, metavar="CHECK", help="a check id, e.g. firewall")
    xa.add_argument("--until", required=True, metavar="YYYY-MM-DD", help="the last exempt day (UTC)")
    xa.add_argument("--reason", required=True, help="shown to the person next to the check")
    xl = xsub.add_parser("list", help="exemptions in force (--all: ended ones too)")
    xl.add_argument("--all", action="store_true")
    xsub.add_parser("remove", help="end an exemption now").add_argument("exemption_id", metavar="ID",
                                                                        type=_positive_int)
    sub.add_parser("prune", help="drop reports and history past their retention now")

    au = sub.add_parser("audit", help="the audit log: changes and sign-ins, newest first")
    au.add_argument("--json", action="store_true", help="a JSON array of rows (see the README)")
    au.add_argument("--action", default="", metavar="A",
                    help="only this action (e.g. sign_in, device.revoke) or a prefix ending "
                         "in '.' (device.)")
    au.add_argument("--actor", default="", metavar="X", help="only rows whose who contains X")
    au.add_argument("--result", choices=("ok", "refused"), help="only successes or refusals")
    au.add_argument("--since", type=_positive_int, metavar="DAYS", help="only the last DAYS days")
    au.add_argument("--limit", type=_positive_int, default=100, metavar="N",
                    help="at most N rows (default 100, at most 100000)")

    from .mdm.cli import add_commands as add_mdm_commands   # sync SOURCE, reconcile
    add_mdm_commands(sub)

    ev = sub.add_parser("evidence", help="what every device reported on a date, by check and "
                                         "by control (for auditors)")
    ev.add_argument("--at", required=True, metavar="DATE", help="the day (YYYY-MM-DD, UTC)")
    ev.add_argument("--to", metavar="DATE", help="through this day too (at most 92 days)")
    ev.add_argument("--format", choices=("csv", "json", "pdf"), default="json")
    ev.add_argument("--output", "-o", metavar="FILE", help="write here (a PDF needs a file)")

    bk = sub.add_parser("backup", help="copy the database while the server runs "
                                      "(SQLite: online backup; PostgreSQL: pg_dump)")
    bk.add_argument("file", help="the backup file to write (must not exist)")
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except UsageError as exc:
        _err(str(exc))
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        pass
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        logging.getLogger("checkup.server").debug("internal error", exc_info=True)
        _err(f"checkup-server: internal error: {type(exc).__name__}: {exc}")
    return EXIT_ERROR


def _err(line: str) -> None:
    print(" ".join(str(line).split("\n")), file=sys.stderr)


def _main(argv: list[str] | None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help(sys.stderr)   # a command is needed: a usage error
        return EXIT_ERROR
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        raise UsageError(f"checkup-server: {exc}") from None
    if args.command == "run":
        return _run(cfg, args)

    if args.command == "backup":   # before any migration: back up what is there
        from .ops import BackupError, backup
        try:
            print(backup(cfg.database_url, args.file))
        except BackupError as exc:
            raise UsageError(f"checkup-server: backup: {exc}") from None
        return 0

    from .db import make_engine, migrate
    engine = make_engine(cfg.database_url)
    migrate(engine)
    if args.command == "migrate":
        from .db import current_revision
        print(f"Database schema is at revision {current_revision(engine)} ({_safe_url(cfg.database_url)}).")
        return 0
    if args.command == "api-token":
        from .api_token_cli import run as run_api_token
        return run_api_token(engine, args)
    if args.command in ("webhook", "digest"):
        from .alerts_cli import run as run_alerts
        return run_alerts(engine, cfg, args)
    if args.command == "token":
        return _token(engine, args)
    if args.command == "admin":
        return _admin(engine, args)
    if args.command == "device":
        return _device(engine, args)
    if args.command == "owner":
        return _owner(engine, args)
    if args.command == "exempt":
        return _exempt(engine, args)
    if args.command in ("sync", "reconcile"):
        from .mdm.cli import run as run_mdm
        return run_mdm(engine, cfg, args)
    if args.command == "audit":
        return _audit(engine, args)
    if args.command == "evidence":
        return _evidence(engine, cfg, args)
    if args.command == "prune":
        from .ingest import prune
        n = prune(engine, int(cfg.get("server", "keep_reports_days")),
                  int(cfg.get("server", "keep_history_days")))
        print(f"Dropped {n['reports']} reports, {n['days']} history days, {n['changes']} changes.")
        return 0
    raise UsageError(f"checkup-server: unknown command {args.command!r}")


def _safe_url(url: str) -> str:
    """The database URL without its password."""
    from sqlalchemy.engine import make_url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return "(database)"


def _run(cfg, args) -> int:  # noqa: ANN001
    import uvicorn

    from .app import create_app
    from .oidc import load_settings   # [auth.oidc] that cannot work stops here: one line, exit 3
    try:
        load_settings(cfg)
    except ConfigError as exc:
        raise UsageError(f"checkup-server: {exc}") from None
    host = args.host or cfg.get("server", "host")
    port = args.port
    if port is None:
        try:
            port = _port(str(cfg.get("server", "port")))
        except argparse.ArgumentTypeError as exc:
            raise UsageError(f"checkup-server: server.port in the config: {exc}") from None
    from .ops import configure_logging
    from .serving import uvicorn_options
    log_config = configure_logging(args.log_format, args.log_level)
    # From here on every line is a log record: with --log-format json, all of stderr is JSON lines.
    log = logging.getLogger("checkup.server")
    if cfg.database_url.startswith("sqlite") and args.workers > 1:
        log.error("SQLite takes one writer; use --workers 1 or PostgreSQL.")
        return EXIT_ERROR
    if not _is_loopback(host) and not args.ssl_certfile:
        log.warning("listening on %s without TLS; put a TLS reverse proxy in front "
                    "(agents refuse plain http except to loopback).", host)
    log.info("Checkup server on %s (database: %s)", _url(host, port, bool(args.ssl_certfile)),
             _safe_url(cfg.database_url))
    common = dict(host=host, port=port, proxy_headers=True, forwarded_allow_ips=args.forwarded_allow_ips,
                  ssl_certfile=args.ssl_certfile, ssl_keyfile=args.ssl_keyfile,
                  log_level=args.log_level, access_log=False, server_header=False,
                  log_config=log_config, timeout_graceful_shutdown=args.graceful_timeout,
                  **uvicorn_options())   # request head limit, quick TLS shutdown
    try:
        if args.workers > 1:
            import os
            if not args.no_migrate:
                from .db import make_engine, migrate
                migrate(make_engine(cfg.database_url))
            if args.config:
                os.environ["CHECKUP_SERVER_CONFIG"] = args.config
            uvicorn.run("server.app_factory:app", workers=args.workers, factory=True, **common)
        else:
            app = create_app(cfg, run_migrations=not args.no_migrate)
            uvicorn.run(app, **common)
    except SystemExit as exc:   # uvicorn exits 1 when it cannot listen, after logging why
        return 0 if exc.code in (0, None) else EXIT_ERROR
    return 0


def _url(host: str, port: int, tls: bool) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"{'https' if tls else 'http'}://{shown}:{port}/"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _token(engine, args) -> int:  # noqa: ANN001
    from sqlalchemy import select, update

    from . import audit
    from .db import utcnow
    from .models import EnrollToken
    from .security import new_secret
    if args.token_command == "create":
        token_id = secrets.token_hex(6)
        secret, secret_hash = new_secret(token_id)
        now = utcnow()
        expires = now + dt.timedelta(days=args.expires) if args.expires else None
        with engine.begin() as conn:
            conn.execute(EnrollToken.__table__.insert().values(
                id=token_id, secret_hash=secret_hash, label=args.label, created_at=now,
                expires_at=expires, max_uses=args.uses, uses=0))
            audit.record(conn, actor=_who(), action="enroll_token.create", target=token_id,
                         detail=_token_limits(args.label, expires, args.uses))
        print(secret)
        limits = []
        if expires:
            limits.append(f"expires {expires:%Y-%m-%d %H:%M} UTC")
        if args.uses:
            limits.append(f"{args.uses} enrollment{'s' if args.uses != 1 else ''}")
        print(f"Enrollment token {token_id} ({', '.join(limits) or 'no expiry, unlimited uses'}). "
              "Put it in the agents' config as [server] enroll_token; it is shown only now.",
              file=sys.stderr)
        return 0
    if args.token_command == "list":
        with engine.connect() as conn:
            rows = conn.execute(select(EnrollToken).order_by(EnrollToken.created_at)).all()
        for t in rows:
            state = "revoked" if t.revoked_at else (
                "expired" if t.expires_at and t.expires_at <= utcnow() else "active")
            print(f"{t.id}  {state:8}  uses {t.uses}/{t.max_uses or '∞'}  "
                  f"expires {t.expires_at or 'never'}  {t.label}")
        return 0
    if args.token_command == "revoke":
        from .devices import revoke, token_device_ids
        with engine.begin() as conn:
            n = conn.execute(update(EnrollToken).where(EnrollToken.id == args.token_id)
                             .where(EnrollToken.revoked_at.is_(None))
                             .values(revoked_at=utcnow())).rowcount
            known = n or conn.execute(select(EnrollToken.id).where(
                EnrollToken.id == args.token_id)).first() is not None
            if n:
                audit.record(conn, actor=_who(), action="enroll_token.revoke", target=args.token_id,
                             detail="and its devices" if args.devices else "")
        if not known:
            raise UsageError(f"checkup-server: no token {args.token_id!r} "
                             "(see 'checkup-server token list')")
        said = f"Revoked {args.token_id}." if n else f"{args.token_id} was already revoked."
        if not args.devices:
            print(f"{said} Devices already enrolled keep reporting "
                  "(add --devices to revoke them too).")
            return 0
        ids = token_device_ids(engine, args.token_id)
        done = revoke(engine, ids, _who(), why=f"enrolled with revoked token {args.token_id}")
        print(f"{said} Revoked {done} device{'s' if done != 1 else ''} enrolled with it; "
              "their secrets no longer work.")
        return 0
    raise UsageError("checkup-server token: give an action: create, list or revoke")


def _audit(engine, args) -> int:  # noqa: ANN001
    from . import audit
    action = args.action.strip()
    if action and audit.AuditFilter.of(action=action).action != action:
        raise UsageError(f"checkup-server audit: unknown action {action!r}; one of: "
                         + ", ".join(audit.ACTIONS))
    f = audit.AuditFilter.of(action=action, actor=args.actor, result=args.result or "",
                             days=args.since or 0)
    with engine.connect() as conn:
        rows = audit.export(conn, f, limit=args.limit)
    if args.json:
        from .untrusted import json_text
        sys.stdout.write(json_text(rows, indent=1) + "\n")
        return 0
    if not rows:
        print("No audit rows" + (" match." if f.args() else " yet."), file=sys.stderr)
        return 0
    for r in rows:
        line = (f"{r['at']}  {'ok     ' if r['ok'] else 'REFUSED'}  {r['action']:20}  "
                f"{_clean(r['actor'])}" + (f" ({r['role']})" if r['role'] else "")
                + (f"  -> {_clean(r['target'])}" if r['target'] else "")
                + (f"  from {_clean(r['address'])}" if r['address'] else "")
                + (f"  {_clean(r['detail'])}" if r['detail'] else ""))
        print(line)
    return 0


def _who() -> str:
    """``cli:<OS user name>``: the audit log's (and the device rows') who for a command."""
    from .audit import cli_actor
    return cli_actor()


def _token_limits(label: str, expires, uses) -> str:  # noqa: ANN001
    parts = [f"label {label!r}"] if label else []
    parts.append(f"expires {expires:%Y-%m-%d %H:%M} UTC" if expires else "no expiry")
    parts.append(f"at most {uses} uses" if uses else "unlimited uses")
    return ", ".join(parts)


def _owner(engine, args) -> int:  # noqa: ANN001
    """checkup-server owner set DEVICE EMAIL | owner clear DEVICE (source it, audited)."""
    from . import owners
    if args.owner_command not in ("set", "clear"):
        raise UsageError("checkup-server owner: say set DEVICE EMAIL or clear DEVICE")
    try:
        if args.owner_command == "set":
            res = owners.set_owner(engine, args.device_id, args.email, "it", actor=_who(), role="admin")
        else:
            res = owners.clear_owner(engine, args.device_id, actor=_who(), role="admin")
    except owners.OwnerError as exc:
        raise UsageError(f"checkup-server owner {args.owner_command}: {exc}") from None
    if res.outcome == owners.NO_DEVICE:
        raise UsageError(f"checkup-server owner {args.owner_command}: no device "
                         f"{args.device_id!r} (see 'checkup-server device list')")
    print(f"Device {res.device_id}: {res.reason}.")
    return 0


def _exempt(engine, args) -> int:  # noqa: ANN001
    """checkup-server exempt add|list|remove (server/exemptions.py holds the rules; audited)."""
    from . import exemptions
    cmd = args.exempt_command
    try:
        if cmd == "add":
            ex = exemptions.create(engine, check_id=args.check, reason=args.reason, until=args.until,
                                   device_id=args.device_id, owner=args.owner, actor=_who(),
                                   role="admin")
            who = f"device {ex.device_id}" if ex.device_id else f"every device of {ex.owner}"
            print(f"Exemption #{ex.id}: {who} is exempt from {ex.check_id} until "
                  f"{ex.until.isoformat()} ({ex.reason}).")
            return 0
        if cmd == "remove":
            ex = exemptions.delete(engine, args.exemption_id, actor=_who(), role="admin")
            print(f"Exemption #{ex.id} ({ex.check_id}) removed; the check counts again.")
            return 0
        if cmd == "list":
            with engine.connect() as conn:
                rows = exemptions.listed(conn, include_ended=args.all)
            for e in rows:
                who = f"device:{e.device_id}" if e.device_id else f"owner:{e.owner}"
                print(f"#{e.id}\t{who}\t{e.check_id}\tuntil {e.until.isoformat()}\t{e.reason}")
            if not rows:
                print("No exemptions in force.")
            return 0
    except exemptions.ExemptionError as exc:
        raise UsageError(f"checkup-server exempt {cmd}: {exc}") from None
    raise UsageError("checkup-server exempt: say add, list or remove")


def _device(engine, args) -> int:  # noqa: ANN001
    from sqlalchemy import select

    from . import devices
    from .models import Device
    cmd = args.device_command
    if cmd == "list":
        q = select(Device.id, Device.revoked_at, Device.hostname, Device.serial,
                   Device.last_seen_at, Device.status).order_by(Device.hostname, Device.id)
        if args.revoked:
            q = q.where(Device.revoked_at.is_not(None))
        with engine.connect() as conn:
            waiting = {r.device_id for r in devices.pending_requests(conn, limit=100000)}
            for d in conn.execute(q):
                state = "revoked" if d.revoked_at else d.status
                extra = "  (a computer asks to be it: see 'device requests')" if d.id in waiting else ""
                print(f"{d.id}  {state:8}  {_clean(d.hostname) or '-':24}  {_clean(d.serial) or '-':16}  "
                      f"last report {d.last_seen_at or 'never'}{extra}")
        return 0
    if cmd == "requests":
        with engine.connect() as conn:
            rows = devices.pending_requests(conn, limit=100000)
        if not rows:
            print("No enrollment is waiting for IT.")
        for r in rows:
            er = r
            print(f"request {er.id}  for device {er.device_id} ({_clean(r.device_hostname) or '-'})  "
                  f"asked {er.created_at} UTC as "
                  f"{_clean(er.hostname) or '-'}, serial {_clean(er.serial) or '-'}")
        return 0
    try:
        if cmd in ("approve", "reject"):
            er = devices.decide(engine, args.request_id, cmd == "approve", _who())
            if cmd == "approve":
                print(f"Approved {er['id']}: that computer gets device {er['device_id']}'s new secret "
                      "the next time it asks (within 15 minutes, or at once with "
                      "`checkup report --now`); the device's old secret then stops working.")
            else:
                print(f"Rejected {er['id']}: device {er['device_id']} is unchanged.")
            return 0
        if cmd == "revoke":
            if devices.revoke_device(engine, args.device_id, _who()):
                print(f"Revoked {args.device_id}: its secret no longer works and it cannot enroll "
                      "again; its history is kept.")
            else:
                print(f"{args.device_id} was already revoked.")
            return 0
        if cmd == "restore":
            devices.restore(engine, args.device_id, _who())
            print(f"Restored {args.device_id}. Its old secret stays dead: the laptop's next "
                  "enrollment waits for you ('checkup-server device requests', then approve).")
            return 0
    except devices.DeviceError as exc:
        raise UsageError(f"checkup-server: {exc} (see 'checkup-server device list' and "
                         "'device requests')") from None
    raise UsageError("checkup-server device: give an action: list, requests, approve, reject, "
                     "revoke or restore")


def _clean(text) -> str:  # noqa: ANN001
    """Agent-supplied text on IT's terminal: no control characters (escape sequences)."""
    if text is None:
        return ""
    return "".join(ch if ch.isprintable() else "?" for ch in str(text))[:80]


def _admin(engine, args) -> int:  # noqa: ANN001, C901
    from sqlalchemy import delete, func, select, update

    from . import audit
    from .db import utcnow
    from .models import Admin, LoginFailure, WebSession
    from .security import hash_password
    from .sessions import LOCAL, clear_failures, live_sessions, revoke_subject
    cmd = args.admin_command
    if cmd not in ("create", "passwd", "list", "delete", "sessions", "logout", "unlock"):
        raise UsageError("checkup-server admin: give an action: create, passwd, list, delete, "
                         "sessions, logout or unlock")
    if cmd == "list":
        now = utcnow()
        with engine.connect() as conn:
            admins = conn.execute(select(Admin.username, Admin.last_login_at)
                                   .order_by(Admin.username)).all()
            open_ = dict(conn.execute(
                select(WebSession.subject, func.count()).where(
                    WebSession.auth == LOCAL, WebSession.revoked_at.is_(None),
                    WebSession.expires_at > now).group_by(WebSession.subject)).all())
            locks = dict(conn.execute(select(LoginFailure.subject, LoginFailure.locked_until).where(
                LoginFailure.auth == LOCAL, LoginFailure.locked_until > now)).all())
        for a in admins:
            n = open_.get(a.username, 0)
            line = (f"{a.username}  last login {a.last_login_at or 'never'}  "
                    f"{n} open session{'s' if n != 1 else ''}")
            if a.username in locks:
                line += f"  locked until {locks[a.username]:%Y-%m-%d %H:%M} UTC"
            print(line)
        if not admins:
            print("No IT logins yet: checkup-server admin create NAME", file=sys.stderr)
        return 0

    name = args.username
    with engine.connect() as conn:
        exists = conn.execute(select(Admin.id).where(Admin.username == name)).scalar()
    if cmd == "unlock":
        with engine.begin() as conn:
            n = clear_failures(conn, name)
            if exists or n:
                audit.record(conn, actor=_who(), action="admin.unlock", target=name,
                             detail=f"{n} failed sign-in{'s' if n != 1 else ''} forgotten")
        if not exists and not n:
            raise UsageError(f"checkup-server: no IT login {name!r} (see 'checkup-server admin list')")
        print(f"Unlocked {name}: {n} failed login{'s' if n != 1 else ''} forgotten; "
              "they can log in again now." if n else f"{name} was not locked out.")
        return 0
    if cmd != "create" and not exists:
        raise UsageError(f"checkup-server: no IT login {name!r} (see 'checkup-server admin list')")
    if cmd == "sessions":
        rows = live_sessions(engine, name)
        for r in rows:
            print(f"{r.token_hash[:8]}  since {r.created_at} UTC  last seen {r.last_seen_at} UTC  "
                  f"ends {r.expires_at} UTC  from {r.address or '?'}")
        print(f"{name}: {len(rows)} open session{'s' if len(rows) != 1 else ''}.", file=sys.stderr)
        return 0
    if cmd == "logout":
        with engine.begin() as conn:
            n = revoke_subject(conn, name)
            audit.record(conn, actor=_who(), action="admin.logout", target=name,
                         detail=f"{n} session{'s' if n != 1 else ''} ended")
        print(f"Ended {n} session{'s' if n != 1 else ''} of {name}.")
        return 0
    if cmd == "delete":
        with engine.begin() as conn:
            n = revoke_subject(conn, name)
            conn.execute(delete(Admin).where(Admin.id == exists))
            clear_failures(conn, name)
            audit.record(conn, actor=_who(), action="admin.delete", target=name,
                         detail=f"{n} session{'s' if n != 1 else ''} ended")
        print(f"Deleted IT login {name} and ended {n} session{'s' if n != 1 else ''}.")
        return 0

    # create / passwd
    if args.generate:
        password = secrets.token_urlsafe(12)
    elif args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"Password for {name}: ")
        if getpass.getpass("Again: ") != password:
            raise UsageError("checkup-server: the passwords differ")
    if len(password) < 10:
        raise UsageError("checkup-server: use a password of at least 10 characters")
    with engine.begin() as conn:
        exists = conn.execute(select(Admin.id).where(Admin.username == name)).scalar()
        if exists:
            conn.execute(update(Admin).where(Admin.id == exists)
                         .values(password_hash=hash_password(password)))
            ended = revoke_subject(conn, name)   # a new password ends every old session
            clear_failures(conn, name)
            what = "Password changed for"
            audit.record(conn, actor=_who(), action="admin.password", target=name,
                         detail=f"{ended} session{'s' if ended != 1 else ''} ended")
        else:
            conn.execute(Admin.__table__.insert().values(
                username=name, password_hash=hash_password(password), created_at=utcnow()))
            ended = 0
            what = "Created IT login"
            audit.record(conn, actor=_who(), action="admin.create", target=name)
    print(f"{what} {name}." + (f" Ended {ended} open session{'s' if ended != 1 else ''}."
                               if ended else ""))
    if args.generate:
        print(f"Password: {password}")
    return 0


if __name__ == "__main__":
    sys.exit(main())


def _evidence(engine, cfg, args) -> int:  # noqa: ANN001
    from . import evidence as ev
    from .db import utcnow
    try:
        at = ev.parse_day(args.at)
        days = ev.days_between(at, ev.parse_day(args.to) if args.to else None)
        controls = ev.load_controls(cfg.get("evidence", "controls_file", ""))
        if args.format == "pdf" and not args.output:
            raise ev.EvidenceError("a PDF needs --output FILE")
        with engine.connect() as conn:
            report = ev.evidence(conn, days, controls, today=utcnow().date())
    except ev.EvidenceError as exc:
        raise UsageError(f"checkup-server: evidence: {exc}") from None
    if args.format == "pdf":
        from .evidence_pdf import render
        data = render(report)
        with open(args.output, "wb") as fh:
            fh.write(data)
        return 0
    text = ev.to_json(report) if args.format == "json" else ev.to_csv(report)
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0
