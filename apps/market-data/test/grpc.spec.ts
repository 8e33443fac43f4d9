// MarketDataService (GetBars, StreamBars) over real gRPC and its REST twin, mounted from the front-door
// module on a main-thread stand-in wired to the real market-data app (thread protocol over a MessagePort).
import type { Server } from 'node:http';
import { credentials, Metadata, status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpFrontDoor, createMarketDataModule, startGrpcFrontDoor, type FrontDoorDeps, type GrpcFrontDoor } from '@gateway/front-door';
import { marketData } from '@gateway/proto';
import { closeServer, listen } from '@gateway/runtime';
import { request } from 'undici';
import { silentLogger, startHarness, waitFor, type Harness } from './harness';

describe('MarketDataService over gRPC', () => {
  let h: Harness;
  let grpc: GrpcFrontDoor;
  let http: Server;
  let httpPort: number;
  let client: marketData.MarketDataServiceClient;
  let stopModule: ((deadlineMs: number) => Promise<void>) | undefined;

  beforeAll(async () => {
    h = await startHarness({
      env: { MARKET_DATA_TIMEFRAMES: '1s,1m', BAR_CACHE_SIZE: '200' },
      sim: { market: { tradesPerSecond: 40, tickIntervalMs: 25, historyDays: 1 } },
    });
    const deps = {
      config: h.config,
      runtime: { contracts: h.contracts },
      supervisor: h.supervisor,
      logger: silentLogger(),
    } as unknown as FrontDoorDeps;
    const module = createMarketDataModule(deps);
    stopModule = module.stop;
    grpc = await startGrpcFrontDoor({ host: '127.0.0.1', port: 0, services: [module.grpc!] });
    http = createHttpFrontDoor({ health: () => ({}), mainRegistry: h.registry, collectThreadMetrics: async () => [], modules: [module] });
    httpPort = await listen(http, 0, '127.0.0.1');
    client = new marketData.MarketDataServiceClient(`127.0.0.1:${grpc.port}`, credentials.createInsecure());
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await stopModule?.(100);
    await grpc?.close(100);
    if (http) await closeServer(http);
    await h?.close();
  });

  const getBars = (req: Partial<marketData.GetBarsRequest>): Promise<marketData.GetBarsResponse> =>
    new Promise((resolve, reject) =>
      client.getBars({ symbol: '', timeframe: '', limit: 0, includeOpen: false, ...req }, (err, res) => (err ? reject(err) : resolve(res!))),
    );

  it('GetBars returns the cached bars oldest first with indicators, the open bar last', async () => {
    await waitFor(async () => (await getBars({ symbol: 'MNQ', timeframe: '1m', limit: 30, includeOpen: true })).bars.some((b) => !b.closed), 10_000, 'open bar');
    const res = await getBars({ symbol: 'MNQ', timeframe: '1m', limit: 30, includeOpen: true });
    expect(res.contractId).toBe(h.contracts[0]!.contractId);
    expect(res.timeframe).toBe('1m');
    expect(res.bars.length).toBe(31);
    expect(res.bars.slice(0, 30).every((b) => b.closed)).toBe(true);
    expect(res.bars[30]!.closed).toBe(false);
    for (let i = 1; i < res.bars.length; i++) expect(res.bars[i]!.startTimeMs).toBeGreaterThan(res.bars[i - 1]!.startTimeMs);
    const last = res.bars[29]!;
    expect(last.atr).toBeGreaterThan(0);
    expect(last.sma).toBeGreaterThan(0);
    expect(last.ema).toBeGreaterThan(0);
    expect(Math.round(last.close * 4) / 4).toBe(last.close);
    expect(res.stale).toBe(false);
  }, 20_000);

  it('GetBars refuses an unknown symbol or timeframe with INVALID_ARGUMENT naming the field', async () => {
    const e1 = (await getBars({ symbol: 'XYZ', timeframe: '1m' }).catch((e: unknown) => e)) as ServiceError;
    expect(e1.code).toBe(status.INVALID_ARGUMENT);
    expect(e1.metadata.get('field')).toEqual(['symbol']);
    const e2 = (await getBars({ symbol: 'MNQ', timeframe: '3m' }).catch((e: unknown) => e)) as ServiceError;
    expect(e2.code).toBe(status.INVALID_ARGUMENT);
    expect(e2.details).toContain('3m');
  });

  it('StreamBars sends in-progress and closed bars with increasing sequences', async () => {
    const updates: marketData.BarUpdate[] = [];
    const stream: ClientReadableStream<marketData.BarUpdate> = client.streamBars({ symbols: ['MNQ'], timeframes: ['1s'], includeOpen: true }, new Metadata());
    stream.on('data', (u: marketData.BarUpdate) => updates.push(u));
    const ended = new Promise<void>((resolve) => stream.on('error', () => resolve()).on('end', () => resolve()));
    await waitFor(() => updates.some((u) => u.bar!.closed) && updates.some((u) => !u.bar!.closed), 15_000, 'open and closed updates');
    for (const u of updates) {
      expect(u.bar!.contractId).toBe(h.contracts[0]!.contractId);
      expect(u.bar!.timeframe).toBe('1s');
    }
    for (let i = 1; i < updates.length; i++) expect(updates[i]!.sequence).toBeGreaterThan(updates[i - 1]!.sequence);
    const calls: Array<[string, unknown]> = [];
    const original = h.supervisor.request.bind(h.supervisor);
    h.supervisor.request = (app: string, method: string, params: unknown) => {
      calls.push([method, params]);
      return original(app, method, params);
    };
    stream.cancel();
    await ended;
    // The last stream of the pair is gone: the front door tells market-data to stop emitting it.
    await waitFor(() => calls.some(([m]) => m === 'unsubscribeBars'), 5_000, 'unsubscribeBars');
    expect(calls.find(([m]) => m === 'unsubscribeBars')![1]).toEqual({ symbol: h.contracts[0]!.contractId, timeframe: '1s' });
    h.supervisor.request = original;
  }, 30_000);

  it('StreamBars refuses an unknown timeframe with INVALID_ARGUMENT', async () => {
    const stream = client.streamBars({ symbols: ['MNQ'], timeframes: ['2h'], includeOpen: false });
    const err = await new Promise<ServiceError>((resolve) => stream.on('error', (e: ServiceError) => resolve(e)));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.metadata.get('field')).toEqual(['timeframes[0]']);
  });

  it('serves the REST twin GET /api/go/market/bars', async () => {
    const res = await request(`http://127.0.0.1:${httpPort}/api/go/market/bars?symbol=MNQ&timeframe=1m&limit=5`);
    expect(res.statusCode).toBe(200);
    const body = (await res.body.json()) as { contractId: string; bars: Array<{ closed: boolean; atr?: number }> };
    expect(body.contractId).toBe(h.contracts[0]!.contractId);
    expect(body.bars.length).toBe(5);
    expect(body.bars.every((b) => b.closed && typeof b.atr === 'number')).toBe(true);
    const bad = await request(`http://127.0.0.1:${httpPort}/api/go/market/bars?symbol=MNQ&timeframe=9q`);
    expect(bad.statusCode).toBe(400);
    const err = (await bad.body.json()) as { error: { code: string; field: string } };
    expect(err.error).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'timeframe' });
  });
});
