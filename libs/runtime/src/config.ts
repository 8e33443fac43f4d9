// Configuration is parsed once, at the edge (a main.ts), into a frozen typed object. Libs never read
// the environment. Every default is declared and documented here; a bad value names its key.

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`${key}: ${message}`);
    this.name = 'ConfigError';
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

export interface BrokerConfig {
  /** REST base URL of the Gateway; undefined → the engine embeds the simulator. `TOPSTEPX_API_URL` */
  readonly apiUrl: string | undefined;
  /** `TOPSTEPX_USER_HUB_URL`, default derived from the API URL (…/hubs/user). */
  readonly userHubUrl: string | undefined;
  /** `TOPSTEPX_MARKET_HUB_URL`, default derived from the API URL (…/hubs/market). */
  readonly marketHubUrl: string | undefined;
  /** `TOPSTEPX_USERNAME`; the simulator's demo user when the simulator is embedded. */
  readonly userName: string;
  /** `TOPSTEPX_API_KEY`: a secret, never logged. */
  readonly apiKey: string;
  /** `TOPSTEPX_ACCOUNT_ID`: the account to trade; default: the first active account that can trade. */
  readonly accountId: number | undefined;
  /** `TOPSTEPX_LIVE` (true|false, default false): the `live` flag sent on contract and bar requests. */
  readonly live: boolean;
  /** `BROKER_CONNECTIONS` (default 16): keep-alive connections in each thread's undici pool. */
  readonly connections: number;
  /** `BROKER_RATE_LIMIT` (on|off, default on): the client-side limiter for the broker's two buckets. */
  readonly rateLimit: boolean;
}

/**
 * Risk-manager limits and hooks (`RISK_*`). Unset values take the preset's (libs/risk/README.md:
 * 50K Combine defaults with sources); money in whole US dollars, sizes in mini lots.
 */
export interface RiskConfig {
  /** `RISK_PRESET` (50K|100K|150K, default 50K): the Topstep Combine whose limits are the defaults. */
  readonly preset: '50K' | '100K' | '150K';
  /** `RISK_STARTING_BALANCE` (USD): the account's starting balance (MLL lock). Default: the preset's. */
  readonly startingBalanceUsd: number | undefined;
  /** `RISK_DLL` (USD, 0 = off): the daily loss limit. Default: the preset's (50K: 1000). */
  readonly dailyLossLimitUsd: number | undefined;
  /** `RISK_MLL` (USD, 0 = off): the trailing maximum loss limit drawdown. Default: the preset's (50K: 2000). */
  readonly maxLossUsd: number | undefined;
  /**
   * `RISK_MLL_FLOOR` (USD, cents allowed, e.g. 49497.20): the MLL floor as the Topstep dashboard shows it, in money
   * units (1e-4 USD). The engine's floor is raised to it, never lowered: for the days it did not see close (first
   * start, DATA_DIR lost). Unset: none. Must lie between startingBalance − drawdown and startingBalance.
   */
  readonly mllFloorUnits: number | undefined;
  /** `RISK_MAX_POSITION` (mini lots): the maximum position. Default: the preset's (50K: 5). */
  readonly maxPositionLots: number | undefined;
  /** `RISK_MAX_OPEN_ORDERS`: working orders allowed at once. Default 20. */
  readonly maxOpenOrders: number | undefined;
  /** `RISK_MAX_ORDERS_PER_MINUTE`: orders per 60 s per account. Default 60. */
  readonly maxOrdersPerMinute: number | undefined;
  /** `RISK_REDUCE_AT` (0 < x ≤ 1): share of a loss limit used at which the account goes REDUCING. Default 0.8. */
  readonly reduceAt: number | undefined;
  /** `RISK_FLATTEN_MINUTES_BEFORE_CLOSE`: auto-flatten this long before 15:10 CT. Default 2 (15:08 CT). */
  readonly flattenMinutesBeforeClose: number | undefined;
  /** `RISK_MICROS_AS_TENTHS` (true|false): 10 micros count as 1 mini. Default true (TopstepX Combine/XFA). */
  readonly microsAsTenths: boolean | undefined;
  /** `RISK_EVAL_INTERVAL_MS` (default 100): the mark-to-market and state-machine timer. */
  readonly evalIntervalMs: number;
  /**
   * `RISK_RECONCILE_INTERVAL_MS` (default 30000; 0 = off; else 100–3600000): the risk-manager's drift check
   * against `Position/searchOpen` and `Account/search`, which catches a user-hub event lost while the socket
   * stayed up. Two REST requests per account per check, out of the broker's 200 per 60 s.
   */
  readonly reconcileIntervalMs: number;
  /** `RISK_CLOCK_OFFSET_MS` (default 0): test hook, added to the risk-manager's clock. */
  readonly clockOffsetMs: number;
  /** `RISK_TEST_CLOCK` (true|false, default false): test hook, lets `setClockOffset` requests move the clock. */
  readonly testClock: boolean;
}

