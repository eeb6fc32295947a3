"""The `checkup` command line.

Exit codes follow Nagios plugins: 0 pass, 1 nudge, 2 fail, 3 unknown / usage or
internal error. Every error is one line on stderr, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from . import __version__
from .runtime import UsageError, _err, finish_report, load_policy_for, load_settings_for, make_host

EXIT = {"pass": 0, "nudge": 1, "fail": 2, "unknown": 3}
EXIT_ERROR = 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would exit 2, which means "fail" here
        raise UsageError(f"{self.prog}: {message} (see 'checkup --help')")


def build_parser() -> argparse.ArgumentParser:
    def common_options(default):
        p = argparse.ArgumentParser(add_help=False)
        p.add_argument("--policy", metavar="FILE", default=default,
                       help="apply this policy TOML over the built-in one")
        p.add_argument("--config", metavar="FILE", default=default,
                       help="use this config TOML instead of the user's")
        return p

    # --policy/--config work before or after the command; after the command they
    # must not reset what was given before it (hence SUPPRESS there).
    common = common_options(argparse.SUPPRESS)
    parser = _Parser(
        prog="checkup", parents=[common_options(None)],
        description="Checks this computer's security settings and says how to fix what needs fixing.",
        epilog="Exit codes: 0 all good, 1 something is suggested, 2 something required is failing, "
               "3 nothing could be checked, or a usage or internal error.")
    parser.add_argument("--version", action="version", version=f"checkup {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    p = sub.add_parser("check", parents=[common], help="check this computer (the default)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--replay", metavar="FILE", help="check a capture file instead of this computer")
    p.add_argument("--date", metavar="YYYY-MM-DD",
                   help="judge end-of-support dates as on this day (default: today)")

    for name in ("explain", "fix"):
        p = sub.add_parser(name, parents=[common],
                           help="check this computer and say how to fix one check (CHECK: a check id, "
                                "e.g. firewall)" if name == "explain" else "the same as explain")
        p.add_argument("check_id", metavar="CHECK")
        p.add_argument("--replay", metavar="FILE", help="check a capture file instead of this computer")
        p.add_argument("--date", metavar="YYYY-MM-DD", help=argparse.SUPPRESS)

    p = sub.add_parser("tray", parents=[common], help="run the tray icon")
    p.add_argument("--replay", metavar="FILE", help="run on a capture file instead of this computer")
    p.add_argument("--show", action="store_true",
                   help="if a tray is already running, open its report instead of exiting quietly "
                        "(the applications menu's Checkup entry)")

    p = sub.add_parser("capture", parents=[common], help="record what the checks read into FILE")
    p.add_argument("file", metavar="FILE")

    p = sub.add_parser("policy", parents=[common], help="show the effective policy")
    p.add_argument("action", choices=["show"])

    p = sub.add_parser("config", parents=[common], help="show the effective settings")
    p.add_argument("action", choices=["show"])

    p = sub.add_parser("report", parents=[common],
                       help="check this computer and send the result (and any queued ones) to IT's server")
    p.add_argument("--now", action="store_true", help="send now, ignoring the retry wait, and say what happened")
    p.add_argument("--queued-only", action="store_true", help="send what is queued without checking first")
    p.add_argument("--replay", metavar="FILE", help="report a capture file instead of this computer")

    p = sub.add_parser("devices", parents=[common],
                       help="open the page of all your devices (and make this laptop yours)")
    p.add_argument("--no-browser", action="store_true", help="only print the link")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        command = args.command or "check"
        if command == "check":
            return cmd_check(args)
        if command in ("explain", "fix"):
            return cmd_explain(args)
        if command == "capture":
            return cmd_capture(args)
        if command == "policy":
            return cmd_policy(args)
        if command == "config":
            return cmd_config(args)
        if command == "tray":
            return cmd_tray(args)
        if command == "report":
            return cmd_report(args)
        if command == "devices":
            return cmd_devices(args)
        raise UsageError(f"checkup: unknown command {command!r}")
    except UsageError as exc:
        _err(str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_ERROR
    except BrokenPipeError:
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        _err(f"checkup: internal error: {type(exc).__name__}: {exc}")
        return EXIT_ERROR


def _run(args) -> tuple[dict, object]:
    from .pipeline import run_check
    host = make_host(getattr(args, "replay", None))
    settings = load_settings_for(args, host)
    policy = load_policy_for(args, settings)
    day = _check_date(getattr(args, "date", None))
    report = finish_report(run_check(host, policy, today=day), settings, policy, today=day,
                           remember=not getattr(args, "replay", None))
    return report, policy


def _write_pages(report: dict, policy) -> dict[str, str]:
    """The fix pages for this result (the tray's pages directory); {} if they can't be written."""
    from . import pages
    try:
        return pages.write_pages(report, getattr(policy, "organization", None))
    except OSError as exc:
        _err(f"checkup: could not write the report page: {exc}")
        return {}


def cmd_check(args) -> int:
    report, policy = _run(args)
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    else:
        from .pages import file_uri
        from .table import render_table, terminal_width
        paths = _write_pages(report, policy)
        page = file_uri(paths["report"]) if paths.get("report") else None
        sys.stdout.write(render_table(report, color=_use_color(), width=terminal_width(), page=page))
    sys.stdout.flush()
    return EXIT.get(report["status"], EXIT_ERROR)


def cmd_explain(args) -> int:
    """`checkup explain CHECK`: one check's fix steps, where to click and the link."""
    from .pages import file_uri
    from .table import render_explain, terminal_width
    report, policy = _run(args)
    wanted = str(args.check_id).strip().lower().replace("-", "_")
    check = next((c for c in report["checks"] if c.get("id") == wanted), None)
    if check is None:
        ids = ", ".join(c["id"] for c in report["checks"])
        raise UsageError(f"checkup: no check called {args.check_id!r} (the checks: {ids})")
    paths = _write_pages(report, policy)
    page = file_uri(paths[wanted]) if paths.get(wanted) else None
    sys.stdout.write(render_explain(check, width=terminal_width(), page=page))
    sys.stdout.flush()
    return EXIT.get(check["status"], EXIT_ERROR) if check["status"] != "skip" else 0


def _check_date(text: str | None):
    if text is None:
        return None
    from datetime import date
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"checkup: --date must be a day like 2026-12-02 (got {text!r})") from None


