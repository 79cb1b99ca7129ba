"""A plain clone is self-contained: no file refers outside the repository, and the tests that
read captured payloads find them inside the clone."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The documents that sat beside the repository while it was built; none ships with it.
SIBLINGS = ("PRODUCT.md", "ARCHITECTURE.md", "DISCORD_NOTES.md")
OUTSIDE = [
    (re.compile(r"(?<![\w.])\.\./shared\b|\bshared/fixtures\b"), "the shared/ folder beside it"),
    (re.compile(r"(?<![\w.-])/(?:work|home|Users)/[\w.-]"), "an absolute path on one machine"),
    (re.compile(r"\b(?:" + "|".join(re.escape(s) for s in SIBLINGS) + r")\b"), "a sibling doc"),
]
RELATIVE = re.compile(r"(?<![\w./-])((?:\.\./)+[\w./-]*)")
MD_LINK = re.compile(r"\]\(([^)\s#]+)[^)]*\)")
THIS = Path(__file__).relative_to(ROOT).as_posix()


def _clone(into: Path) -> Path:
    """`git clone` of this repository (its committed tree) into an empty directory."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (an sdist or a copy): nothing to clone")
    clone = into / "opsroom"
    subprocess.run(
        ["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)],
        check=True,
        capture_output=True,
    )
    return clone


def outside_references(root: Path) -> list[str]:
    """Every place a tracked file of `root` refers to something outside `root`."""
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z"], check=True, capture_output=True
    ).stdout.decode()
    found = []
    for name in filter(None, listed.split("\0")):
        if name == THIS:  # names the patterns it looks for
            continue
        path = root / name
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary: images, captured bytes
        for number, line in enumerate(text.splitlines(), 1):
            for pattern, what in OUTSIDE:
                if pattern.search(line):
                    found.append(f"{name}:{number}: {what}: {line.strip()[:120]}")
            targets = RELATIVE.findall(line)
            if name.endswith(".md"):
                targets += [t for t in MD_LINK.findall(line) if "://" not in t]
            for target in dict.fromkeys(targets):
                resolved = (path.parent / target).resolve()
                if not resolved.is_relative_to(root.resolve()):
                    found.append(f"{name}:{number}: {target} is outside the repository")
    return found


def test_the_committed_tree_refers_to_nothing_outside_the_repository(tmp_path: Path):
    """A clone in an empty directory: no path, link or sibling document outside it."""
    clone = _clone(tmp_path)
    problems = outside_references(clone)
    assert not problems, "files refer outside the repository:\n" + "\n".join(problems)


def test_the_working_tree_refers_to_nothing_outside_the_repository():
    """The same check on tracked files as edited now, so a problem shows before a commit."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (an sdist or a copy)")
    problems = outside_references(ROOT)
    assert not problems, "files refer outside the repository:\n" + "\n".join(problems)


def test_the_scan_finds_what_it_looks_for(tmp_path: Path):
    """The scanner itself: each kind of outside reference is reported, inside ones are not."""
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "a.md").write_text(
        "[up](../../elsewhere.md) [in](../README.md) see ../shared/x and /work/main/y\n"
        "the rule is in PRODUCT.md\n",
        encoding="utf-8",
    )
    (root / "README.md").write_text("[docs](docs/a.md)\n", encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    found = outside_references(root)
    assert [f.split(": ")[1] for f in found] == [
        "the shared/ folder beside it",
        "an absolute path on one machine",
        "../../elsewhere.md is outside the repository",
        "a sibling doc",
    ]


def test_a_clone_finds_its_fixtures_and_its_own_code(tmp_path: Path):
    """In a clone with nothing beside it, the payload tests run (no skip) from the clone.

    On SQLite only: the PostgreSQL variants read the same files and would wipe the test
    database this run may be using."""
    clone = _clone(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSROOM_")}
    env.update(PYTHONPATH=str(clone), OPSROOM_REQUIRE_INTEGRATION="1", PYTHONDONTWRITEBYTECODE="1")
    where = subprocess.run(
        [sys.executable, "-c", "import bot, tests.paths as p; print(bot.__file__, p.FIXTURES)"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert all(Path(p).is_relative_to(clone) for p in where), where
    test = "tests/integration/http/test_webhook_sources.py"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-rs",
            "-k",
            "sqlite",
            test,
        ],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "skipped" not in result.stdout, result.stdout[-3000:]
