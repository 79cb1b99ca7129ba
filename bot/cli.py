"""The `opsroom` command line: argument parsing and exit codes only; bot.app does the work."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from bot import __version__
from bot.config import (
    ConfigError,
    Settings,
    check_settings,
    describe_settings,
    env_name,
    load_settings,
    mask_url,
    public_url_warnings,
    raise_for_problems,
    unknown_variables,
)
from bot.core.errors import OpsroomError
from bot.logs import setup_logging

log = logging.getLogger(__name__)

SOURCES = ("uptimerobot", "alertmanager", "grafana", "events", "uptimekuma", "heartbeat")
ROLES = ("all", "web", "bot")
EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_USER = EXIT_CONFIG  # every user error (usage, setting, refusal) exits 2; 1 is a bug


def _discord_id(text: str) -> int:
    """argparse type for a Discord ID (snowflake): a positive integer."""
    if not text.isdecimal() or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a Discord ID (a positive number)")
    return int(text)


def _incident_number(text: str) -> int:
    """argparse type for an incident number such as 12 or #12."""
    digits = text.removeprefix("#")
    if not digits.isdecimal() or int(digits) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not an incident number (e.g. 12)")
    return int(digits)


def _prepare(*, for_run: bool) -> Settings:
    """Load settings, set up logging and refuse to go on with a known configuration problem."""
    settings = load_settings()
    setup_logging(settings.log_level, settings.log_format)
    for warning in unknown_variables():
        log.warning("%s", warning)
    raise_for_problems(settings, for_run=for_run)
    return settings


def _cmd_run(args: argparse.Namespace) -> int:
    """`opsroom run`: bot, webhook server and scheduler (or one role of them)."""
    settings = _prepare(for_run=args.role != "web")
    from bot import app

    asyncio.run(app.run(settings, role=args.role))
    return EXIT_OK


def _cmd_migrate(args: argparse.Namespace) -> int:
    """`opsroom migrate`: bring the database schema up to date."""
    settings = _prepare(for_run=False)
    from bot import app

    asyncio.run(app.migrate(settings))
    print(f"database {mask_url(settings.database_url)} is up to date")
    return EXIT_OK


def _cmd_sync_commands(args: argparse.Namespace) -> int:
    """`opsroom sync-commands`: push the slash commands to Discord now."""
    settings = _prepare(for_run=True)
    from bot import app

    asyncio.run(app.sync_commands(settings, args.guild))
    return EXIT_OK


def _cmd_webhook_create(args: argparse.Namespace) -> int:
    """`opsroom webhook create`: make a webhook token and print its URL once."""
    settings = _prepare(for_run=False)
    from bot import app

    schedule = {"every": args.every, "grace": args.grace} if args.every or args.grace else {}
    url = asyncio.run(
        app.create_webhook(
            settings,
            args.guild,
            args.source,
            args.name,
            args.signing_secret,
            signature_header=args.signature_header,
            timestamp_header=args.timestamp_header,
            **schedule,
        )
    )
    print(url)
    print(
        "opsroom: this URL contains the webhook's secret and is shown only once: store it now",
        file=sys.stderr,
    )
    for warning in public_url_warnings(settings.public_url):
        print(f"opsroom: warning: {warning}", file=sys.stderr)
    return EXIT_OK