export interface EngineConfig {
  /** `GRPC_HOST` (default 127.0.0.1: Topstep forbids trading from remote servers; loopback by default). */
  readonly grpcHost: string;
  /** `GRPC_PORT` (default 50051; 0 = any free port). */
  readonly grpcPort: number;
  /** `HTTP_HOST` (default 127.0.0.1). */
  readonly httpHost: string;
  /** `HTTP_PORT` (default 8080; 0 = any free port): REST twins, /healthz, /metrics, /openapi.json. */
  readonly httpPort: number;
  /** `MARKET_DATA_WS_HOST` (default 127.0.0.1). */
  readonly marketDataWsHost: string;
  /** `MARKET_DATA_WS_PORT` (default 8081; 0 = any free port): the bar/quote WebSocket fan-out. */
  readonly marketDataWsPort: number;
  /** `DATA_DIR` (default ./data): the order journal and state. */
  readonly dataDir: string;
  /** `LOG_LEVEL` (default info). */
  readonly logLevel: string;
  /** `CONTRACTS` (default MNQ,MES,ES,NQ,CL,GC): roots or full contract ids the engine trades and watches. */
  readonly contracts: readonly string[];
  /** `EXECUTOR_THREADS` (default 1): threads in the order-executor pool. Each thread serves many orders at once on its event loop (the work is I/O); one thread keeps the engine's RSS low, more add CPU headroom. */
  readonly executorThreads: number;
  /** `EXECUTOR_MAX_QUEUE` (default 1000): queued orders beyond which PlaceOrder answers RESOURCE_EXHAUSTED. */
  readonly executorMaxQueue: number;
  /** `BATCH_CONCURRENCY` (default 10): orders of one PlaceBatch in flight at once. */
  readonly batchConcurrency: number;
  /**
   * `SHUTDOWN_TIMEOUT_MS` (default 4000): calls in progress on either door are answered within half of it,
   * then the modules' streams end and then the threads stop, each within half of it again; a stop that hangs
   * is cut 1 s after the three (1.5 times it).
   */
  readonly shutdownTimeoutMs: number;
  /** `STALE_AFTER_MS` (default 5000): a contract silent this long in trading hours is stale. */
  readonly staleAfterMs: number;
  /** `MARKET_DATA_TIMEFRAMES` (default 1s,1m,5m,15m,1h,1d): bar timeframes built per contract (`Ns`, `Nm`, `Nh` ≤ 24 h, `1d`). */
  readonly marketDataTimeframes: readonly string[];
  /** `BAR_CACHE_SIZE` (default 1000): closed bars kept per contract and timeframe (and backfilled at start). */
  readonly barCacheSize: number;
  readonly broker: BrokerConfig;
  /** `SIM_*` variables, passed through to the embedded simulator. */
  readonly simEnv: Readonly<Record<string, string>>;
  /** `RISK_*` variables: the risk-manager's limits and test hooks. */
  readonly risk: RiskConfig;
}

