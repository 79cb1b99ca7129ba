"""The core depends on nothing: no Discord, HTTP, database, scheduler or settings library."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import bot.core

FORBIDDEN = ("discord", "aiohttp", "sqlalchemy", "apscheduler", "pydantic", "jinja2", "alembic")
CORE = Path(bot.core.__file__).parent


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_core_sources_import_no_framework():
    """No module under bot/core names a framework in an import statement."""
    modules = sorted(CORE.rglob("*.py"))
    assert len(modules) > 5
    offenders = {
        str(p.relative_to(CORE)): sorted(_imported_roots(p) & set(FORBIDDEN)) for p in modules
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_the_core_loads_no_framework():
    """Importing every core module in a fresh interpreter pulls in no framework indirectly."""
    names = [
        "bot.core." + ".".join(p.relative_to(CORE).with_suffix("").parts)
        for p in CORE.rglob("*.py")
        if p.name != "__init__.py"
    ]
    code = (
        "import importlib, sys\n"
        f"for n in {names!r}: importlib.import_module(n)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
