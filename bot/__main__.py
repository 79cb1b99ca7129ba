"""Entry point for ``python -m bot``: the same CLI as the ``opsroom`` console script."""

from bot.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