export function readPort(env: Env, key: string, fallback: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new ConfigError(key, `must be a port number 0–65535, got "${raw}"`);
  return n;
}

export function readInt(env: Env, key: string, fallback: number, min: number, max: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(key, `must be an integer ${min}–${max}, got "${raw}"`);
  return n;
}

export function readBool(env: Env, key: string, fallback: boolean): boolean {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const v = raw.toLowerCase();
  if (['1', 'true', 'on', 'yes'].includes(v)) return true;
  if (['0', 'false', 'off', 'no'].includes(v)) return false;
  throw new ConfigError(key, `must be true/false (or on/off), got "${raw}"`);
}

export function readUrl(env: Env, key: string): string | undefined {
  const raw = env[key];
  if (raw === undefined || raw === '') return undefined;
  try {
    const u = new URL(raw);
    if (!['http:', 'https:', 'ws:', 'wss:'].includes(u.protocol)) throw new Error('protocol');
  } catch {
    throw new ConfigError(key, `must be an http(s) or ws(s) URL, got "${raw}"`);
  }
  return raw.replace(/\/+$/, '');
}

export function readHost(env: Env, key: string, fallback: string): string {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  if (!/^[A-Za-z0-9.:[\]-]+$/.test(raw)) throw new ConfigError(key, `must be a host name or address, got "${raw}"`);
  return raw;
}

const CONTRACT_RE = /^(?:[A-Z0-9]{1,6}|CON\.F\.US\.[A-Z0-9]{1,8}\.[FGHJKMNQUVXZ]\d{2})$/;

/** Parse the whole engine configuration from an environment. Throws ConfigError naming the key. */
export function loadConfig(env: Env): EngineConfig {
  const apiUrl = readUrl(env, 'TOPSTEPX_API_URL');
  const contracts = (env.CONTRACTS ?? 'MNQ,MES,ES,NQ,CL,GC')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (contracts.length === 0) throw new ConfigError('CONTRACTS', 'must list at least one root or contract id');
  for (const c of contracts) {
    if (!CONTRACT_RE.test(c)) throw new ConfigError('CONTRACTS', `"${c}" is neither a root (MNQ) nor a contract id (CON.F.US.MNQ.Z26)`);
  }
  const accountRaw = env.TOPSTEPX_ACCOUNT_ID;
  let accountId: number | undefined;
  if (accountRaw !== undefined && accountRaw !== '') {
    accountId = Number(accountRaw);
    if (!Number.isSafeInteger(accountId) || accountId <= 0) throw new ConfigError('TOPSTEPX_ACCOUNT_ID', `must be a positive integer, got "${accountRaw}"`);
  }
  if (apiUrl !== undefined && (!env.TOPSTEPX_USERNAME || !env.TOPSTEPX_API_KEY)) {
    throw new ConfigError(env.TOPSTEPX_USERNAME ? 'TOPSTEPX_API_KEY' : 'TOPSTEPX_USERNAME', 'is required when TOPSTEPX_API_URL is set');
  }
  const simEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith('SIM_') && v !== undefined) simEnv[k] = v;

  const config: EngineConfig = {
    grpcHost: readHost(env, 'GRPC_HOST', '127.0.0.1'),
    grpcPort: readPort(env, 'GRPC_PORT', 50051),
    httpHost: readHost(env, 'HTTP_HOST', '127.0.0.1'),
    httpPort: readPort(env, 'HTTP_PORT', 8080),
    marketDataWsHost: readHost(env, 'MARKET_DATA_WS_HOST', '127.0.0.1'),
    marketDataWsPort: readPort(env, 'MARKET_DATA_WS_PORT', 8081),
    dataDir: env.DATA_DIR && env.DATA_DIR !== '' ? env.DATA_DIR : './data',
    logLevel: readLogLevel(env),
    contracts: Object.freeze(contracts),
    executorThreads: readInt(env, 'EXECUTOR_THREADS', 1, 1, 64),
    executorMaxQueue: readInt(env, 'EXECUTOR_MAX_QUEUE', 1000, 1, 1_000_000),
    batchConcurrency: readInt(env, 'BATCH_CONCURRENCY', 10, 1, 1000),
    shutdownTimeoutMs: readInt(env, 'SHUTDOWN_TIMEOUT_MS', 4000, 100, 60_000),
    staleAfterMs: readInt(env, 'STALE_AFTER_MS', 5000, 100, 3_600_000),
    marketDataTimeframes: readTimeframes(env, 'MARKET_DATA_TIMEFRAMES'),
    barCacheSize: readInt(env, 'BAR_CACHE_SIZE', 1000, 1, 100_000),
    broker: Object.freeze({
      apiUrl,
      userHubUrl: readUrl(env, 'TOPSTEPX_USER_HUB_URL'),
      marketHubUrl: readUrl(env, 'TOPSTEPX_MARKET_HUB_URL'),
      userName: env.TOPSTEPX_USERNAME ?? 'demo',
      apiKey: env.TOPSTEPX_API_KEY ?? 'demo-key',
      accountId,
      live: readBool(env, 'TOPSTEPX_LIVE', false),
      connections: readInt(env, 'BROKER_CONNECTIONS', 16, 1, 1024),
      rateLimit: readBool(env, 'BROKER_RATE_LIMIT', true),
    }),
    simEnv: Object.freeze(simEnv),
    risk: readRiskConfig(env),
  };
  return Object.freeze(config);
}

