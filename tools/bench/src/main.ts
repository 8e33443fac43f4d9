// `npm run bench [-- --quick] [--json] [--soak [--soak-minutes N]] [--only a,b]`: every benchmark of issue 8,
// then docs/PERFORMANCE.md. In-process micro-benchmarks run first (no engine up), then the compiled engine is
// started per scenario (quiet feed for orders; ~10,000 trades/s for the steady load), with every load
// generator in its own process. A benchmark whose server side is missing yields "not measured: <reason>".
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBarsBench } from './bars';
import { startEngineProcess, type EngineProcess } from './engine-process';
import { allNotMeasured, figuresToJson, notMeasured, type Figures } from './figures';
import { runLoadBench } from './load';
import { measureIdleRss, runSteadyLoad } from './market';
import { runOrderBenches } from './orders';
import { machineInfo } from './proc';
import { renderReport, renderSoak, extractSoakSection, type SoakResult } from './report';
import { runRiskGateBench, RISK_BATCH } from './risk';
import { runSoak } from './soak';

export const GROUPS = ['bars', 'risk', 'orders', 'idle', 'load', 'steady', 'soak'] as const;
export type Group = (typeof GROUPS)[number];

export interface BenchArgs {
  quick: boolean;
  json: boolean;
  soak: boolean;
  soakMinutes: number;
  only: Group[] | undefined;
}

export function parseArgs(argv: readonly string[]): BenchArgs {
  const a: BenchArgs = { quick: false, json: false, soak: false, soakMinutes: 10, only: undefined };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    if (x === '--quick') a.quick = true;
    else if (x === '--json') a.json = true;
    else if (x === '--soak') a.soak = true;
    else if (x === '--soak-minutes') {
      const n = Number(argv[++i]);
      if (!Number.isFinite(n) || n <= 0) throw new RangeError(`--soak-minutes: expected a positive number, got ${argv[i]}`);
      a.soakMinutes = n;
    } else if (x === '--only') {
      const list = (argv[++i] ?? '').split(',').filter(Boolean);
      for (const g of list) if (!(GROUPS as readonly string[]).includes(g)) throw new RangeError(`--only: unknown benchmark "${g}" (one of ${GROUPS.join(', ')})`);
      if (list.length === 0) throw new RangeError(`--only: expected a comma list of ${GROUPS.join(', ')}`);
      a.only = list as Group[];
    } else throw new RangeError(`unknown argument "${x}" (flags: --quick --json --soak --soak-minutes N --only ${GROUPS.join(',')})`);
  }
  return a;
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

function build(log: (s: string) => void): string | undefined {
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
  if (!existsSync(path.join(ROOT, 'dist/apps/engine/main.js'))) return 'engine build produced no dist/apps/engine/main.js';
  return undefined;
}

const msg = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 300);

