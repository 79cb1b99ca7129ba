"""Discord's documented payload limits, answered like Discord: 400 with code 50035.

Errors are collected as (path, code, message) and nested the way Discord nests them:
``{"embeds": {"0": {"title": {"_errors": [{"code": ..., "message": ...}]}}}}``.
"""

from __future__ import annotations

import re
from typing import Any

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
EMBED_LIMITS = {"title": 256, "description": 4096}
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
AUTHOR_MAX = 256
ROWS_MAX = 5
ROW_ITEMS_MAX = 5
CUSTOM_ID_MAX = 100
LABEL_MAX = 80
SELECT_OPTIONS_MAX = 25
PLACEHOLDER_MAX = 150
NONCE_MAX = 25
FILE_MAX = 10 * 1024 * 1024
REQUEST_FILES_MAX = 25 * 1024 * 1024
COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")

Problem = tuple[tuple[Any, ...], str, str]


def too_long(path: tuple[Any, ...], limit: int) -> Problem:
    return path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."


def form_error(problems: list[Problem]) -> dict[str, Any]:
    """Discord's "Invalid Form Body" answer for the collected problems."""
    errors: dict[str, Any] = {}
    for path, code, message in problems:
        node = errors
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})
    return {"message": "Invalid Form Body", "code": 50035, "errors": errors}


def check_embeds(embeds: list[dict[str, Any]]) -> list[Problem]:
    problems: list[Problem] = []
    if len(embeds) > EMBEDS_MAX:
        return [too_long(("embeds",), EMBEDS_MAX)]
    total = 0
    for index, embed in enumerate(embeds):
        base = ("embeds", index)
        for key, limit in EMBED_LIMITS.items():
            text = embed.get(key) or ""
            total += len(text)
            if len(text) > limit:
                problems.append(too_long((*base, key), limit))
        footer = (embed.get("footer") or {}).get("text") or ""
        author = (embed.get("author") or {}).get("name") or ""
        total += len(footer) + len(author)
        if len(footer) > FOOTER_MAX:
            problems.append(too_long((*base, "footer", "text"), FOOTER_MAX))
        if len(author) > AUTHOR_MAX:
            problems.append(too_long((*base, "author", "name"), AUTHOR_MAX))
        fields = embed.get("fields") or []
        if len(fields) > FIELDS_MAX:
            problems.append(too_long((*base, "fields"), FIELDS_MAX))
        for number, item in enumerate(fields):
            name, value = item.get("name") or "", item.get("value") or ""
            total += len(name) + len(value)
            where = (*base, "fields", number)
            for key, text, limit in (
                ("name", name, FIELD_NAME_MAX),
                ("value", value, FIELD_VALUE_MAX),
            ):
                if not text:
                    problems.append(((*where, key), "BASE_TYPE_REQUIRED", "This field is required"))
                elif len(text) > limit:
                    problems.append(too_long((*where, key), limit))
    if total > EMBED_TOTAL_MAX:
        problems.append(
            (
                ("embeds",),
                "MAX_EMBED_SIZE_EXCEEDED",
                f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}",
            )
        )
    return problems


