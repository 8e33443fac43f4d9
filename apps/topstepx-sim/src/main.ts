// Runs the TopStepX Gateway simulator alone. Configuration comes from SIM_* environment variables
// (documented in libs/topstepx-sim/README.md); a bad value names its variable and exits 1.
import { createSimulator, readReplayCsv, type SimulatorOptions } from '@gateway/topstepx-sim';

function parseEnv(env: NodeJS.ProcessEnv): SimulatorOptions {
  const num = (key: string, min: number): number | undefined => {
    const raw = env[key];
    if (raw === undefined || raw === '') return undefined;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min) throw new Error(`${key} must be a number >= ${min}, got "${raw}"`);
    return n;
  };
  const bool = (key: string): boolean | undefined => {
    const raw = env[key]?.toLowerCase();
    if (raw === undefined || raw === '') return undefined;
    if (['1', 'true', 'on', 'yes'].includes(raw)) return true;
    if (['0', 'false', 'off', 'no'].includes(raw)) return false;
    throw new Error(`${key} must be on/off, got "${env[key]}"`);
  };
  const json = (key: string): unknown => {
    const raw = env[key];
    if (raw === undefined || raw === '') return undefined;
    try {
      return JSON.parse(raw);
    } catch {
      throw new Error(`${key} must be JSON`);
    }
  };
  const batching = env['SIM_TRADE_BATCHING'];
  if (batching !== undefined && batching !== '' && batching !== 'array' && batching !== 'single') {
    throw new Error(`SIM_TRADE_BATCHING must be array or single, got "${batching}"`);
  }
  const replayPath = env['SIM_REPLAY_CSV'];
  const options: SimulatorOptions = {
    port: num('SIM_PORT', 0) ?? 5100,
    host: env['SIM_HOST'] || '127.0.0.1',
    seed: num('SIM_SEED', 0),
    tokenLifetimeMs: num('SIM_TOKEN_LIFETIME_MS', 1),
    partialFillChunks: num('SIM_PARTIAL_FILL_CHUNKS', 1),
    rateLimits: bool('SIM_RATE_LIMITS'),
    market: {
      tradesPerSecond: num('SIM_TRADES_PER_SECOND', 0),
      tickIntervalMs: num('SIM_TICK_MS', 1),
      tradeBatching: (batching || undefined) as 'array' | 'single' | undefined,
      replayCsv: replayPath ? readReplayCsv(replayPath) : undefined,
      replaySpeed: num('SIM_REPLAY_SPEED', 0),
      historyDays: num('SIM_HISTORY_DAYS', 0),
    },
    hub: {
      wrapUserEvents: bool('SIM_WRAP_USER_EVENTS'),
      pingIntervalMs: num('SIM_PING_MS', 1),
    },
    faults: json('SIM_FAULTS') as SimulatorOptions['faults'],
  };
  if (env['SIM_USERNAME'] || env['SIM_API_KEY']) {
    options.credentials = { userName: env['SIM_USERNAME'] || 'demo', apiKey: env['SIM_API_KEY'] || 'demo-key' };
  }
  if (env['SIM_ACCOUNTS']) options.accounts = json('SIM_ACCOUNTS') as SimulatorOptions['accounts'];
  return options;
}

let options: SimulatorOptions;
try {
  options = parseEnv(process.env);
} catch (e) {
  console.error(`topstepx-sim: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
const sim = await createSimulator(options).catch((e: unknown) => {
  console.error(`topstepx-sim: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
console.log(`topstepx-sim listening on ${sim.url}`);
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void sim.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
// Embedded in the engine (SIM_EXIT_ON_STDIN_CLOSE=1), the simulator's stdin is a pipe from the
// engine: when the engine dies, even by kill -9, the pipe closes and the simulator exits with it.
if (process.env['SIM_EXIT_ON_STDIN_CLOSE'] === '1') {
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
}
