"""What every agent command shares: reading the settings and the policy, the host, and
the one-line usage error (used by agent/cli.py and the tray, agent/tray)."""
from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger("checkup")


class UsageError(Exception):
    """Bad input from the person or IT: one line, exit 3."""


def _err(line: str) -> None:
    print(line.replace("\n", " "), file=sys.stderr)


def load_settings_for(args, host=None):
    """The effective settings; IT's managed layers are read through ``host``
    (a replayed capture brings its own managed configuration)."""
    from .config import load_settings
    settings = load_settings(config_file=getattr(args, "config", None), host=host)
    for problem in settings.problems:
        _err(f"checkup: {problem}")
    if getattr(args, "config", None) and not os.path.exists(args.config):
        raise UsageError(f"{args.config}: no such file")
    return settings


def load_policy_for(args, settings=None):
    from .policy import PolicyError, load_policy
    path = getattr(args, "policy", None)
    if not path and settings is not None:
        path = settings.get("agent", "policy_file") or None
    server_text = None
    if settings is not None and settings.get("server", "url") and not getattr(args, "policy", None):
        server_text = _cached_server_policy(settings)
    try:
        return load_policy(path, text=server_text)
    except PolicyError as exc:
        if server_text is not None:  # a bad cached server policy must not stop the check
            _err(f"checkup: ignoring the cached server policy: {exc}")
            return load_policy(path)
        raise UsageError(str(exc)) from None


def _cached_server_policy(settings) -> str | None:
    """The organisation's policy last fetched from IT's server (offline; no network)."""
    try:
        from .reporting import cached_server_policy
        return cached_server_policy(settings)
    except Exception as exc:  # noqa: BLE001 - a broken cache must not stop a check
        log.warning("the cached server policy could not be read (%s: %r); checking without it",
                    type(exc).__name__, str(exc))
        return None


def make_host(replay: str | None):
    from probes.host import CaptureError, LiveHost, RecordedHost
    if not replay:
        return LiveHost()
    try:
        return RecordedHost.load(replay)
    except CaptureError as exc:
        raise UsageError(str(exc)) from None


def finish_report(report: dict, settings, policy, today=None, remember: bool = True) -> dict:  # noqa: ANN001
    """Apply what this agent remembers to a judged report: IT's exemptions (cached from the
    server), when each problem started, and the policy's grace periods (agent/exemptions.py)."""
    from .exemptions import apply
    state_dir = url = None
    try:
        from .config import user_state_dir
        state_dir = user_state_dir()
        if settings is not None and settings.get("server", "url"):
            from .reporting import check_url, enabled, server_url
            url = check_url(server_url(settings)) if enabled(settings) else None
    except Exception as exc:  # noqa: BLE001 - no state: judge without memory, say so
        log.warning("checking without remembered exemptions and failure dates (%s: %s)",
                    type(exc).__name__, exc)
    return apply(report, policy, state_dir, url, today=today, remember=remember)
