"""The repository's own shape: every cited requirement is defined, and the layers point down."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "docs" / "requirements.md"
REQUIREMENT_ID = re.compile(r"\b(?:PS-\d+|PR-\d+|X-\d+|P\d)\b")
DEFINITION = re.compile(r"^- \*\*((?:PS-\d+|PR-\d+|X-\d+|P\d))\b", re.MULTILINE)
TEXT_SUFFIXES = {".py", ".md", ".html", ".toml", ".txt", ".cfg", ".yml", ".yaml"}
SKIPPED_FOLDERS = {".git", ".venv", "node_modules", "var", "static", "__pycache__"}
TANDEM = ROOT / "tandem"
# app -> apps it must never import (at module level, inside a function, or for typing).
# core is the bottom layer: the apps above register hooks with it (core/hooks.py) instead.
FORBIDDEN_IMPORTS = {
    "core": {"audit", "notifications", "readiness", "support", "recovery", "reports", "api"},
    "audit": {"notifications", "readiness", "support", "recovery", "reports", "api"},
    "readiness": {"support", "recovery", "reports", "api"},
    "support": {"recovery", "api"},
    "recovery": {"support", "api"},
}
# Look like IDs but are not: certification numbers typed in the readiness tests.
NOT_REQUIREMENTS = {"PR-77", "PR-1234"}


def repository_text_files() -> list[Path]:
    files = []
    for path in ROOT.rglob("*"):
        relative = path.relative_to(ROOT)
        if SKIPPED_FOLDERS & set(relative.parts) or path.suffix not in TEXT_SUFFIXES:
            continue
        if path.is_file() and path != REQUIREMENTS:
            files.append(path)
    return files


def test_every_cited_requirement_id_is_defined_in_docs_requirements() -> None:
    defined = set(DEFINITION.findall(REQUIREMENTS.read_text(encoding="utf-8")))
    undefined = []
    cited = set()
    for path in repository_text_files():
        for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for found in REQUIREMENT_ID.findall(line):
                if found in NOT_REQUIREMENTS:
                    continue
                cited.add(found)
                if found not in defined:
                    undefined.append(f"{path.relative_to(ROOT)}:{line_number} {found}")
    assert not undefined, "cited but not defined in docs/requirements.md:\n" + "\n".join(undefined)
    assert {"PS-6", "PR-7", "X-4", "P3"} <= cited  # the scan really reads the repository


def test_docs_requirements_defines_each_id_once() -> None:
    ids = DEFINITION.findall(REQUIREMENTS.read_text(encoding="utf-8"))
    duplicates = sorted({found for found in ids if ids.count(found) > 1})
    assert not duplicates
    assert len(ids) == 5 + 16 + 12 + 14


def imported_apps(path: Path) -> set[str]:
    apps = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            if parts[0] == "tandem" and len(parts) > 1:
                apps.add(parts[1])
    return apps


def test_layers_point_down() -> None:
    crossings = []
    for app, forbidden in FORBIDDEN_IMPORTS.items():
        for path in sorted((TANDEM / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for imported in sorted(imported_apps(path) & forbidden):
                crossings.append(f"{path.relative_to(ROOT)} imports tandem.{imported}")
    assert crossings == []
    assert "agencies" in imported_apps(TANDEM / "core" / "demo.py")  # the walk sees imports
