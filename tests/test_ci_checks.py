"""CI's skip gate (.ci/check_skips.py): every skip is printed with its reason; an unlisted one fails the run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".ci" / "check_skips.py"


def _report(tmp_path: Path, *cases: tuple[str, str, str | None]) -> Path:
    """A JUnit XML report with (classname, name, skip message or None) test cases."""
    body = "".join(
        f'<testcase classname="{cls}" name="{name}">'
        + (f'<skipped type="pytest.skip" message="{msg}"/>' if msg is not None else "")
        + "</testcase>"
        for cls, name, msg in cases
    )
    path = tmp_path / "report.xml"
    path.write_text(f'<?xml version="1.0"?><testsuites><testsuite name="pytest">{body}</testsuite></testsuites>')
    return path


def _run(report: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), str(report)], capture_output=True, text=True, check=False)


def test_a_run_without_skips_passes(tmp_path: Path) -> None:
    done = _run(_report(tmp_path, ("tests.test_a", "test_x", None)))
    assert done.returncode == 0, done.stdout + done.stderr


def test_an_unlisted_skip_fails_and_names_the_test_and_its_reason(tmp_path: Path) -> None:
    done = _run(_report(tmp_path, ("tests.test_a", "test_x", None), ("tests.test_b", "test_y[1]", "no broker")))
    assert done.returncode == 1
    assert "skipped tests.test_b::test_y[1]: no broker [UNEXPECTED]" in done.stdout
    assert "1 unexpected skip" in done.stdout


def test_every_listed_pattern_gives_its_reason() -> None:
    for line in (ROOT / ".ci" / "expected-skips").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            assert "#" in line and line.split("#", 1)[1].strip(), f"expected-skips entry without a reason: {line}"