export async function main(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv);
  const started = Date.now();
  const loadAtStart = os.loadavg()[0]!;
  const log = (s: string): void => void process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${s}\n`);
  const wants = (g: Group): boolean => (args.only ? args.only.includes(g) : g === 'soak' ? args.soak : !args.soak);
  const mode: 'quick' | 'full' | 'soak' = args.soak && !args.only ? 'soak' : args.quick ? 'quick' : 'full';
  const q = args.quick;
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
    const samples = q ? 2_000 : 20_000;
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
    const failed = build(log);
    const engineKeys: Record<string, string[]> = {
      orders: ['order_grpc_p50_ms', 'order_grpc_p99_ms', 'order_grpc_max_ms', 'order_grpc_python_p50_ms', 'order_grpc_python_p99_ms', 'grpc_floor_p50_ms', 'grpc_floor_p99_ms', 'order_rest_p50_ms', 'order_rest_p99_ms', 'bare_place_p50_ms', 'order_overhead_p50_ms', 'batch100_ms'],
      idle: ['engine_idle_rss_mb', 'engine_idle_settled_rss_mb'],
      load: ['load_orders', 'load_lost', 'load_duplicated', 'load_p99_ms'],
      steady: ['engine_load_rss_mb', 'engine_cpu_pct', 'tick_to_subscriber_p99_ms', 'mark_to_pnl_p99_ms', 'subscriber_kb_each'],
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
            Object.assign(figures, await runOrderBenches(engine, { root: ROOT, warmup: q ? 50 : 500, count: q ? 300 : 5_000, batchRuns: q ? 5 : 30, symbol: SYMBOL }, notes));
          }
          if (wants('idle')) {
            log('idle RSS…');
            figures['engine_idle_rss_mb'] = await measureIdleRss(engine.pid, q ? 1500 : 5000, q ? 2000 : 5000);
            notes.push(
              `Idle RSS: VmRSS of the engine process only (not its simulator child), mean of samples every 250 ms over ${q ? 2 : 5} s, after start-up and the order round trips (warm-up) and ${q ? 1.5 : 5} s of quiet (simulator at 2 trades/s per contract).`,
            );
            if (!q) {
              // V8's memory reducer gives back the garbage of the order runs about 20 s into a quiet spell: the
              // settled figure is what an engine waiting for the next signal holds.
              figures['engine_idle_settled_rss_mb'] = await measureIdleRss(engine.pid, 20_000, 5000);
              notes.push('Idle RSS, settled: the same sampling continued, 30 s after the order runs ended (5 s + 5 s above, 20 s more of quiet, then 5 s of samples).');
            }
          }
          if (wants('load')) {
            const n = q ? 1_000 : 10_000;
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
          log(`engine (${tradesPerSecond} trades/s): starting…`);
          engine = await startEngineProcess({ root: ROOT, simTradesPerSecondPerContract: perContract, env: extraEnv });
          log('steady load…');
          Object.assign(
            figures,
            await runSteadyLoad(
              engine,
              { durationMs: q ? 5_000 : 20_000, warmupMs: q ? 3_000 : 10_000, subscribers: 100, ordersPerSecond: 5, tradesPerSecond, symbol: SYMBOL, subscribe, memorySubscribers: 1_000, rssWindowMs: q ? 3_000 : 6_000 },
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
          log(`soak: ${args.soakMinutes} min at ${tradesPerSecond} trades/s…`);
          engine = await startEngineProcess({ root: ROOT, simTradesPerSecondPerContract: perContract, env: extraEnv });
          const durationMs = args.soakMinutes * 60_000;
          soak = await runSoak(
            engine,
            { durationMs, warmupMs: Math.min(60_000, durationMs / 5), intervalMs: Math.min(5_000, Math.max(1_000, durationMs / 60)), subscribers: 100, ordersPerSecond: 5, tradesPerSecond, symbol: SYMBOL, subscribe },
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
  if (mode === 'soak') {
    if (soak) {
      // A soak run replaces only the soak section; the table stays that of the last full or quick run.
      const section = renderSoak(soak, date);
      const old = extractSoakSection(previous);
      const next = previous && old ? previous.replace(old, section) : previous ? `${previous.trimEnd()}\n\n${section}\n` : renderReport({ machine, date, mode, figures, notes, soak });
      writeFileSync(DOC, next);
      log(`wrote ${path.relative(ROOT, DOC)} (soak section)`);
    }
  } else if (!args.only) {
    writeFileSync(DOC, renderReport({ machine, date, mode, figures, notes, soak }, previous));
    log(`wrote ${path.relative(ROOT, DOC)}`);
  } else log('--only: docs/PERFORMANCE.md left unchanged (a partial run does not replace the report)');

  const elapsed = (Date.now() - started) / 1000;
  const out = figuresToJson(figures, {
    mode,
    date: date.toISOString(),
    elapsed_s: Math.round(elapsed * 10) / 10,
    machine,
    ...(soak ? { soak_rss_slope_mb_per_min: soak.rssSlopeMbPerMin, soak_rss_growth_mb: soak.rssGrowthMb, soak_rss_flat: soak.flat } : {}),
    ...(soakError ? { soak_error: soakError } : {}),
  });
  if (args.json) process.stdout.write(`${JSON.stringify(out)}\n`);
  else {
    for (const [k, v] of Object.entries(figures)) log(`  ${k.padEnd(28)} ${typeof v === 'number' ? v : `not measured: ${v.notMeasured}`}`);
    if (soak) log(`  soak: RSS slope ${soak.rssSlopeMbPerMin.toFixed(3)} MB/min, ${soak.flat ? 'flat' : 'GROWING'} (${soak.samples.length} samples)`);
    log(`done in ${elapsed.toFixed(1)} s`);
  }
  // A requested soak that could not run is a failed command; goal misses are reported, not exit codes.
  return soakError ? 1 : 0;
}
