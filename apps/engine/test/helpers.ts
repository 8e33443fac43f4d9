import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@gateway/runtime';

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
