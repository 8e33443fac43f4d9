// Load: N orders through 50 concurrent gRPC connections (several client processes, each with several
// channels on their own HTTP/2 connections), then the simulator's own order list is the judge: every order
// the engine answered as placed must be there exactly once (custom tag and broker id), none twice.
import type { OrderOutcome } from './client';
import { runClient } from './clients';
import type { EngineProcess } from './engine-process';
import { allNotMeasured, type Figures } from './figures';
import { scaleSummary, summarizeSamples } from './hdr';
import { topFailure } from './orders';

export interface LoadOptions {
  orders: number;
  connections: number;
  processes: number;
  symbol: string;
}

export interface SimOrder {
  id: number;
  customTag?: string | null;
  accountId?: number;
}

export interface LoadCheck {
  /** Answered as placed, with a broker id the simulator does not have. */
  lost: number;
  /** Extra copies at the simulator: custom tags or broker ids seen more than once. */
  duplicated: number;
  /** Simulator orders of this run that no successful answer reported (unknown outcomes). */
  orphans: number;
}

/** Compares the successful answers with the simulator's orders carrying this run's strategy tag. */
export function checkAgainstSimulator(outcomes: readonly OrderOutcome[], simOrders: readonly SimOrder[], strategy: string): LoadCheck {
  const mine = simOrders.filter((s) => typeof s.customTag === 'string' && s.customTag.includes(`-${strategy}-`));
  const simIds = new Set(mine.map((s) => s.id));
  const tagCount = new Map<string, number>();
  for (const s of mine) tagCount.set(s.customTag!, (tagCount.get(s.customTag!) ?? 0) + 1);
  let duplicated = 0;
  for (const n of tagCount.values()) if (n > 1) duplicated += n - 1;
  const answered = new Map<number, number>();
  for (const o of outcomes) if (o.ok && o.brokerOrderId > 0) answered.set(o.brokerOrderId, (answered.get(o.brokerOrderId) ?? 0) + 1);
  for (const n of answered.values()) if (n > 1) duplicated += n - 1;
  let lost = 0;
  for (const id of answered.keys()) if (!simIds.has(id)) lost++;
  let orphans = 0;
  for (const id of simIds) if (!answered.has(id)) orphans++;
  return { lost, duplicated, orphans };
}

async function simOrders(simUrl: string): Promise<SimOrder[]> {
  // The engine trades the first account that can trade (1001 on the default simulator); read them all.
  const body = (await (await fetch(`${simUrl}/admin/accounts`)).json()) as { accounts?: { id?: unknown }[] };
  const ids = new Set<number>([1001, 1002, 1003]);
  for (const a of body.accounts ?? []) if (typeof a.id === 'number') ids.add(a.id);
  const out: SimOrder[] = [];
  for (const id of ids) {
    const res = await fetch(`${simUrl}/admin/orders?accountId=${id}`);
    if (!res.ok) continue;
    out.push(...(((await res.json()) as { orders?: SimOrder[] }).orders ?? []));
  }
  return out;
}

export async function runLoadBench(engine: EngineProcess, o: LoadOptions, notes: string[]): Promise<Figures> {
  const keys = ['load_orders', 'load_lost', 'load_duplicated', 'load_p99_ms'];
  const strategy = `bench_load_${Date.now().toString(36)}`;
  const perProcess = Math.ceil(o.connections / o.processes);
  const perChannel = Math.ceil(o.orders / o.connections);
  let outcomes: OrderOutcome[] = [];
  let samples: number[] = [];
  let wallS = 0;
  try {
    const results = await Promise.all(
      Array.from({ length: o.processes }, (_, p) =>
        runClient(
          { kind: 'grpc-load', address: engine.grpcAddress, channels: Math.min(perProcess, o.connections - p * perProcess), perChannel, strategy, symbol: o.symbol, firstChannel: p * perProcess },
          600_000,
        ),
      ),
    );
    outcomes = results.flatMap((r) => r.outcomes);
    samples = results.flatMap((r) => r.samplesUs);
    // The timed phase of each process starts once its channels are connected; the slowest one bounds the run.
    wallS = Math.max(...results.map((r) => r.counters['wallMs'] ?? 0)) / 1000;
  } catch (e) {
    return allNotMeasured(keys, `load clients: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
  const ok = outcomes.filter((x) => x.ok);
  if (ok.length === 0) return allNotMeasured(keys, `no order placed: ${topFailure(outcomes) ?? 'no answer'}`);
  let check: LoadCheck;
  try {
    check = checkAgainstSimulator(outcomes, await simOrders(engine.simUrl), strategy);
  } catch (e) {
    return allNotMeasured(keys, `simulator order list: ${e instanceof Error ? e.message : String(e)}`);
  }
  const lat = scaleSummary(summarizeSamples(samples, 'us'), 1000, 'ms');
  const failed = outcomes.length - ok.length;
  notes.push(
    `Load: ${outcomes.length} market orders from ${o.connections} gRPC connections in ${o.processes} client processes (${perChannel} sequential orders per connection, all connections at once), in ${wallS.toFixed(1)} s after the connections were up (${Math.round(outcomes.length / wallS)} orders/s); ${ok.length} placed, ${failed} refused${failed ? ` (e.g. ${topFailure(outcomes)})` : ''}. Lost = placed answers whose broker id is missing from the simulator's own order list (GET /admin/orders); duplicated = custom tags or broker ids seen twice; ${check.orphans} simulator orders of the run had no successful answer. p99 over every call.`,
  );
  return { load_orders: outcomes.length, load_lost: check.lost, load_duplicated: check.duplicated, load_p99_ms: lat.p99 };
}