def check_components(components: list[dict[str, Any]], *, v2: bool) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    if not v2 and len(components) > ROWS_MAX:
        problems.append(too_long(("components",), ROWS_MAX))

    def walk(items: list[dict[str, Any]], path: tuple[Any, ...]) -> None:
        for index, item in enumerate(items):
            where = (*path, index)
            children = item.get("components") or []
            if item.get("type") == 1 and len(children) > ROW_ITEMS_MAX:
                problems.append(too_long((*where, "components"), ROW_ITEMS_MAX))
            custom_id = item.get("custom_id")
            if custom_id is not None:
                if len(custom_id) > CUSTOM_ID_MAX:
                    problems.append(too_long((*where, "custom_id"), CUSTOM_ID_MAX))
                if custom_id in seen:
                    problems.append(
                        (
                            (*where, "custom_id"),
                            "COMPONENT_CUSTOM_ID_DUPLICATED",
                            "Component custom id cannot be duplicated",
                        )
                    )
                seen.add(custom_id)
            if item.get("type") == 2:
                if len(item.get("label") or "") > LABEL_MAX:
                    problems.append(too_long((*where, "label"), LABEL_MAX))
                if item.get("style") in (5, 6) and custom_id is not None:
                    problems.append(
                        (
                            (*where, "custom_id"),
                            "BUTTON_COMPONENT_CUSTOM_ID_FORBIDDEN",
                            "A custom id cannot be set for link buttons",
                        )
                    )
                if item.get("style") not in (5, 6) and custom_id is None:
                    problems.append(
                        (
                            (*where, "custom_id"),
                            "BUTTON_COMPONENT_CUSTOM_ID_REQUIRED",
                            "A custom id is required",
                        )
                    )
            if len(item.get("options") or []) > SELECT_OPTIONS_MAX:
                problems.append(too_long((*where, "options"), SELECT_OPTIONS_MAX))
            if len(item.get("placeholder") or "") > PLACEHOLDER_MAX:
                problems.append(too_long((*where, "placeholder"), PLACEHOLDER_MAX))
            walk(children, (*where, "components"))
            for key in ("component", "accessory"):
                if isinstance(item.get(key), dict):
                    walk([item[key]], (*where, key))

    walk(components, ("components",))
    return problems


def check_message(payload: dict[str, Any]) -> list[Problem]:
    """Problems with a message create/edit body (empty creates are code 50006, see is_empty)."""
    problems: list[Problem] = []
    content = payload.get("content")
    if isinstance(content, str) and len(content) > CONTENT_MAX:
        problems.append(too_long(("content",), CONTENT_MAX))
    problems += check_embeds(payload.get("embeds") or [])
    v2 = bool(int(payload.get("flags") or 0) & (1 << 15))
    problems += check_components(payload.get("components") or [], v2=v2)
    nonce = payload.get("nonce")
    if nonce is not None and len(str(nonce)) > NONCE_MAX:
        problems.append(too_long(("nonce",), NONCE_MAX))
    allowed = payload.get("allowed_mentions")
    if isinstance(allowed, dict):
        parse = allowed.get("parse") or []
        for key in ("users", "roles"):
            if key in parse and allowed.get(key):
                problems.append(
                    (
                        ("allowed_mentions",),
                        "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                        f'parse:["{key}"] and {key}: [ids] are mutually exclusive.',
                    )
                )
    return problems


def is_empty(payload: dict[str, Any], *, files: int) -> bool:
    """Discord refuses a message with nothing to show (code 50006)."""
    return not (
        payload.get("content")
        or payload.get("embeds")
        or files
        or payload.get("components")
        or payload.get("sticker_ids")
        or payload.get("poll")
    )


def check_commands(commands: list[dict[str, Any]]) -> list[Problem]:
    """Command limits: slash names are 1-32 lowercase word characters or dashes (context
    menus: any 1-32 characters), descriptions 1-100, ≤25 options or choices, ≤100 commands."""
    problems: list[Problem] = []

    def check(command: dict[str, Any], path: tuple[Any, ...], slash: bool) -> None:
        name = command.get("name") or ""
        valid = COMMAND_NAME.match(name) and name == name.lower() if slash else 1 <= len(name) <= 32
        if not valid:
            problems.append(
                ((*path, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
            )
        description = command.get("description") or ""
        if slash and not 1 <= len(description) <= 100:
            problems.append(
                (
                    (*path, "description"),
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 100 in length.",
                )
            )
        options = command.get("options") or []
        if len(options) > 25:
            problems.append(too_long((*path, "options"), 25))
        if len(command.get("choices") or []) > 25:
            problems.append(too_long((*path, "choices"), 25))
        for index, option in enumerate(options):
            check(option, (*path, "options", index), True)

    if len(commands) > 100:
        problems.append(too_long((), 100))
    for index, command in enumerate(commands):
        check(command, (index,), int(command.get("type", 1)) == 1)
    return problems
