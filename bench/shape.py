"""Shape figures of the code base: the numbers the "one shape for every app" work is judged by.

Prints, for ``tandem/`` (migrations excluded) and ``tests/``:

* functions and methods longer than 30 lines (first ``def`` line to last body line),
* the number of ``: Any`` annotations in ``tandem/``,
* the largest source file and the largest test file (lines),
* the number of ``mypy --strict`` errors on ``tandem/`` (skip with ``--no-mypy``).

    .venv/bin/python bench/shape.py [--no-mypy] [--list]

No timing: these are counts, to compare before and after a refactor.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LONG = 30
ANY_ANNOTATION = re.compile(r":\s*Any\b")


def python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "migrations" not in p.parts)


def long_functions(paths: list[Path]) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > LONG:
                    found.append((length, f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"))
    return sorted(found, reverse=True)


def largest(paths: list[Path]) -> tuple[int, str]:
    sizes = ((len(p.read_text(encoding="utf-8").splitlines()), p) for p in paths)
    lines, path = max(sizes)
    return lines, str(path.relative_to(ROOT))


def mypy_strict_errors() -> str:
    env = {**os.environ, "TANDEM_INSECURE_HTTP": "1", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(  # noqa: S603 - a fixed command line
        [sys.executable, "-m", "mypy", "--strict", "tandem"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    last = (result.stdout.strip().splitlines() or [""])[-1]
    match = re.search(r"Found (\d+) errors?", last)
    if match:
        return match.group(1)
    return "0" if last.startswith("Success") else f"? ({last})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-mypy", action="store_true", help="skip the mypy --strict run")
    parser.add_argument("--list", action="store_true", help="list the long functions")
    args = parser.parse_args()

    source = python_files(ROOT / "tandem")
    tests = python_files(ROOT / "tests")
    long_src = long_functions(source)
    long_tests = long_functions(tests)
    any_count = sum(len(ANY_ANNOTATION.findall(p.read_text(encoding="utf-8"))) for p in source)
    big_src = largest(source)
    big_test = largest(tests)

    print(f"functions over {LONG} lines in tandem/: {len(long_src)}")
    print(f"functions over {LONG} lines in tests/:  {len(long_tests)}")
    print(f"': Any' annotations in tandem/:        {any_count}")
    print(f"largest file in tandem/:               {big_src[1]} ({big_src[0]} lines)")
    print(f"largest test file:                     {big_test[1]} ({big_test[0]} lines)")
    if not args.no_mypy:
        print(f"mypy --strict errors on tandem/:       {mypy_strict_errors()}")
    if args.list:
        for length, where in long_src + long_tests:
            print(f"  {length:4d}  {where}")


if __name__ == "__main__":
    main()
