import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Counter } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RISK_MANAGER_RATE_LIMIT, SHARED_GENERAL_LIMIT } from './bootstrap';
import { ConfigError, hubUrls, loadConfig } from './config';
import { createLogger, redactSecrets } from './logger';
import { createMetricsRegistry, mergeMetrics, type MetricsJson } from './metrics';
import { WorkerSupervisor } from './supervisor';
import { TimeoutError, withTimeout } from './worker-protocol';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig({});
    expect(c.grpcPort).toBe(50051);
    expect(c.httpPort).toBe(8080);
    expect(c.marketDataWsPort).toBe(8081);
    expect(c.grpcHost).toBe('127.0.0.1');
    expect(c.broker.apiUrl).toBeUndefined();
    expect(c.dataDir).toBe('./data');
    expect(c.contracts).toContain('MNQ');
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.broker)).toBe(true);
  });

  it.each([
    ['GRPC_PORT', 'abc'],
    ['HTTP_PORT', '70000'],
    ['EXECUTOR_THREADS', '0'],
    ['TOPSTEPX_ACCOUNT_ID', '-4'],
    ['TOPSTEPX_API_URL', 'not a url'],
    ['BROKER_RATE_LIMIT', 'maybe'],
    ['LOG_LEVEL', 'loud'],
    ['CONTRACTS', 'MNQ,bad id'],
    ['RISK_RECONCILE_INTERVAL_MS', '50'],
  ])('names the key of a bad value: %s=%s', (key, value) => {
    let caught: unknown;
    try {
      loadConfig({ [key]: value });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).key).toBe(key);
    expect((caught as Error).message.startsWith(`${key}:`)).toBe(true);
  });

  it('requires credentials when a real broker URL is set', () => {
    expect(() => loadConfig({ TOPSTEPX_API_URL: 'https://api.topstepx.com' })).toThrow(/TOPSTEPX_USERNAME/);
  });

  it('derives hub URLs: rtc host for TopstepX, same origin for anything else', () => {
    expect(hubUrls({ userHubUrl: undefined, marketHubUrl: undefined }, 'https://api.topstepx.com')).toEqual({
      user: 'wss://rtc.topstepx.com/hubs/user',
      market: 'wss://rtc.topstepx.com/hubs/market',
    });
    expect(hubUrls({ userHubUrl: undefined, marketHubUrl: undefined }, 'http://127.0.0.1:5100').market).toBe('ws://127.0.0.1:5100/hubs/market');
  });
});

describe('broker rate budget split', () => {
  it('keeps the shared bucket, the risk-manager share and the bootstrap client together under the broker limits', () => {
    // The bootstrap client (token validation, contract lookups) keeps at least 10 of the general 200 / 60 s.
    expect(SHARED_GENERAL_LIMIT + RISK_MANAGER_RATE_LIMIT.general.limit + 10).toBeLessThanOrEqual(200);
    // Enforcement needs room: a cancel sweep of 20 working orders plus closes, inside one window.
    expect(RISK_MANAGER_RATE_LIMIT.general.limit).toBeGreaterThanOrEqual(25);
    expect(RISK_MANAGER_RATE_LIMIT.general.windowMs).toBeGreaterThanOrEqual(60_000);
    // The shared bars bucket is 47 / 31 s: the risk-manager's share keeps the sum at the broker's 50 / 30 s.
    expect(47 + RISK_MANAGER_RATE_LIMIT.bars.limit).toBeLessThanOrEqual(50);
    expect(RISK_MANAGER_RATE_LIMIT.bars.windowMs).toBeGreaterThanOrEqual(30_000);
  });
});

describe('logger', () => {
  it('binds app and thread, and redacts secrets by path and inside strings', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const log = createLogger({ app: 'market-data', thread: 'worker-1', destination });
    log.info({ apiKey: 'SECRET-KEY', broker: { apiKey: 'SECRET-KEY' }, url: 'wss://x/hubs/user?access_token=eyJ.SECRET' }, 'connected');
    log.warn('reconnecting to wss://x/hubs/market?access_token=eyJ.SECRET2 with Bearer eyJ.SECRET3');
    await new Promise((r) => setImmediate(r));
    const all = lines.join('');
    expect(all).not.toMatch(/SECRET/);
    const first = JSON.parse(lines[0]!);
    expect(first.app).toBe('market-data');
    expect(first.thread).toBe('worker-1');
    expect(first.apiKey).toBe('[REDACTED]');
    expect(first.url).toContain('access_token=[REDACTED]');
  });

  it('redactSecrets leaves other text alone', () => {
    expect(redactSecrets('GET /api/Order/place 200')).toBe('GET /api/Order/place 200');
  });
});

describe('metrics merge', () => {
  it('keeps each thread apart by its app label', async () => {
    const a = createMetricsRegistry('risk-manager', { defaultMetrics: false });
    const b = createMetricsRegistry('market-data', { defaultMetrics: false });
    new Counter({ name: 'gw_test_total', help: 'h', registers: [a] }).inc(2);
    new Counter({ name: 'gw_test_total', help: 'h', registers: [b] }).inc(5);
    const merged = await mergeMetrics([(await a.getMetricsAsJSON()) as MetricsJson, (await b.getMetricsAsJSON()) as MetricsJson]);
    expect(merged.body).toContain('gw_test_total{app="risk-manager"} 2');
    expect(merged.body).toContain('gw_test_total{app="market-data"} 5');
  });
});

describe('withTimeout', () => {
  it('rejects with a TIMEOUT code', async () => {
    await expect(withTimeout(new Promise(() => undefined), 10, 'wait for ready')).rejects.toBeInstanceOf(TimeoutError);
    await expect(withTimeout(Promise.resolve(3), 1000, 'x')).resolves.toBe(3);
  });
});

describe('WorkerSupervisor', () => {
  it('a worker that never gets ready fails the start with its own error, not only a timeout', async () => {
    // What market-data does when MARKET_DATA_WS_PORT is taken: report fatal, exit 1, again on every restart.
    const dir = mkdtempSync(join(tmpdir(), 'supervisor-spec-'));
    const file = join(dir, 'fatal-worker.mjs');
    writeFileSync(
      file,
      `import { parentPort } from 'node:worker_threads';
parentPort.postMessage({ kind: 'fatal', app: 'bad', error: { message: 'listen EADDRINUSE: address already in use 127.0.0.1:47123', code: 'EADDRINUSE' } });
setImmediate(() => process.exit(1));
`,
    );
    const logger = createLogger({ app: 'engine', thread: 'main', level: 'fatal', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
    const supervisor = new WorkerSupervisor([{ app: 'bad', file, workerData: undefined, readyTimeoutMs: 1_000 }], { logger, initialBackoffMs: 10, maxBackoffMs: 50 });
    try {
      await expect(supervisor.start()).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await supervisor.stop(1_000);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
