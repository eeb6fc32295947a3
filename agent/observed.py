"""What a probe observed, in words: the one formatter behind the agent's fix pages and the
server's device page (part of the shared contract; it depends only on agent.strings).

``rows(observed, check_id)`` gives (label, words) pairs, leaving out values that do not
matter for the verdict (a lock delay of a screen lock that is off)."""
from __future__ import annotations

from typing import Any

from .strings import t

# Observed values that never matter for a verdict (not shown on the page).
_OBS_NOT_SHOWN = frozenset({"installation_type"})


def not_shown(check_id: str | None, observed: dict) -> set[str]:
    """Keys whose value does not matter for this verdict: a lock delay of a screen lock that is
    off, an empty list of settings that are off when every setting is on, a value not read."""
    hidden = {k for k, v in observed.items() if v is None or k in _OBS_NOT_SHOWN}
    if check_id == "screen_lock" and observed.get("enabled") is False:
        hidden |= {"idle_seconds", "lock_delay_seconds"}
    if check_id == "firewall" and observed.get("enabled") is False:
        hidden.add("stealth")              # stealth mode of a firewall that is off
    if check_id == "automatic_updates" and observed.get("settings_off") == []:
        hidden.add("settings_off")
    if check_id == "os_version" and observed.get("end_of_life") is False:
        hidden.add("end_of_life")
    return hidden


def observed_label(check_id: str | None, key: str) -> str | None:
    """The words for an observed field (per check first, then shared), None if it has none."""
    for name in (f"observed.{check_id}.{key}", f"observed.{key}"):
        label = t(name)
        if label != name:
            return label
    return None


def shown(key: str, value: Any) -> str:
    """An observed value in words: Yes/No, durations, lists, profiles, products."""
    if isinstance(value, bool):
        return t("value.yes") if value else t("value.no")
    if value is None:
        return t("value.none")
    if key.endswith("_seconds") and isinstance(value, int):
        if value == 0:
            return t("value.never") if key == "idle_seconds" else t("value.immediately")
        if value % 60 == 0:
            return t("value.minutes", n=value // 60)
        return t("value.seconds", n=value)
    if isinstance(value, dict):  # Windows firewall profiles
        return ", ".join(f"{str(k).capitalize()}: {t('value.on') if v else t('value.off')}"
                         if isinstance(v, bool) else f"{k}: {v}" for k, v in value.items())
    if isinstance(value, list):
        if not value:
            return t("value.none")
        parts = []
        for item in value:
            if isinstance(item, dict):  # antivirus products
                state = [t("value.on") if item.get("enabled") else t("value.off"),
                         t("value.up_to_date") if item.get("up_to_date") else t("value.out_of_date")]
                parts.append(f"{item.get('name') or '?'} ({', '.join(state)})")
            else:
                words = t(f"setting.{item}") if key == "settings_off" else str(item)
                parts.append(str(item) if words == f"setting.{item}" else words)
        return ", ".join(parts)
    return str(value)




def rows(observed: Any, check_id: str | None = None) -> list[tuple[str, str]]:
    """(label, words) for each observed value that matters; [] for no or garbled data."""
    if not isinstance(observed, dict) or not observed:
        return []
    hidden = not_shown(check_id, observed)
    return [(observed_label(check_id, str(key)) or str(key).replace("_", " "), shown(str(key), value))
            for key, value in observed.items() if key not in hidden]
