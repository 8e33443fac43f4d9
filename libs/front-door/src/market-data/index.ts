// Front-door module of market data: MarketDataService over gRPC (GetBars, StreamBars), the REST twin
// GET /api/go/market/bars and its OpenAPI path. Main thread. Bars live on the market-data thread: GetBars is a
// `getBars` request to it; StreamBars asks it (`subscribeBars`, ref-counted per (contract, timeframe)) for
// `bar` events and fans them out to the streams. A stream whose client falls behind gets every closed bar
// but only the newest in-progress bar of each (contract, timeframe), and ends RESOURCE_EXHAUSTED when it stops
// reading (the rule of every server stream, server-stream.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { sendUnaryData, ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';
import { marketData } from '@gateway/proto';
import type { ContractInfo } from '@gateway/runtime';
import type { FrontDoorDeps } from '../deps';
import { FrontDoorError, toServiceError } from '../errors';
import { protoJsonNumber, sendError, sendJson, strictQuery } from '../http-json';
import type { FrontDoorModule } from '../module';
import { grpcServerStream, type ServerStream } from '../server-stream';

const APP = 'market-data';

interface BarEventPayload {
  bar: marketData.Bar;
  sequence: number;
}

interface StreamSub {
  stream: ServerStream<marketData.BarUpdate>;
  keys: Set<string>;
  includeOpen: boolean;
}

const keyOf = (contractId: string, timeframe: string): string => `${contractId}|${timeframe}`;