def _use_color() -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def cmd_capture(args) -> int:
    from probes.host import LiveHost, RecordingHost

    from .pipeline import probe
    host = RecordingHost(LiveHost())
    load_settings_for(args, host)  # records IT's managed configuration too
    probe(host)
    data = host.capture()
    from .state import atomic_write_text
    try:
        atomic_write_text(args.file, json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise UsageError(f"{args.file}: cannot write ({exc.strerror or exc})") from None
    print(f"Captured {len(data['commands'])} commands, {len(data['files'])} files and "
          f"{sum(len(v) for v in data['registry'].values())} registry values into {args.file}.")
    print("It contains this computer's name, serial number and running program names: "
          "share it only with your IT team.")
    return 0


def cmd_policy(args) -> int:
    settings = load_settings_for(args)
    policy = load_policy_for(args, settings)
    sys.stdout.write(policy.to_toml())
    return 0


def cmd_config(args) -> int:
    settings = load_settings_for(args)
    try:
        from .config import format_settings
    except ImportError:
        format_settings = None
    if format_settings is not None:
        sys.stdout.write(format_settings(settings))
        return 0
    for section, table in settings.values.items():
        print(f"[{section}]")
        for key, value in table.items():
            origin = settings.origin.get((section, key), "default")
            print(f"{key} = {json.dumps(value)}    # {origin}")
        print()
    return 0


def cmd_tray(args) -> int:
    try:
        from .tray import main as tray_main
    except ImportError as exc:
        raise UsageError(f"checkup tray is not available here ({exc})") from None
    return tray_main(args)


def cmd_report(args) -> int:
    """Check (unless --queued-only), queue the result, send the queue now.

    The way to report from a machine without a desktop session (cron, a
    systemd timer) and for IT to test enrollment; `checkup check` stays offline."""
    host = make_host(getattr(args, "replay", None))
    settings = load_settings_for(args, host)
    try:
        from .reporting import enabled, report_now
    except ImportError as exc:
        raise UsageError(f"reporting is not available here ({exc})") from None
    report = None
    if enabled(settings) and not args.queued_only:
        from .pipeline import run_check
        policy = load_policy_for(args, settings)
        report = finish_report(run_check(host, policy), settings, policy,
                               remember=not getattr(args, "replay", None))
    code, message = report_now(settings, report=report)
    print(message)
    return code


def cmd_devices(args) -> int:
    """Ask IT's server for a single-use link to the person's page of devices (signing in
    there makes this laptop theirs), print it and open it in the browser."""
    settings = load_settings_for(args)
    try:
        from .reporting import claim_link
    except ImportError as exc:
        raise UsageError(f"reporting is not available here ({exc})") from None
    code, message, url = claim_link(settings)
    print(message, file=sys.stdout if url else sys.stderr)
    if url and not args.no_browser:
        import webbrowser
        try:
            opened = webbrowser.open(url)
        except Exception:  # noqa: BLE001 - no browser here: the printed link still works
            opened = False
        if not opened:
            print("No web browser could be opened here: copy the link into one.", file=sys.stderr)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
