"""Starts a fresh engine (with its embedded simulator) for one test module and stops it afterwards.

The engine runs from sources (`node apps/engine/src/main.dev.mjs`) on port 0 everywhere; the gRPC port
is read from the one line it prints when ready. Its output goes to test-output/engine-<name>.log, named in failures."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Optional
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[3]
LOG_DIR = Path(__file__).resolve().parents[1] / "test-output"
READY_RE = re.compile(r"engine ready: grpc (\S+):(\d+)")
# The embedded simulator's base URL (its /admin/faults makes the broker slow for a test).
SIM_RE = re.compile(r"broker embedded simulator (http://\S+)")
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0


CHICAGO = ZoneInfo("America/Chicago")


def _entries_closed(ct: datetime) -> bool:
    """True outside CME entry hours on the engine's default risk settings: entries end at the 15:08 CT
    auto-flatten (2 minutes before 15:10) and start again at 17:00 CT; closed from Friday 15:08 to Sunday 17:00."""
    minute = ct.hour * 60 + ct.minute
    weekday = ct.weekday()  # Monday = 0
    return (
        weekday == 5
        or (weekday == 6 and minute < 17 * 60)
        or (weekday == 4 and minute >= 15 * 60 + 8)
        or (weekday < 4 and 15 * 60 + 8 <= minute < 17 * 60)
    )


def risk_clock_offset_ms(now: Optional[datetime] = None) -> int:
    """0 inside CME entry hours for the next hour; otherwise an offset that puts the engine's risk clock on the
    next Tuesday 10:00 Chicago, so new entries are not refused with TRADING_HOURS when CI runs at night,
    in the daily 15:08-17:00 CT break or at the weekend, or reaches it mid-run (RISK_CLOCK_OFFSET_MS is the
    engine's test hook)."""
    now = now or datetime.now(timezone.utc)
    ct = now.astimezone(CHICAGO)
    weekday = ct.weekday()
    closed = _entries_closed(ct) or _entries_closed(ct + timedelta(hours=1))
    if not closed:
        return 0
    days = (1 - weekday) % 7 or 7
    target = (ct + timedelta(days=days)).replace(hour=10, minute=0, second=0, microsecond=0)
    return int((target - ct).total_seconds() * 1000)


class EngineProcess:
    def __init__(self, name: str, extra_env: Optional[dict[str, str]] = None) -> None:
        self.extra_env = extra_env or {}
        self.host = "127.0.0.1"
        self.port = 0
        self.sim_url: Optional[str] = None
        self._proc: Optional[subprocess.Popen[str]] = None
        self._data_dir = tempfile.mkdtemp(prefix="pyclient-engine-")
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = LOG_DIR / f"engine-{name}.log"

    def start(self) -> "EngineProcess":
        node = os.environ.get("NODE") or shutil.which("node")
        if not node:
            raise RuntimeError("node not found on PATH (needed to start the engine)")
        env = {
            **os.environ,
            "HTTP_PORT": "0",
            "GRPC_PORT": "0",
            "MARKET_DATA_WS_PORT": "0",
            "DATA_DIR": self._data_dir,
            "LOG_LEVEL": "warn",
            "RISK_CLOCK_OFFSET_MS": str(risk_clock_offset_ms()),
            **self.extra_env,
        }
        log = open(self.log_path, "w", encoding="utf-8")
        self._proc = subprocess.Popen(
            [node, str(ROOT / "apps/engine/src/main.dev.mjs")],
            cwd=str(ROOT),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        ready = threading.Event()
        stdout = self._proc.stdout
        assert stdout is not None

        def pump() -> None:
            # Keeps reading after readiness so the engine never blocks on a full stdout pipe.
            for line in stdout:
                log.write(line)
                log.flush()
                m = READY_RE.search(line)
                if m and not ready.is_set():
                    self.host, self.port = m.group(1), int(m.group(2))
                    sim = SIM_RE.search(line)
                    self.sim_url = sim.group(1) if sim else None
                    ready.set()
            log.close()

        threading.Thread(target=pump, daemon=True).start()
        deadline_hit = not ready.wait(START_TIMEOUT_S)
        if deadline_hit or self._proc.poll() is not None:
            code = self._proc.poll()
            self.stop()
            raise RuntimeError(
                f"engine did not become ready within {START_TIMEOUT_S:g} s (exit code {code}); log: {self.log_path}\n{self.log_tail()}"
            )
        return self

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        proc = self._proc
        if proc is None:
            return
        self._proc = None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(STOP_TIMEOUT_S)
        shutil.rmtree(self._data_dir, ignore_errors=True)
