"""Print every skipped test with its reason; fail on a skip that .ci/expected-skips does not list.

A skip is a test that did not run. Some are expected (a test for another broker kind, say), and those are
listed in ``.ci/expected-skips`` as ``<test id pattern>  # <why it is expected>``; ``fnmatch`` patterns match
JUnit's ids, ``<dotted module[.Class]>::<test name[param]>`` (``tests.test_x::test_name[param]``). Anything else that skips is a regression hiding as a
pass, so CI fails on it.

Usage: ``python .ci/check_skips.py JUNIT_XML [JUNIT_XML ...]``; exit 1 on an unexpected skip or an expected
entry with no reason.
"""

from __future__ import annotations

import fnmatch
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

EXPECTED = Path(__file__).resolve().parent / "expected-skips"


def expected_patterns() -> dict[str, str]:
    """``{pattern: reason}`` from .ci/expected-skips; an entry without a reason is an error."""
    patterns: dict[str, str] = {}
    for number, raw in enumerate(EXPECTED.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pattern, _, reason = line.partition("#")
        if not reason.strip():
            raise SystemExit(f"{EXPECTED.name}:{number}: `{pattern.strip()}` gives no reason")
        patterns[pattern.strip()] = reason.strip()
    return patterns


def skipped(junit: Path) -> list[tuple[str, str]]:
    """(node id, skip message) of every skipped test case in one JUnit XML report."""
    found = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        skip = case.find("skipped")
        if skip is None:
            continue
        found.append((f"{case.get('classname', '')}::{case.get('name', '')}", skip.get("message", "")))
    return found


def main(argv: list[str]) -> int:
    patterns = expected_patterns()
    unexpected = []
    for report in argv:
        for node_id, message in skipped(Path(report)):
            match = next((p for p in patterns if fnmatch.fnmatchcase(node_id, p)), None)
            verdict = f"expected: {patterns[match]}" if match else "UNEXPECTED"
            print(f"skipped {node_id}: {message} [{verdict}]")
            if match is None:
                unexpected.append(node_id)
    if unexpected:
        print(f"{len(unexpected)} unexpected skip(s): list each in .ci/expected-skips with its reason, or fix it")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
