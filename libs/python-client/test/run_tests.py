"""Runs every test_*.py of this folder with unittest and writes test-output/summary.json
({"passed": N, "failed": N}, summed by the workspace's `npm test`). Exit code 1 when anything failed."""

from __future__ import annotations

import json
import sys
import time
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUMMARY = HERE.parent / "test-output" / "summary.json"


class TimedResult(unittest.TextTestResult):
    """Records each test's wall time so the slowest can be listed (the suite must stay quick)."""

    def startTest(self, test: unittest.TestCase) -> None:
        self._started = time.monotonic()
        super().startTest(test)

    def stopTest(self, test: unittest.TestCase) -> None:
        super().stopTest(test)
        TIMES.append((time.monotonic() - self._started, test.id()))


TIMES: list[tuple[float, str]] = []


def main() -> int:
    sys.path.insert(0, str(HERE))
    pattern = sys.argv[1] if len(sys.argv) > 1 else "test_*.py"
    suite = unittest.defaultTestLoader.discover(str(HERE), pattern=pattern, top_level_dir=str(HERE))
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout, resultclass=TimedResult).run(suite)
    for seconds, name in sorted(TIMES, reverse=True)[:5]:
        print(f"slowest: {seconds:6.1f} s  {name}")
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    # Module/class set-up errors are counted in errors but not in testsRun.
    passed = max(0, result.testsRun - len(result.failures) - len(result.errors) - len(result.skipped) - len(result.unexpectedSuccesses))
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    SUMMARY.write_text(json.dumps({"passed": passed, "failed": failed}) + "\n")
    print(f"python-client: {passed} passed, {failed} failed, {len(result.skipped)} skipped")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
