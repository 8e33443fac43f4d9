import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { AccountState, allocateSharedState, attachSharedState, newAccountRecord, newPositionRecord } from '@gateway/shared-state';
import { risk } from '@gateway/proto';
import { createHttpFrontDoor } from '../http-server';
import type { FrontDoorDeps } from '../deps';
import { createRiskModule, readAccountRiskState } from './index';

function setup() {
  const state = attachSharedState(allocateSharedState({ contracts: 2, accounts: 1 }));
  const slot = state.directory.register({ contractId: 'CON.F.US.MNQ.Z26', tickSize: 250_000_000, tickValue: 5_000, weight: 1 });
  const acct = state.accounts.registerAccount(1001);
  const calls: Array<[string, unknown]> = [];
  const supervisor = Object.assign(new EventEmitter(), {
    request: async (_app: string, method: string, params: unknown) => {
      calls.push([method, params]);
      if (method === 'resume') throw Object.assign(new Error('account 1001 stays HALTED: DAILY_LOSS_LIMIT'), { code: 'DAILY_LOSS_LIMIT' });
      return {};
    },
  });
  const registry = new Registry();
  const deps = {
    runtime: { state, accounts: [{ accountId: 1001, name: 'S1', slot: acct }], contracts: [{ contractId: 'CON.F.US.MNQ.Z26', slot }] },
    supervisor,
    registry,
  } as unknown as FrontDoorDeps;
  const module = createRiskModule(deps);
  const publish = (): void => {
    state.accounts.writeAccount(acct, {
      ...newAccountRecord(),
      accountId: 1001,
      state: AccountState.HALTED,
      reason: 1,
      tradingDayId: 20261202,
      balance: 49_000 * 10_000,
      realizedGross: -990 * 10_000,
      fees: 10 * 10_000,
      dayNetPnl: -1_000 * 10_000,
      dllLimit: 1_000 * 10_000,
      mllFloor: 48_000 * 10_000,
      openOrders: 0,
    });
    state.accounts.writePosition(acct, slot, { ...newPositionRecord(), netSize: 1, avgPrice: 20_000 * 1e9 });
    state.accounts.setReady(acct, true);
  };
  return { state, acct, slot, supervisor, calls, registry, module, publish };
}