export function createMarketDataModule(deps: FrontDoorDeps): FrontDoorModule {
  const { supervisor, logger, config } = deps;
  const contracts: ContractInfo[] = deps.runtime.contracts;
  const timeframes = new Set(config.marketDataTimeframes);
  const refs = new Map<string, number>();
  const byKey = new Map<string, Set<StreamSub>>();
  const streams = new Set<StreamSub>();

  function resolveSymbol(symbol: string, field: string): ContractInfo {
    const s = symbol.toUpperCase();
    const c = contracts.find((x) => x.root.toUpperCase() === s || x.contractId.toUpperCase() === s || x.name.toUpperCase() === s);
    if (!c) throw new FrontDoorError('INVALID_ARGUMENT', `${field}: unknown symbol "${symbol}" (known: ${contracts.map((x) => x.root).join(', ')})`, field);
    return c;
  }

  function checkTimeframe(tf: string, field: string): string {
    if (!timeframes.has(tf)) throw new FrontDoorError('INVALID_ARGUMENT', `${field}: unknown timeframe "${tf}" (configured: ${[...timeframes].join(', ')})`, field);
    return tf;
  }

  async function getBars(req: { symbol: string; timeframe: string; limit: number; includeOpen: boolean }): Promise<marketData.GetBarsResponse> {
    const c = resolveSymbol(req.symbol, 'symbol');
    checkTimeframe(req.timeframe, 'timeframe');
    if (!Number.isInteger(req.limit) || req.limit < 0) throw new FrontDoorError('INVALID_ARGUMENT', `limit: must be a non-negative integer, got ${req.limit}`, 'limit');
    return (await supervisor.request(APP, 'getBars', { symbol: c.contractId, timeframe: req.timeframe, limit: req.limit, includeOpen: req.includeOpen })) as marketData.GetBarsResponse;
  }

  function addRef(key: string, contractId: string, timeframe: string): void {
    const n = (refs.get(key) ?? 0) + 1;
    refs.set(key, n);
    if (n === 1) {
      supervisor.request(APP, 'subscribeBars', { symbol: contractId, timeframe }).catch((err: unknown) => {
        logger.warn({ err: (err as Error).message, contractId, timeframe }, 'subscribeBars failed (re-sent when market-data is ready)');
      });
    }
  }

  function release(key: string): void {
    const n = (refs.get(key) ?? 0) - 1;
    if (n > 0) {
      refs.set(key, n);
      return;
    }
    refs.delete(key);
    const [contractId, timeframe] = key.split('|') as [string, string];
    supervisor.request(APP, 'unsubscribeBars', { symbol: contractId, timeframe }).catch(() => undefined);
  }

  /** The stream is over (any cause): its pairs are released. */
  function forget(sub: StreamSub): void {
    streams.delete(sub);
    for (const key of sub.keys) {
      byKey.get(key)?.delete(sub);
      if (byKey.get(key)?.size === 0) byKey.delete(key);
      release(key);
    }
  }

  supervisor.on('event', (app: string, topic: string, payload: unknown) => {
    if (app !== APP || topic !== 'bar') return;
    const ev = payload as BarEventPayload;
    const key = keyOf(ev.bar.contractId, ev.bar.timeframe);
    const subs = byKey.get(key);
    if (!subs) return;
    const update: marketData.BarUpdate = { bar: ev.bar, sequence: ev.sequence };
    for (const sub of subs) {
      // A closed bar replaces its in-progress versions still waiting for a slow reader.
      if (ev.bar.closed) sub.stream.send(update, key);
      else if (sub.includeOpen) sub.stream.sendLatest(key, update);
    }
  });
  // A restarted market-data thread starts with no subscriptions: ask again for every stream's pairs.
  supervisor.on('ready', (app: string) => {
    if (app !== APP) return;
    for (const key of refs.keys()) {
      const [symbol, timeframe] = key.split('|') as [string, string];
      supervisor.request(APP, 'subscribeBars', { symbol, timeframe }).catch(() => undefined);
    }
  });

  const implementation: marketData.MarketDataServiceServer = {
    getBars(call: ServerUnaryCall<marketData.GetBarsRequest, marketData.GetBarsResponse>, callback: sendUnaryData<marketData.GetBarsResponse>) {
      getBars(call.request).then(
        (r) => callback(null, r),
        (err: unknown) => callback(toServiceError(err)),
      );
    },
    streamBars(call: ServerWritableStream<marketData.StreamBarsRequest, marketData.BarUpdate>) {
      let pairs: Array<[ContractInfo, string]>;
      try {
        const cs = call.request.symbols.length === 0 ? contracts : call.request.symbols.map((s, i) => resolveSymbol(s, `symbols[${i}]`));
        const tfs = call.request.timeframes.length === 0 ? [...timeframes] : call.request.timeframes.map((t, i) => checkTimeframe(t, `timeframes[${i}]`));
        pairs = cs.flatMap((c) => tfs.map((t) => [c, t] as [ContractInfo, string]));
      } catch (err) {
        call.emit('error', toServiceError(err));
        return;
      }
      const sub: StreamSub = {
        keys: new Set(),
        includeOpen: call.request.includeOpen,
        stream: grpcServerStream(call, {
          what: 'closed bars',
          recovery: 'subscribe again and read the missed bars back with GetBars',
          onClose: () => forget(sub),
        }),
      };
      streams.add(sub);
      for (const [c, tf] of pairs) {
        const key = keyOf(c.contractId, tf);
        if (sub.keys.has(key)) continue;
        sub.keys.add(key);
        let set = byKey.get(key);
        if (!set) byKey.set(key, (set = new Set()));
        set.add(sub);
        addRef(key, c.contractId, tf);
      }
    },
  };

  async function barsRoute(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    if (url.pathname !== '/api/go/market/bars') return false;
    if (req.method !== 'GET') {
      sendJson(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: `use GET on ${url.pathname}` } });
      return true;
    }
    try {
      const q = strictQuery(url, ['symbol', 'timeframe', 'limit', 'includeOpen']);
      const limitText = q.get('limit');
      const limit = limitText === undefined || limitText === '' ? 100 : protoJsonNumber(limitText, 'int32', 'limit');
      const includeOpen = q.get('includeOpen');
      if (includeOpen !== undefined && includeOpen !== 'true' && includeOpen !== 'false') {
        throw new FrontDoorError('INVALID_ARGUMENT', `includeOpen: must be true or false, got "${includeOpen}"`, 'includeOpen');
      }
      const symbol = q.get('symbol');
      if (!symbol) throw new FrontDoorError('INVALID_ARGUMENT', 'symbol: required (root such as MNQ, or a contract id)', 'symbol');
      const timeframe = q.get('timeframe');
      if (!timeframe) throw new FrontDoorError('INVALID_ARGUMENT', 'timeframe: required (e.g. 1m)', 'timeframe');
      sendJson(res, 200, await getBars({ symbol, timeframe, limit, includeOpen: includeOpen === 'true' }));
    } catch (err) {
      sendError(res, err);
    }
    return true;
  }

  return {
    grpc: { name: 'market_data.MarketDataService', definition: marketData.MarketDataServiceService, implementation },
    routes: [barsRoute],
    openapiPaths: {
      '/api/go/market/bars': {
        get: {
          summary: 'Recent bars of one contract and timeframe (REST twin of MarketDataService.GetBars)',
          parameters: [
            { name: 'symbol', in: 'query', required: true, schema: { type: 'string' }, description: 'root (MNQ) or contract id' },
            { name: 'timeframe', in: 'query', required: true, schema: { type: 'string' }, description: 'a configured timeframe: 1s, 1m, 5m, 15m, 1h, 1d' },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 0, default: 100 }, description: 'newest closed bars; 0 = all kept' },
            { name: 'includeOpen', in: 'query', schema: { type: 'boolean', default: false }, description: 'append the in-progress bar' },
          ],
          responses: {
            '200': { description: 'bars oldest first', content: { 'application/json': { schema: { $ref: '#/components/schemas/GetBarsResponse' } } } },
            '400': { description: 'unknown symbol or timeframe, bad limit', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
            '503': { description: 'market-data not ready', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
          },
        },
      },
    },
    openapiSchemas: {
      Bar: {
        type: 'object',
        properties: {
          contractId: { type: 'string' },
          timeframe: { type: 'string' },
          startTimeMs: { type: 'integer' },
          open: { type: 'number' },
          high: { type: 'number' },
          low: { type: 'number' },
          close: { type: 'number' },
          volume: { type: 'integer' },
          closed: { type: 'boolean' },
          atr: { type: 'number' },
          sma: { type: 'number' },
          ema: { type: 'number' },
          tradeCount: { type: 'integer' },
        },
      },
      GetBarsResponse: {
        type: 'object',
        properties: {
          contractId: { type: 'string' },
          timeframe: { type: 'string' },
          bars: { type: 'array', items: { $ref: '#/components/schemas/Bar' } },
          stale: { type: 'boolean' },
        },
      },
    },
    async stop() {
      for (const sub of [...streams]) sub.stream.end();
    },
  };
}
