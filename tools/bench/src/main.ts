// `npm run bench [-- --quick] [--json] [--soak [--soak-minutes N] [--soak-warmup-minutes N]] [--only a,b]`: every benchmark of issue 8,
// then docs/PERFORMANCE.md (a full run only). In-process micro-benchmarks run first (no engine up), then the
// compiled engine is started per scenario (quiet feed for orders; ~10,000 trades/s for the steady load), with
// every load generator in its own process. A benchmark whose server side is missing yields
// "not measured: <reason>".
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBarsBench } from './bars';
import { bundleClient, closeClients, prefork } from './clients';
import { startEngineProcess, type EngineProcess } from './engine-process';
import { allNotMeasured, figuresToJson, notMeasured, type Figures } from './figures';
import { runLoadBench } from './load';
import { measureIdleRss, runSteadyLoad } from './market';
import { runOrderBenches } from './orders';
import { machineInfo } from './proc';
import { renderReport, renderSoak, renderTable, extractSoakSection, type SoakResult } from './report';
import { runRiskGateBench, RISK_BATCH } from './risk';
import { runSoak, warmupOrderCount } from './soak';

export const GROUPS = ['bars', 'risk', 'orders', 'idle', 'load', 'steady', 'soak'] as const;
export type Group = (typeof GROUPS)[number];

export interface BenchArgs {
  quick: boolean;
  json: boolean;
  soak: boolean;
  soakMinutes: number;
  /** Longest warm-up before the soak's window (it ends earlier once the bounded caches are full). */
  soakWarmupMinutes: number;
  only: Group[] | undefined;
}

export function parseArgs(argv: readonly string[]): BenchArgs {
  const a: BenchArgs = { quick: false, json: false, soak: false, soakMinutes: 10, soakWarmupMinutes: 25, only: undefined };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    if (x === '--quick') a.quick = true;
    else if (x === '--json') a.json = true;
    else if (x === '--soak') a.soak = true;
    else if (x === '--soak-minutes') {
      const n = Number(argv[++i]);
      if (!Number.isFinite(n) || n <= 0) throw new RangeError(`--soak-minutes: expected a positive number, got ${argv[i]}`);
      a.soakMinutes = n;
    } else if (x === '--soak-warmup-minutes') {
      const n = Number(argv[++i]);
      if (!Number.isFinite(n) || n < 0) throw new RangeError(`--soak-warmup-minutes: expected a number ≥ 0, got ${argv[i]}`);
      a.soakWarmupMinutes = n;
    } else if (x === '--only') {
      const list = (argv[++i] ?? '').split(',').filter(Boolean);
      for (const g of list) if (!(GROUPS as readonly string[]).includes(g)) throw new RangeError(`--only: unknown benchmark "${g}" (one of ${GROUPS.join(', ')})`);
      if (list.length === 0) throw new RangeError(`--only: expected a comma list of ${GROUPS.join(', ')}`);
      a.only = list as Group[];
    } else throw new RangeError(`unknown argument "${x}" (flags: --quick --json --soak --soak-minutes N --soak-warmup-minutes N --only ${GROUPS.join(',')})`);
  }
  return a;
}

/**
 * What a run may write to docs/PERFORMANCE.md: the whole report only after a full run of every benchmark, the
 * soak section after a soak run, nothing after a quick or partial run (their figures are rough or incomplete).
 */