describe('risk front-door module', () => {
  const servers: Array<{ close(): void }> = [];
  afterEach(() => {
    for (const s of servers.splice(0)) s.close();
  });

  async function serve(m: ReturnType<typeof setup>): Promise<string> {
    const server = createHttpFrontDoor({ health: () => ({}), mainRegistry: m.registry, collectThreadMetrics: async () => [], modules: [m.module] });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('reads the state from shared memory: NOT_READY until ready, then the published numbers in USD', () => {
    const m = setup();
    expect(readAccountRiskState(m.state, m.acct, [m.slot]).tradingState).toBe(risk.TradingState.NOT_READY);
    m.publish();
    const s = readAccountRiskState(m.state, m.acct, [m.slot]);
    expect(s).toMatchObject({ accountId: 1001, tradingState: risk.TradingState.HALTED, reason: 'DAILY_LOSS_LIMIT', balance: 49_000, realizedPnl: -1_000, netPnl: -1_000, dailyLossHeadroom: 0, mllFloor: 48_000, tradingDay: '2026-12-02' });
    expect(s.positions).toEqual([{ contractId: 'CON.F.US.MNQ.Z26', netQuantity: 1, averagePrice: 20_000 }]);
  });

  it('clears the ready flags when the risk-manager thread exits', () => {
    const m = setup();
    m.publish();
    m.supervisor.emit('exit', 'market-data', 1);
    expect(m.state.accounts.isReady(m.acct)).toBe(true);
    m.supervisor.emit('exit', 'risk-manager', 1);
    expect(m.state.accounts.isReady(m.acct)).toBe(false);
  });

  it('serves the REST twins: state, halt, a refused resume with its reason code, and errors naming the field', async () => {
    const m = setup();
    m.publish();
    const base = await serve(m);
    const st = await request(`${base}/api/go/risk/state`);
    expect(st.statusCode).toBe(200);
    expect(((await st.body.json()) as { reason: string }).reason).toBe('DAILY_LOSS_LIMIT');
    const halt = await request(`${base}/api/go/risk/halt`, { method: 'POST', body: JSON.stringify({ reason: 'operator', flatten: true }) });
    expect(halt.statusCode).toBe(200);
    await halt.body.dump();
    expect(m.calls[0]).toEqual(['halt', { accountId: 0, reason: 'operator', flatten: true }]);
    const resume = await request(`${base}/api/go/risk/resume`, { method: 'POST', body: '{}' });
    expect(resume.statusCode).toBe(422);
    expect(((await resume.body.json()) as { error: { reasonCode: string } }).error.reasonCode).toBe('DAILY_LOSS_LIMIT');
    const bad = await request(`${base}/api/go/risk/state?accountId=x`);
    expect(bad.statusCode).toBe(400);
    expect(((await bad.body.json()) as { error: { field: string } }).error.field).toBe('accountId');
    const unknown = await request(`${base}/api/go/risk/state?accountId=7`);
    expect(unknown.statusCode).toBe(404);
    await unknown.body.dump();
  });

  it('reads query parameters strictly: account_id like accountId, a misspelt or doubled key is 400 naming it (never the default account)', async () => {
    const m = setup();
    m.publish();
    const base = await serve(m);
    const snake = await request(`${base}/api/go/risk/state?account_id=7`);
    expect(snake.statusCode).toBe(404);
    await snake.body.dump();
    for (const [query, field] of [
      ['acount_id=7', 'acount_id'],
      ['accountId=0&account_id=7', 'account_id'],
    ] as const) {
      for (const path of ['state', 'events']) {
        const r = await request(`${base}/api/go/risk/${path}?${query}`);
        expect(r.statusCode, `${path}?${query}`).toBe(400);
        expect(((await r.body.json()) as { error: { field: string } }).error.field).toBe(field);
      }
    }
  });

  it('halt and resume over REST take account_id (the proto JSON name) like accountId: never the default account instead', async () => {
    const m = setup();
    m.publish();
    const base = await serve(m);
    const other = await request(`${base}/api/go/risk/halt`, { method: 'POST', body: JSON.stringify({ account_id: 7, flatten: true }) });
    expect(other.statusCode).toBe(404);
    expect(((await other.body.json()) as { error: { field: string } }).error.field).toBe('account_id');
    expect(m.calls).toEqual([]);
    const resume = await request(`${base}/api/go/risk/resume`, { method: 'POST', body: JSON.stringify({ account_id: 7 }) });
    expect(resume.statusCode).toBe(404);
    await resume.body.dump();
    const halt = await request(`${base}/api/go/risk/halt`, { method: 'POST', body: JSON.stringify({ account_id: 1001 }) });
    expect(halt.statusCode).toBe(200);
    await halt.body.dump();
    expect(m.calls).toEqual([['halt', { accountId: 1001, reason: '', flatten: false }]]);
  });

  it('halt and resume refuse an unknown field, or one sent in both spellings, naming it, and pass nothing to the risk-manager', async () => {
    const m = setup();
    m.publish();
    const base = await serve(m);
    const cases: Array<[string, string, string]> = [
      // The two: a halt that did not flatten, a resume of the default account.
      ['halt', '{"flaten":true}', 'flaten'],
      ['resume', '{"acount_id":5}', 'acount_id'],
      ['halt', '{"reason":"x","Flatten":true}', 'Flatten'],
      ['halt', '{"account_id":1001,"accountId":1001}', 'accountId'],
      ['halt', '{"flatten":"true"}', 'flatten'],
      ['resume', '{"account_id":1001,"flatten":true}', 'flatten'],
      ['resume', '{"reason":7}', 'reason'],
      ['resume', '[]', 'body'],
      ['halt', 'null', 'body'],
    ];
    for (const [route, body, field] of cases) {
      const res = await request(`${base}/api/go/risk/${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const e = ((await res.body.json()) as { error?: { code: string; field: string; message: string } }).error;
      expect({ route, body, status: res.statusCode, code: e?.code, field: e?.field }).toEqual({ route, body, status: 400, code: 'INVALID_ARGUMENT', field });
      expect(e?.message.startsWith(`${field}: `)).toBe(true);
    }
    expect(m.calls).toEqual([]);
    // Both spellings of one field each work alone.
    for (const body of ['{"account_id":"1001","flatten":true}', '{"accountId":1001,"flatten":true,"reason":"r"}']) {
      const ok = await request(`${base}/api/go/risk/halt`, { method: 'POST', body });
      expect(ok.statusCode).toBe(200);
      await ok.body.dump();
    }
    expect(m.calls).toEqual([
      ['halt', { accountId: 1001, reason: '', flatten: true }],
      ['halt', { accountId: 1001, reason: 'r', flatten: true }],
    ]);
  });

  it('refuses a halt or resume reason over 256 characters, naming reason, and passes nothing to the risk-manager', async () => {
    const m = setup();
    m.publish();
    const base = await serve(m);
    for (const route of ['halt', 'resume']) {
      const res = await request(`${base}/api/go/risk/${route}`, { method: 'POST', body: JSON.stringify({ reason: 'x'.repeat(257) }) });
      expect(res.statusCode).toBe(400);
      expect(((await res.body.json()) as { error: { field: string } }).error.field).toBe('reason');
    }
    expect(m.calls).toEqual([]);
    const ok = await request(`${base}/api/go/risk/halt`, { method: 'POST', body: JSON.stringify({ reason: 'y'.repeat(256) }) });
    expect(ok.statusCode).toBe(200);
    await ok.body.dump();
  });

  it('streams risk events as server-sent events and exports gauges from shared memory', async () => {
    const m = setup();
    m.publish();
    const base = await serve(m);
    const res = await request(`${base}/api/go/risk/events`);
    expect(res.headers['content-type']).toBe('text/event-stream');
    const chunks: string[] = [];
    const got = new Promise<void>((resolve) => {
      res.body.on('data', (b: Buffer) => {
        chunks.push(b.toString());
        if (chunks.join('').includes('STATE_CHANGED')) resolve();
      });
    });
    m.supervisor.emit('event', 'risk-manager', 'risk.event', { type: 'STATE_CHANGED', accountId: 1001, from: 'ACTIVE', to: 'HALTED', reason: 'DAILY_LOSS_LIMIT', atMs: 1, message: 'halted' });
    await got;
    const data = JSON.parse(/data: (.*)\n/.exec(chunks.join(''))![1]!) as { kind: string; reason: string; sequence: number; state: { tradingState: number } };
    expect(data).toMatchObject({ kind: 'STATE_CHANGED', reason: 'DAILY_LOSS_LIMIT', sequence: 1, state: { tradingState: risk.TradingState.HALTED } });
    res.body.destroy();
    const text = await m.registry.metrics();
    expect(text).toContain('risk_day_net_pnl_usd{account="1001"} -1000');
    expect(text).toContain('risk_trading_state{account="1001"} 3');
    await m.module.stop?.(100);
  });
});
