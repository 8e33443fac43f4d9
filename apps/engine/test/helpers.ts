import { Writable } from 'node:stream';
import { COMBINE_50K, tradingHoursStatus } from '@gateway/risk';
import { createLogger, type Logger } from '@gateway/runtime';
import { chicagoToEpoch, toChicago } from '@gateway/session';

/** A real pino logger that writes nowhere (tests assert on behaviour, not log lines). */
export function silentLogger(): Logger {
  return createLogger({ app: 'engine', thread: 'main', level: 'warn', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
}

/** Poll until the condition holds; fails after timeoutMs. Never a fixed sleep. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await cond()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Environment that keeps the engine's risk clock inside trading hours for tests that open positions.
 * CI may run in the 15:10–17:00 CT window or at the weekend, when the gate rightly refuses entries:
 * then (or within an hour of the 15:10 CT cutoff, when auto-flatten could strike mid-test) the risk
 * clock is moved to the next Tuesday 10:00 CT through the RISK_CLOCK_OFFSET_MS test hook.
 */
export function tradingHoursEnv(nowMs = Date.now()): Record<string, string> {
  const soon = tradingHoursStatus(nowMs + 3_600_000, COMBINE_50K);
  const now = tradingHoursStatus(nowMs, COMBINE_50K);
  if (now.entryAllowedByTime && soon.entryAllowedByTime) return {};
  const ct = toChicago(nowMs);
  const daysToTuesday = ((2 - ct.weekday + 7) % 7) || 7;
  const target = chicagoToEpoch(ct.year, ct.month, ct.day + daysToTuesday, 10, 0);
  return { RISK_CLOCK_OFFSET_MS: String(target - nowMs) };
}