export function reportTarget(a: Pick<BenchArgs, 'quick' | 'soak' | 'only'>): 'report' | 'soak-section' | 'none' {
  if (a.only) return 'none';
  if (a.soak) return 'soak-section';
  return a.quick ? 'none' : 'report';
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const DOC = path.join(ROOT, 'docs/PERFORMANCE.md');
/** The simulator's active contracts (ES, MES, NQ, MNQ, CL, GC); SIM_TRADES_PER_SECOND is per contract. */
const SIM_ACTIVE_CONTRACTS = 6;
const STEADY_TRADES_PER_SECOND = 10_000;
const SYMBOL = 'MNQ';
const ROOTS = ['MNQ', 'MES', 'ES', 'NQ', 'CL', 'GC'];
/**
 * What each subscriber sends after connecting (docs/market-data-feed.md): the 1-s bars of every contract, no
 * snapshot, so every trade of the feed yields an in-progress bar update to every subscriber. BENCH_WS_SUBSCRIBE
 * (a JSON array of messages) overrides it.
 */
const DEFAULT_SUBSCRIBE = ROOTS.map((symbol) => ({ op: 'subscribe', symbol, timeframe: '1s', snapshot: 0 }));
/**
 * Risk limits out of the way of a benchmark (each RISK_* is the risk-manager's own config): 10,000 alternating
 * market orders pay ~$3,700 in fees (over the 50K DLL) and 50 in flight at once pass the 5-lot and 20-order
 * limits; the 60 orders/min cap would refuse nearly all. BENCH_ENGINE_ENV (JSON) wins over these.
 */
const BENCH_RISK_ENV: Record<string, string> = {
  RISK_MAX_ORDERS_PER_MINUTE: '0',
  RISK_MAX_OPEN_ORDERS: '100000',
  RISK_MAX_POSITION: '1000',
  RISK_DLL: '0',
  RISK_MLL: '0',
};

function envJson(name: string): unknown {
  const raw = process.env[name];
  if (!raw) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    throw new RangeError(`${name}: must be JSON`);
  }
}

/** Files of apps/ and libs/ that can reach a bundle: sources and configs, not tests, docs or build output. */
const BUILD_INPUT = /\.(ts|mts|cts|js|mjs|cjs|json|proto)$/;
const NOT_BUILD_INPUT = /\.(spec|test)\.[cm]?[jt]s$/;
const SKIP_DIRS = new Set(['node_modules', 'test', 'test-output', 'tmp', 'dist', 'out', '__pycache__', '.nx']);

/** Newest modification time (ms) of the build inputs under `dir` (0 when there are none). */
export function newestInputMtime(dir: string): number {
  let newest = 0;
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (!SKIP_DIRS.has(e.name)) newest = Math.max(newest, newestInputMtime(p));
    } else if (BUILD_INPUT.test(e.name) && !NOT_BUILD_INPUT.test(e.name)) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

interface AppBuild {
  app: string;
  /** `node <script> <app dir>` of its project.json build target, when it is that simple. */
  nodeArgs: string[] | undefined;
  outputs: string[];
}

/** The engine and the apps it starts (its implicitDependencies), with their build command and bundles. */
function engineApps(): AppBuild[] {
  const project = (app: string): { targets?: { build?: { options?: { command?: unknown } } }; implicitDependencies?: unknown } =>
    JSON.parse(readFileSync(path.join(ROOT, 'apps', app, 'project.json'), 'utf8')) as ReturnType<typeof project>;
  const deps = project('engine').implicitDependencies;
  const apps = [...(Array.isArray(deps) ? deps.filter((d): d is string => typeof d === 'string' && existsSync(path.join(ROOT, 'apps', d, 'project.json'))) : []), 'engine'];
  return apps.map((app) => {
    const cmd = project(app).targets?.build?.options?.command;
    const m = typeof cmd === 'string' ? /^node (\S+\.mjs) (apps\/[\w-]+)$/.exec(cmd.trim()) : null;
    const entries = ['main', 'worker'].filter((e) => existsSync(path.join(ROOT, 'apps', app, 'src', `${e}.ts`)));
    return { app, nodeArgs: m ? [path.join(ROOT, m[1]!), m[2]!] : undefined, outputs: entries.map((e) => path.join(ROOT, 'dist/apps', app, `${e}.js`)) };
  });
}

/** true when every bundle exists and is newer than every build input (nothing to rebuild). */
function bundlesFresh(apps: readonly AppBuild[]): boolean {
  const outputs = apps.flatMap((a) => a.outputs);
  if (outputs.length === 0 || !outputs.every((o) => existsSync(o))) return false;
  const oldestOutput = Math.min(...outputs.map((o) => statSync(o).mtimeMs));
  const rootInputs = ['tsconfig.base.json', 'package-lock.json', 'tools/scripts/build-app.mjs'].map((f) => path.join(ROOT, f)).filter((f) => existsSync(f));
  const newestInput = Math.max(newestInputMtime(path.join(ROOT, 'apps')), newestInputMtime(path.join(ROOT, 'libs')), newestInputMtime(path.join(ROOT, 'proto')), ...rootInputs.map((f) => statSync(f).mtimeMs));
  return newestInput < oldestOutput;
}

