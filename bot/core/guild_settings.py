"""Per-guild escalation and update-cadence settings, as `/opsroom config` and
`opsroom config` name them: read from text, checked, applied, shown.

Names: `escalate_after` (minutes before an unacknowledged alert pings on-call, and between
pings), `escalate_repeats` (how many on-call pings before the escalation role),
`update_sev1` … `update_sev4` (minutes between status updates the commander is nudged
for). `0` turns that nudge off: no escalation at all, straight to the escalation role, or
no update nudges at that severity.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.core.errors import ValidationError
from bot.core.model import GuildConfig, Severity

LIMITS = {
    "escalate_after": 1440,  # a day: longer is no escalation at all (use 0)
    "escalate_repeats": 100,
    **{f"update_{s.value}": 1440 for s in Severity},
}
NAMES = tuple(LIMITS)


def parse_value(name: str, value: object) -> int:
    """One setting's value as a whole number in its range, or a one-line refusal."""
    if name not in LIMITS:
        raise ValidationError(f"Unknown setting {name!r}: use one of {', '.join(NAMES)}.")
    if isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        text = value.strip()
        if not text.isdecimal():
            raise ValidationError(f"{name} must be a whole number from 0 to {LIMITS[name]}.")
        value = int(text)
    if not isinstance(value, int) or not 0 <= value <= LIMITS[name]:
        raise ValidationError(f"{name} must be a whole number from 0 to {LIMITS[name]}.")
    return value


def parse_pairs(pairs: list[str]) -> dict[str, int]:
    """`KEY=VALUE` words from the command line, checked."""
    changes: dict[str, int] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ValidationError(f"{pair!r} is not KEY=VALUE (e.g. escalate_after=3).")
        changes[name.strip()] = parse_value(name.strip(), value)
    return changes


def apply(config: GuildConfig, changes: Mapping[str, object]) -> GuildConfig:
    """Check every change first, then apply them all (none on any refusal)."""
    checked = {name: parse_value(name, value) for name, value in changes.items()}
    for name, value in checked.items():
        if name == "escalate_after":
            config.escalation_minutes = value
        elif name == "escalate_repeats":
            config.escalation_repeats = value
        else:
            severity = Severity(name.removeprefix("update_"))
            config.update_cadence_minutes[severity] = value or None
    return config


def current(config: GuildConfig) -> dict[str, int]:
    """Every setting's value now (0 where the nudge is off)."""
    values = {
        "escalate_after": config.escalation_minutes,
        "escalate_repeats": config.escalation_repeats,
    }
    for severity in Severity:
        values[f"update_{severity.value}"] = config.update_cadence_minutes.get(severity) or 0
    return values


def describe(config: GuildConfig) -> list[str]:
    """One line per setting, saying what it does with the value it has."""
    v = current(config)
    if v["escalate_after"] == 0:
        escalation = "escalate_after = 0: alerts never escalate (no pings, no pages)"
    else:
        escalation = (
            f"escalate_after = {v['escalate_after']} min: an unacknowledged alert pings on-call "
            f"after that, then again every {v['escalate_after']} min"
        )
    lines = [
        escalation,
        f"escalate_repeats = {v['escalate_repeats']}: on-call pings before the escalation role"
        + (" (0: straight to the escalation role)" if v["escalate_repeats"] == 0 else ""),
    ]
    for severity in Severity:
        minutes = v[f"update_{severity.value}"]
        what = f"a status update every {minutes} min" if minutes else "no update nudges"
        lines.append(f"update_{severity.value} = {minutes}: {what} at {severity.value}")
    return lines