const TIMEFRAME_RE = /^([1-9]\d{0,5})([smhd])$/;
const TIMEFRAME_UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000 };

/** A comma list of bar timeframes (`1s`, `5m`, `1h`, `1d`): distinct, intraday ones at most 24 h. */
export function readTimeframes(env: Env, key: string, fallback = '1s,1m,5m,15m,1h,1d'): readonly string[] {
  const raw = env[key];
  const text = raw === undefined || raw === '' ? fallback : raw;
  const out = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (out.length === 0 || out.length > 31) throw new ConfigError(key, `must list 1 to 31 timeframes, got "${text}"`);
  for (const tf of out) {
    const m = TIMEFRAME_RE.exec(tf);
    const ok = m !== null && (m[2] === 'd' ? m[1] === '1' : Number(m[1]) * TIMEFRAME_UNIT_MS[m[2]!]! <= 86_400_000);
    if (!ok) throw new ConfigError(key, `"${tf}" is not a timeframe (Ns, Nm, Nh up to 24h, or 1d)`);
  }
  if (new Set(out).size !== out.length) throw new ConfigError(key, `lists a timeframe twice: "${text}"`);
  return Object.freeze(out);
}

function optionalInt(env: Env, key: string, min: number, max: number): number | undefined {
  const raw = env[key];
  return raw === undefined || raw === '' ? undefined : readInt(env, key, 0, min, max);
}

/** A dollar amount with at most two decimals (a balance as the Topstep dashboard shows it), in money units (1e-4 USD). */
function optionalUsdCents(env: Env, key: string): number | undefined {
  const raw = env[key];
  if (raw === undefined || raw === '') return undefined;
  const m = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(raw.trim());
  if (m === null) throw new ConfigError(key, `must be a dollar amount like 49497.20 (no sign, at most two decimals), got "${raw}"`);
  return Number(m[1]) * 10_000 + Number((m[2] ?? '').padEnd(2, '0')) * 100;
}