function runNode(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => void (stderr += d.toString()));
    child.once('error', (e) => resolve({ code: 1, stderr: e.message }));
    child.once('close', (code) => resolve({ code, stderr }));
  });
}

/**
 * The engine bundles (dist/apps/*), built only when a source is newer than them. The build runs each app's
 * own build command (tools/scripts/build-app.mjs, esbuild) directly, in parallel: what `nx run engine:build`
 * runs, without nx's start-up (seconds on a busy machine). A build target of another shape goes through nx.
 */
async function build(log: (s: string) => void): Promise<string | undefined> {
  const apps = engineApps();
  if (bundlesFresh(apps)) {
    log(`engine bundles up to date (${apps.map((a) => a.app).join(', ')}): build skipped`);
    return undefined;
  }
  if (apps.every((a) => a.nodeArgs)) {
    log(`building the engine bundles (${apps.map((a) => a.app).join(', ')})…`);
    const results = await Promise.all(apps.map((a) => runNode(a.nodeArgs!).then((r) => ({ ...r, app: a.app }))));
    const bad = results.find((r) => r.code !== 0);
    if (bad) return `engine build failed (${bad.app}): ${bad.stderr.trim().split('\n').slice(-3).join(' ')}`;
  } else {
    log('building the engine (npx nx run engine:build)…');
    // node_modules/.bin/nx points at the CLI wherever this nx version keeps it (dist/bin/nx.js in nx 23).
    const nxCli = realpathSync(path.join(ROOT, 'node_modules/.bin/nx'));
    const r = spawnSync(process.execPath, [nxCli, 'run', 'engine:build', '--outputStyle=static'], {
      cwd: ROOT,
      env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', NX_INTERACTIVE: 'false' },
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
    });
    if (r.status !== 0) return `engine build failed: ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' ')}`;
  }
  const missing = apps.flatMap((a) => a.outputs).find((o) => !existsSync(o));
  if (missing) return `engine build produced no ${path.relative(ROOT, missing)}`;
  return undefined;
}

const msg = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 300);

export async function main(argv: readonly string[]): Promise<number> {
  try {
    return await run(parseArgs(argv));
  } finally {
    // The pooled client processes hold IPC channels that would keep this process alive.
    closeClients();
  }
}