def _write_picture(settings: Settings, args: argparse.Namespace) -> int:
    """`opsroom export --png FILE`: the incident's picture beside the Markdown."""
    from bot import app

    png = asyncio.run(app.export_picture(settings, args.guild, args.incident))
    try:
        Path(args.png).write_bytes(png)
    except OSError as exc:
        print(f"opsroom: cannot write {args.png}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USER
    print(f"opsroom: wrote {args.png}", file=sys.stderr)
    return EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    """`opsroom export`: write an incident's postmortem draft as Markdown."""
    settings = _prepare(for_run=False)
    from bot import app

    text = asyncio.run(app.export_postmortem(settings, args.guild, args.incident))
    if args.png is not None and (code := _write_picture(settings, args)) != EXIT_OK:
        return code
    if not text.endswith("\n"):
        text += "\n"
    if args.output in (None, "-"):
        sys.stdout.write(text)
        return EXIT_OK
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"opsroom: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USER
    print(f"opsroom: wrote {args.output}", file=sys.stderr)
    return EXIT_OK


def _cmd_check_config(args: argparse.Namespace) -> int:
    """`opsroom check-config`: list every problem, or summarise a configuration that works."""
    settings, problems = check_settings()
    setup_logging(settings.log_level, settings.log_format)
    for problem in problems:
        print(f"opsroom: {problem}", file=sys.stderr)
    for warning in unknown_variables() + public_url_warnings(settings.public_url):
        print(f"opsroom: warning: {warning}", file=sys.stderr)
    if problems:
        return EXIT_CONFIG
    print("configuration OK")
    for line in describe_settings(settings):
        print(f"  {line}")
    return EXIT_OK


def _cmd_invite(args: argparse.Namespace) -> int:
    """`opsroom invite`: the OAuth2 URL that adds the bot with exactly the permissions it uses."""
    from bot.adapters.discord import permissions

    application_id = args.application_id
    if application_id is None:
        settings = load_settings()
        token = settings.require_token()
        application_id = permissions.application_id_from_token(token)
        if application_id is None:
            raise ConfigError(
                f"cannot read the application ID from {env_name('discord_token')}: pass "
                "--application-id (Developer Portal → your application → General Information)"
            )
    print(permissions.invite_url(application_id))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """Build the `opsroom` argument parser with every subcommand (docs/commands.md lists them)."""
    parser = argparse.ArgumentParser(
        prog="opsroom",
        description="Opsroom, the Discord incident commander. Settings come from OPSROOM_* "
        "environment variables or a .env file (see `opsroom check-config`).",
    )
    parser.add_argument("--version", action="version", version=f"opsroom {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser("run", help="run the bot, webhook server and scheduler")
    run.add_argument(
        "--role",
        choices=ROLES,
        default="all",
        help="which parts to run in this process (default: all)",
    )
    run.set_defaults(handler=_cmd_run)

    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.set_defaults(handler=_cmd_migrate)

    sync = commands.add_parser("sync-commands", help="force slash-command sync with Discord")
    sync.add_argument(
        "--guild",
        type=_discord_id,
        metavar="ID",
        help="sync to this server only (default: OPSROOM_DEV_GUILD_ID if set, else globally)",
    )
    sync.set_defaults(handler=_cmd_sync_commands)

    webhook = commands.add_parser("webhook", help="manage monitor webhooks")
    webhook_commands = webhook.add_subparsers(dest="webhook_command", metavar="ACTION")
    webhook_commands.required = True
    create = webhook_commands.add_parser("create", help="create a webhook and print its URL")
    create.add_argument("--guild", type=_discord_id, required=True, metavar="ID")
    create.add_argument("--source", choices=SOURCES, required=True)
    create.add_argument("--name", help="a label to recognise the webhook by")
    create.add_argument(
        "--signing-secret",
        metavar="SECRET",
        help="grafana only: the contact point's HMAC secret; unsigned requests are refused",
    )
    create.add_argument(
        "--every", metavar="DURATION", help="heartbeat only: how often pings come, e.g. 5m"
    )
    create.add_argument(
        "--grace", metavar="DURATION", help="heartbeat only: extra wait before alerting (1m)"
    )
    for flag, default in (("signature", "X-Grafana-Alerting-Signature"), ("timestamp", "none")):
        create.add_argument(
            f"--{flag}-header",
            metavar="H",
            help=f"grafana only: the contact point's {flag} header name (default: {default})",
        )
    create.set_defaults(handler=_cmd_webhook_create)

    export = commands.add_parser("export", help="print an incident's postmortem draft (Markdown)")
    export.add_argument("--guild", type=_discord_id, required=True, metavar="ID")
    export.add_argument("--incident", type=_incident_number, required=True, metavar="N")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE, not stdout")
    export.add_argument("--png", metavar="FILE", help="also write the incident's picture (PNG)")
    export.set_defaults(handler=_cmd_export)

    check = commands.add_parser("check-config", help="validate settings, say what is missing")
    check.set_defaults(handler=_cmd_check_config)

    invite = commands.add_parser(
        "invite", help="print the URL that adds the bot to a server, with its permissions"
    )
    invite.add_argument(
        "--application-id",
        type=_discord_id,
        metavar="ID",
        help="the application's ID (default: read from OPSROOM_DISCORD_TOKEN)",
    )
    invite.set_defaults(handler=_cmd_invite)
    return parser


def _config_error_in(exc: BaseException) -> ConfigError | None:
    """Find a ConfigError in `exc` or, when a TaskGroup raised it, in its exception group."""
    if isinstance(exc, ConfigError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _config_error_in(inner)
            if found is not None:
                return found
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the `opsroom` command line and return its exit code (2: a user error, 1: a bug)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_CONFIG
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except OpsroomError as exc:  # a readable refusal (no such incident, broken template…)
        print(f"opsroom: {exc}", file=sys.stderr)
        return EXIT_USER
    except Exception as exc:
        config_error = _config_error_in(exc)
        if config_error is not None:
            print(f"opsroom: {config_error}", file=sys.stderr)
            return EXIT_CONFIG
        log.exception("opsroom %s failed", args.command)
        first_line = (str(exc).splitlines() or [""])[0]
        print(
            f"opsroom: {args.command} failed: {type(exc).__name__}: {first_line}",
            file=sys.stderr,
        )
        return EXIT_FAILED