function readRiskConfig(env: Env): RiskConfig {
  const preset = env.RISK_PRESET === undefined || env.RISK_PRESET === '' ? '50K' : env.RISK_PRESET;
  if (preset !== '50K' && preset !== '100K' && preset !== '150K') throw new ConfigError('RISK_PRESET', `must be 50K, 100K or 150K, got "${preset}"`);
  const rawReduce = env.RISK_REDUCE_AT;
  let reduceAt: number | undefined;
  if (rawReduce !== undefined && rawReduce !== '') {
    reduceAt = Number(rawReduce);
    if (!Number.isFinite(reduceAt) || reduceAt <= 0 || reduceAt > 1) throw new ConfigError('RISK_REDUCE_AT', `must be a number in (0, 1], got "${rawReduce}"`);
  }
  const rawOffset = env.RISK_CLOCK_OFFSET_MS;
  let clockOffsetMs = 0;
  if (rawOffset !== undefined && rawOffset !== '') {
    clockOffsetMs = Number(rawOffset);
    if (!Number.isSafeInteger(clockOffsetMs)) throw new ConfigError('RISK_CLOCK_OFFSET_MS', `must be an integer (ms), got "${rawOffset}"`);
  }
  const reconcileIntervalMs = readInt(env, 'RISK_RECONCILE_INTERVAL_MS', 30_000, 0, 3_600_000);
  // The floor catches seconds written as milliseconds (30 for 30 s); 0 is the way to turn the check off.
  if (reconcileIntervalMs !== 0 && reconcileIntervalMs < 100) {
    throw new ConfigError('RISK_RECONCILE_INTERVAL_MS', `must be 0 (off) or an integer 100–3600000, got "${env.RISK_RECONCILE_INTERVAL_MS}"`);
  }
  const rawMicros = env.RISK_MICROS_AS_TENTHS;
  return Object.freeze({
    preset,
    startingBalanceUsd: optionalInt(env, 'RISK_STARTING_BALANCE', 1, 100_000_000),
    dailyLossLimitUsd: optionalInt(env, 'RISK_DLL', 0, 100_000_000),
    maxLossUsd: optionalInt(env, 'RISK_MLL', 0, 100_000_000),
    mllFloorUnits: optionalUsdCents(env, 'RISK_MLL_FLOOR'),
    maxPositionLots: optionalInt(env, 'RISK_MAX_POSITION', 0, 100_000),
    maxOpenOrders: optionalInt(env, 'RISK_MAX_OPEN_ORDERS', 0, 1_000_000),
    maxOrdersPerMinute: optionalInt(env, 'RISK_MAX_ORDERS_PER_MINUTE', 0, 1_000_000),
    reduceAt,
    flattenMinutesBeforeClose: optionalInt(env, 'RISK_FLATTEN_MINUTES_BEFORE_CLOSE', 0, 600),
    microsAsTenths: rawMicros === undefined || rawMicros === '' ? undefined : readBool(env, 'RISK_MICROS_AS_TENTHS', true),
    evalIntervalMs: readInt(env, 'RISK_EVAL_INTERVAL_MS', 100, 10, 60_000),
    reconcileIntervalMs,
    clockOffsetMs,
    testClock: readBool(env, 'RISK_TEST_CLOCK', false),
  });
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
function readLogLevel(env: Env): string {
  const raw = env.LOG_LEVEL;
  if (raw === undefined || raw === '') return 'info';
  if (!LOG_LEVELS.includes(raw)) throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}, got "${raw}"`);
  return raw;
}

/**
 * Hub URLs when not configured: TopstepX serves REST on api.topstepx.com and the hubs on
 * rtc.topstepx.com; any other host (the simulator) serves both on the same origin under /hubs/*.
 */
export function hubUrls(broker: Pick<BrokerConfig, 'userHubUrl' | 'marketHubUrl'>, apiUrl: string): { user: string; market: string } {
  const url = new URL(apiUrl);
  if (url.hostname === 'api.topstepx.com') url.hostname = 'rtc.topstepx.com';
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const base = url.origin;
  return { user: broker.userHubUrl ?? `${base}/hubs/user`, market: broker.marketHubUrl ?? `${base}/hubs/market` };
}
