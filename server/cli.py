"""checkup-server [--config FILE] COMMAND ...

Commands: run, migrate, token create|list|revoke, admin create, prune, backup.
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


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="checkup-server",
                                description="Checkup's central server: reports and fleet pages for IT.")
    p.add_argument("--config", metavar="FILE", help="server config (TOML)")
    p.add_argument("--version", action="version", version=f"checkup-server {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="start the server (loopback by default)")
    run.add_argument("--host", help="address to listen on (default from config: 127.0.0.1)")
    run.add_argument("--port", type=int, help="port (default from config: 8465)")
    run.add_argument("--workers", type=int, default=1,
                     help="server processes (use with PostgreSQL; SQLite: keep 1)")
    run.add_argument("--ssl-certfile", help="serve https with this certificate (PEM)")
    run.add_argument("--ssl-keyfile", help="the certificate's private key (PEM)")
    run.add_argument("--forwarded-allow-ips", default="127.0.0.1",
                     help="reverse proxies trusted for X-Forwarded-Proto/For (default 127.0.0.1)")
    run.add_argument("--no-migrate", action="store_true", help="do not upgrade the schema at start")
    run.add_argument("--log-level", default="info")
    run.add_argument("--log-format", choices=("text", "json"),
                     help="json: one JSON object per line (default: $CHECKUP_SERVER_LOG_FORMAT or text)")
    run.add_argument("--graceful-timeout", type=float, default=30.0, metavar="SECONDS",
                     help="on SIGTERM, let in-flight requests finish for this long (default 30)")

    sub.add_parser("migrate", help="create or upgrade the database schema")

    tok = sub.add_parser("token", help="enrollment tokens")
    tsub = tok.add_subparsers(dest="token_command", metavar="ACTION")
    tc = tsub.add_parser("create", help="make a token (printed once; stored hashed)")
    tc.add_argument("--label", default="", help="what it is for, e.g. 'Berlin office'")
    tc.add_argument("--expires", metavar="DAYS", type=float, help="valid for this many days")
    tc.add_argument("--uses", metavar="N", type=int, help="at most N enrollments")
    tsub.add_parser("list", help="list tokens (never their secrets)")
    tr = tsub.add_parser("revoke", help="revoke a token")
    tr.add_argument("token_id")

    adm = sub.add_parser("admin", help="IT logins for the web pages")
    asub = adm.add_subparsers(dest="admin_command", metavar="ACTION")
    ac = asub.add_parser("create", help="make (or reset the password of) an IT login")
    ac.add_argument("username")
    ac.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    ac.add_argument("--generate", action="store_true", help="generate a password and print it")

    sub.add_parser("prune", help="drop reports and history past their retention now")

    from .mdm.cli import add_commands as add_mdm_commands   # sync SOURCE, reconcile
    add_mdm_commands(sub)

    bk = sub.add_parser("backup", help="copy the database while the server runs "
                                      "(SQLite: online backup; PostgreSQL: pg_dump)")
    bk.add_argument("file", help="the backup file to write (must not exist)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.command:
        _parser().print_help()
        return 2
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(f"checkup-server: {exc}", file=sys.stderr)
        return 2
    if args.command == "run":
        return _run(cfg, args)

    if args.command == "backup":   # before any migration: back up what is there
        from .ops import BackupError, backup
        try:
            print(backup(cfg.database_url, args.file))
        except BackupError as exc:
            print(f"checkup-server: {exc}", file=sys.stderr)
            return 1
        return 0

    from .db import make_engine, migrate
    engine = make_engine(cfg.database_url)
    migrate(engine)
    if args.command == "migrate":
        from .db import current_revision
        print(f"Database schema is at revision {current_revision(engine)} ({_safe_url(cfg.database_url)}).")
        return 0
    if args.command == "token":
        return _token(engine, args)
    if args.command == "admin":
        return _admin(engine, args)
    if args.command in ("sync", "reconcile"):
        from .mdm.cli import run as run_mdm
        return run_mdm(engine, cfg, args)
    if args.command == "prune":
        from .ingest import prune
        n = prune(engine, int(cfg.get("server", "keep_reports_days")),
                  int(cfg.get("server", "keep_history_days")))
        print(f"Dropped {n['reports']} reports, {n['days']} history days, {n['changes']} changes.")
        return 0
    return 2


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
    host = args.host or cfg.get("server", "host")
    port = args.port or int(cfg.get("server", "port"))
    from .ops import configure_logging
    log_config = configure_logging(args.log_format, args.log_level)
    if not _is_loopback(host) and not args.ssl_certfile:
        print(f"checkup-server: listening on {host} without TLS; put a TLS reverse proxy in front "
              "(agents refuse plain http except to loopback).", file=sys.stderr)
    if cfg.database_url.startswith("sqlite") and args.workers > 1:
        print("checkup-server: SQLite takes one writer; use --workers 1 or PostgreSQL.", file=sys.stderr)
        return 2
    print(f"Checkup server on {'https' if args.ssl_certfile else 'http'}://{host}:{port}/ "
          f"(database: {_safe_url(cfg.database_url)})", file=sys.stderr)
    common = dict(host=host, port=port, proxy_headers=True, forwarded_allow_ips=args.forwarded_allow_ips,
                  ssl_certfile=args.ssl_certfile, ssl_keyfile=args.ssl_keyfile,
                  log_level=args.log_level, access_log=False, server_header=False,
                  log_config=log_config, timeout_graceful_shutdown=args.graceful_timeout)
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
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _token(engine, args) -> int:  # noqa: ANN001
    from sqlalchemy import select, update

    from .db import utcnow
    from .models import EnrollToken
    from .security import new_secret
    if args.token_command == "create":
        if args.uses is not None and args.uses < 1:
            print("checkup-server: --uses must be at least 1", file=sys.stderr)
            return 2
        token_id = secrets.token_hex(6)
        secret, secret_hash = new_secret(token_id)
        now = utcnow()
        expires = now + dt.timedelta(days=args.expires) if args.expires else None
        with engine.begin() as conn:
            conn.execute(EnrollToken.__table__.insert().values(
                id=token_id, secret_hash=secret_hash, label=args.label, created_at=now,
                expires_at=expires, max_uses=args.uses, uses=0))
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
        with engine.begin() as conn:
            n = conn.execute(update(EnrollToken).where(EnrollToken.id == args.token_id)
                             .values(revoked_at=utcnow())).rowcount
        if not n:
            print(f"checkup-server: no token {args.token_id}", file=sys.stderr)
            return 1
        print(f"Revoked {args.token_id}. Devices already enrolled keep reporting.")
        return 0
    print("checkup-server token: create, list or revoke", file=sys.stderr)
    return 2


def _admin(engine, args) -> int:  # noqa: ANN001
    from sqlalchemy import select, update

    from .db import utcnow
    from .models import Admin
    from .security import hash_password
    if args.admin_command != "create":
        print("checkup-server admin: create", file=sys.stderr)
        return 2
    if args.generate:
        password = secrets.token_urlsafe(12)
    elif args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"Password for {args.username}: ")
        if getpass.getpass("Again: ") != password:
            print("checkup-server: the passwords differ", file=sys.stderr)
            return 1
    if len(password) < 10:
        print("checkup-server: use a password of at least 10 characters", file=sys.stderr)
        return 1
    with engine.begin() as conn:
        exists = conn.execute(select(Admin.id).where(Admin.username == args.username)).scalar()
        if exists:
            conn.execute(update(Admin).where(Admin.id == exists)
                         .values(password_hash=hash_password(password)))
            what = "Password changed for"
        else:
            conn.execute(Admin.__table__.insert().values(
                username=args.username, password_hash=hash_password(password), created_at=utcnow()))
            what = "Created IT login"
    print(f"{what} {args.username}.")
    if args.generate:
        print(f"Password: {password}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