async function run(args: BenchArgs): Promise<number> {
  const started = Date.now();
  const loadAtStart = os.loadavg()[0]!;
  const log = (s: string): void => void process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${s}\n`);
  const wants = (g: Group): boolean => (args.only ? args.only.includes(g) : g === 'soak' ? args.soak : !args.soak);
  const mode: 'quick' | 'full' | 'soak' = args.soak && !args.only ? 'soak' : args.quick ? 'quick' : 'full';
  const q = args.quick;
  const target = reportTarget(args);
  const writesDoc = target === 'report';
  const figures: Figures = {};
  const notes: string[] = [];
  const extraEnv = { ...BENCH_RISK_ENV, ...((envJson('BENCH_ENGINE_ENV') ?? {}) as Record<string, string>) };
  const subscribe = (envJson('BENCH_WS_SUBSCRIBE') as unknown[] | undefined) ?? DEFAULT_SUBSCRIBE;
  if (!Array.isArray(subscribe)) throw new RangeError('BENCH_WS_SUBSCRIBE: must be a JSON array of messages');

  notes.push(
    `Engine settings for every engine run: BROKER_RATE_LIMIT=off, SIM_RATE_LIMITS=off, no simulator faults or added latency, LOG_LEVEL=warn, ${Object.entries(extraEnv)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')} (risk limits out of the benchmark's way; the gate still runs every check).`,
  );
  if (q) log('quick run: fewer samples and shorter windows, so the figures are rough; docs/PERFORMANCE.md is left as it is (a full `npm run bench` writes it)');
  if (wants('bars')) {
    const trades = q ? 300_000 : 2_000_000;
    log(`bars: ${trades} trades…`);
    try {
      const r = await runBarsBench({ trades, seed: 1 });
      figures['bars_trades_per_sec'] = r.tradesPerSec;
      figures['bars_oracle_ratio'] = Math.round(r.ratio * 100) / 100;
      notes.push(
        `Bars: ${trades.toLocaleString('en-US')} seeded trades into 6 timeframes (1s 1m 5m 15m 1h 1d) with ATR(14), SMA(20), EMA(20), one thread, best of 3 timed runs after warm-up; oracle = the same aggregation feeding technicalindicators' streaming nextValue() (${r.oracleTradesPerSec.toLocaleString('en-US')} trades/s). Indicators alone: ${r.indicatorBarsPerSec.toLocaleString('en-US')} bars/s vs ${r.oracleIndicatorBarsPerSec.toLocaleString('en-US')} for the oracle.`,
      );
    } catch (e) {
      Object.assign(figures, allNotMeasured(['bars_trades_per_sec', 'bars_oracle_ratio'], msg(e)));
    }
  }

  if (wants('risk')) {
    const samples = q ? 1_000 : 20_000;
    log(`risk gate: ${samples * RISK_BATCH} calls…`);
    try {
      const r = runRiskGateBench({ samples });
      figures['risk_gate_p99_us'] = Math.round(r.perCallNs.p99) / 1000;
      notes.push(
        `Risk gate: @gateway/risk-gate RiskGate.check() + release() of an allowed entry order on a real allocated SharedState (one ready ACTIVE account, one micro contract with a fresh mark), in-process. Each sample times ${RISK_BATCH} calls with process.hrtime.bigint() and records the per-call mean in ns (beats timer resolution): ${samples} samples after 200 warm-up samples; p50 ${r.perCallNs.p50} ns, p99 ${r.perCallNs.p99} ns, max ${r.perCallNs.max} ns — percentiles of ${RISK_BATCH}-call means, not of single calls.`,
      );
    } catch (e) {
      figures['risk_gate_p99_us'] = notMeasured(msg(e));
    }
  }

  const engineGroups = (['orders', 'idle', 'load', 'steady', 'soak'] as const).filter(wants);
  let soak: SoakResult | undefined;
  let soakError: string | undefined;
  if (engineGroups.length > 0) {
    const failed = await build(log);
    if (!failed) {
      try {
        await bundleClient(ROOT);
      } catch (e) {
        log(`client bundle failed, forking the TypeScript client instead: ${msg(e)}`);
      }
      // One client is all the order round trips need; the rest are forked while the engine idles (below), so
      // their start-ups compete with neither an engine start nor a timed run.
      prefork(1);
    }
    const engineKeys: Record<string, string[]> = {
      orders: ['order_grpc_p50_ms', 'order_grpc_p99_ms', 'order_grpc_max_ms', 'order_grpc_python_p50_ms', 'order_grpc_python_p99_ms', 'grpc_floor_p50_ms', 'grpc_floor_p99_ms', 'order_rest_p50_ms', 'order_rest_p99_ms', 'bare_place_p50_ms', 'order_overhead_p50_ms', 'batch100_ms'],
      idle: ['engine_idle_rss_mb', 'engine_idle_settled_rss_mb'],
      load: ['load_orders', 'load_lost', 'load_duplicated', 'load_p99_ms'],
      steady: ['engine_load_rss_mb', 'engine_cpu_pct', 'tick_to_subscriber_p50_ms', 'tick_to_subscriber_p99_ms', 'tick_to_subscriber_max_ms', 'tick_to_subscriber_frames', 'tick_to_subscriber_engine_p99_ms', 'mark_to_pnl_p99_ms', 'subscriber_kb_each'],
      soak: [],
    };
    const skipAll = (groups: readonly string[], reason: string): void => {
      for (const g of groups) Object.assign(figures, allNotMeasured(engineKeys[g]!, reason));
    };
    if (failed) skipAll(engineGroups, failed);
    else {
      const quiet = engineGroups.filter((g) => g === 'orders' || g === 'idle' || g === 'load');
      if (quiet.length > 0) {
        let engine: EngineProcess | undefined;
        try {
          log('engine (quiet feed): starting…');
          engine = await startEngineProcess({ root: ROOT, simTradesPerSecondPerContract: 2, env: extraEnv });
          log(`engine ready: grpc ${engine.grpcAddress}, http ${engine.httpUrl}, simulator ${engine.simUrl}`);
          if (wants('orders')) {
            log('orders: round trips…');
            Object.assign(figures, await runOrderBenches(engine, { root: ROOT, warmup: q ? 20 : 500, count: q ? 150 : 5_000, batchRuns: q ? 3 : 30, batchWarmup: q ? 1 : 2, symbol: SYMBOL }, notes));
          }
          if (wants('idle')) {
            log('idle RSS…');
            // The load group runs 5 client processes at once, the steady load 3.
            prefork(wants('load') ? 5 : 3);
            figures['engine_idle_rss_mb'] = await measureIdleRss(engine.pid, q ? 1000 : 5000, q ? 1000 : 5000);
            notes.push(
              `Idle RSS: VmRSS of the engine process only (not its simulator child), mean of samples every 250 ms over ${q ? 1 : 5} s, after start-up and the order round trips (warm-up) and ${q ? 1 : 5} s of quiet (simulator at 2 trades/s per contract). It can read higher than the steady-load RSS below, and that is the order of the runs, not a leak under no load: the steady load runs on a second, freshly started engine that serves 5 orders/s, while this engine has just served the thousands of order round trips above, and V8 keeps the heap they grew until its memory reducer gives it back after some 20 s of quiet${q ? '' : ' (the settled row)'}. So this row is "quiet right after a burst of orders", the worst idle state, not a fresh engine's RSS.`,
            );
            if (!q) {
              // V8's memory reducer gives back the garbage of the order runs about 20 s into a quiet spell: the
              // settled figure is what an engine waiting for the next signal holds.
              figures['engine_idle_settled_rss_mb'] = await measureIdleRss(engine.pid, 20_000, 5000);
              notes.push('Idle RSS, settled: the same sampling continued, 30 s after the order runs ended (5 s + 5 s above, 20 s more of quiet, then 5 s of samples).');
            }
          }
          if (wants('load')) {
            const n = q ? 500 : 10_000;
            log(`load: ${n} orders from 50 connections…`);
            Object.assign(figures, await runLoadBench(engine, { orders: n, connections: 50, processes: 5, symbol: SYMBOL }, notes));
          }
        } catch (e) {
          skipAll(quiet.filter((g) => !engineKeys[g]!.some((k) => k in figures)), `engine: ${msg(e)}`);
        } finally {
          await engine?.stop();
        }
      }
      const perContract = Math.ceil(STEADY_TRADES_PER_SECOND / SIM_ACTIVE_CONTRACTS);
      const tradesPerSecond = perContract * SIM_ACTIVE_CONTRACTS;
      if (wants('steady')) {
        let engine: EngineProcess | undefined;
        try {
          prefork(3);
          log(`engine (${tradesPerSecond} trades/s): starting…`);
          engine = await startEngineProcess({ root: ROOT, simTradesPerSecondPerContract: perContract, env: extraEnv });
          log('steady load…');
          Object.assign(
            figures,
            await runSteadyLoad(
              engine,
              { durationMs: q ? 3_000 : 20_000, warmupMs: q ? 1_500 : 10_000, subscribers: 100, ordersPerSecond: 5, tradesPerSecond, symbol: SYMBOL, subscribe, memorySubscribers: 1_000, rssWindowMs: q ? 1_500 : 6_000, memorySettleMs: q ? 1_000 : 2_000 },
              notes,
            ),
          );
        } catch (e) {
          skipAll(['steady'], `engine: ${msg(e)}`);
        } finally {
          await engine?.stop();
        }
      }
      if (wants('soak')) {
        let engine: EngineProcess | undefined;
        try {
          log(`soak: warm-up (at most ${args.soakWarmupMinutes} min), then ${args.soakMinutes} min at ${tradesPerSecond} trades/s…`);
          engine = await startEngineProcess({ root: ROOT, simTradesPerSecondPerContract: perContract, env: extraEnv });
          const durationMs = args.soakMinutes * 60_000;
          const envOf = (k: string): string | undefined => extraEnv[k] ?? process.env[k];
          soak = await runSoak(
            engine,
            {
              durationMs,
              maxWarmupMs: args.soakWarmupMinutes * 60_000,
              intervalMs: Math.min(5_000, Math.max(1_000, durationMs / 60)),
              subscribers: 100,
              ordersPerSecond: 5,
              tradesPerSecond,
              symbol: SYMBOL,
              subscribe,
              barCacheSize: Number(envOf('BAR_CACHE_SIZE') ?? 1000),
              timeframes: (envOf('MARKET_DATA_TIMEFRAMES') ?? '1s,1m,5m,15m,1h,1d').split(','),
              warmupOrders: warmupOrderCount(),
              // Ten orders in flight at once: a rate the simulator and the engine take comfortably (the load row runs 50).
              warmupChannels: 10,
            },
            log,
          );
        } catch (e) {
          soakError = msg(e);
          log(`soak failed: ${soakError}`);
        } finally {
          await engine?.stop();
        }
      }
    }
  }

  const date = new Date();
  const machine = { ...machineInfo(), loadAvg: [loadAtStart, os.loadavg()[0]!] as [number, number] };
  const previous = existsSync(DOC) ? readFileSync(DOC, 'utf8') : undefined;
  if (target === 'soak-section') {
    if (soak) {
      // A soak run replaces only the soak section; the table stays that of the last full run.
      const section = renderSoak(soak, date);
      const old = extractSoakSection(previous);
      const next = previous && old ? previous.replace(old, section) : previous ? `${previous.trimEnd()}\n\n${section}\n` : renderReport({ machine, date, mode, figures, notes, soak });
      writeFileSync(DOC, next);
      log(`wrote ${path.relative(ROOT, DOC)} (soak section)`);
    }
  } else if (writesDoc) {
    writeFileSync(DOC, renderReport({ machine, date, mode, figures, notes, soak }, previous));
    log(`wrote ${path.relative(ROOT, DOC)}`);
  }

  const elapsed = (Date.now() - started) / 1000;
  const docNote =
    mode === 'soak'
      ? undefined
      : writesDoc
        ? `full run: written to ${path.relative(ROOT, DOC)}`
        : `${q ? 'quick' : 'partial'} run: ${q ? 'fewer samples and shorter windows, so the figures are rough; ' : ''}${path.relative(ROOT, DOC)} left unchanged (only a full \`npm run bench\` writes it)`;
  const out = figuresToJson(figures, {
    mode,
    ...(args.only ? { only: args.only } : {}),
    ...(q ? { rough: true } : {}),
    ...(docNote ? { note: docNote } : {}),
    date: date.toISOString(),
    elapsed_s: Math.round(elapsed * 10) / 10,
    machine,
    ...(soak ? { soak_rss_slope_mb_per_min: soak.rssSlopeMbPerMin, soak_rss_growth_mb: soak.rssGrowthMb, soak_rss_flat: soak.flat, soak_warmup_s: Math.round(soak.warmupSec), soak_steady: soak.warmup?.steady ?? false } : {}),
    ...(soakError ? { soak_error: soakError } : {}),
  });
  // The table goes to stdout, unless stdout is the JSON's (then to stderr, with the log).
  if (mode !== 'soak') {
    const table = `${renderTable(figures)}\n${docNote ? `\n${docNote}\n` : ''}`;
    if (args.json) process.stderr.write(`\n${table}\n`);
    else process.stdout.write(table);
  }
  if (args.json) process.stdout.write(`${JSON.stringify(out)}\n`);
  if (soak) log(`soak: RSS slope ${soak.rssSlopeMbPerMin.toFixed(3)} MB/min, ${soak.flat ? 'flat' : 'GROWING'} (${soak.samples.length} samples)`);
  log(`done in ${elapsed.toFixed(1)} s`);
  // A requested soak that could not run is a failed command; goal misses are reported, not exit codes.
  return soakError ? 1 : 0;
}
