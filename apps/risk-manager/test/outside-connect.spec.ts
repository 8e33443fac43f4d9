// Acceptance, the risk-manager's own market-hub connection (for a position outside CONTRACTS) failing at first,
// with the real worker against the simulator: the simulator drops the first market-hub sockets before their
// handshake (as a broker not yet accepting would). The connect is retried with back-off until it succeeds; the
// account stays REDUCING (UNPRICED_POSITION) meanwhile, and is priced and ACTIVE once the hub is connected.
// Dropping a socket here drops every hub socket (the simulator's fault): the user hub reconnects and reconciles
// on its own, which also shows the failed market hub does not disturb it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountState } from '@gateway/shared-state';
import { STATE_REASONS } from '@gateway/risk';
import type { RiskStateView } from '../src/account-risk';
import { ACCOUNT_ID, startHarness, waitFor, type Harness } from './harness';

const UNPRICED = STATE_REASONS.indexOf('UNPRICED_POSITION');
/** Market-hub sockets the simulator drops before their handshake. */
const REFUSED = 2;

describe('risk-manager: market hub for contracts outside CONTRACTS refused at first (simulator)', () => {
  let h: Harness;
  let mes: string;
  let attempts = 0;
  /** Account state and reason seen after each refused attempt (the published record). */
  const seenWhileRefused: Array<[number, number]> = [];
  const view = async (): Promise<RiskStateView> => (await h.supervisor.request('risk-manager', 'getRiskState', {})) as RiskStateView;

  beforeAll(async () => {
    h = await startHarness({ STALE_AFTER_MS: '60000' });
    mes = h.contractId.replace('.MNQ.', '.MES.');
    h.sim.on('hubConnection', ({ hub, connected }) => {
      if (hub !== 'market' || !connected) return;
      attempts++;
      if (attempts > REFUSED) return;
      const a = h.account();
      seenWhileRefused.push([a.state, a.reason]);
      // Synchronously, before the client's handshake is read: its connect fails.
      h.sim.faults.disconnectHubs();
    });
    await waitFor('ready', () => h.runtime.state.accounts.isReady(h.accountSlot), 60_000);
    h.move(20_000);
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  it('retries the connect until accepted, REDUCING (UNPRICED_POSITION) until then, then priced and ACTIVE', async () => {
    h.sim.setPrice(mes, 6_000);
    await h.runtime.rest.placeOrder({ accountId: ACCOUNT_ID, contractId: mes, type: 2, side: 0, size: 1 });
    await waitFor('the market hub accepted after the refused connects', () => attempts > REFUSED && h.sim.hubConnections('market') === 1, 60_000);
    expect(seenWhileRefused).toHaveLength(REFUSED);
    // Each refused connect was made for the open position while it had no price.
    expect(seenWhileRefused).toEqual(Array(REFUSED).fill([AccountState.REDUCING, UNPRICED]));

    // Once connected, the subscriptions recorded while refused are sent: the position is priced, the account ACTIVE.
    await waitFor('ACTIVE once priced', () => h.account().state === AccountState.ACTIVE && h.runtime.state.accounts.isReady(h.accountSlot), 30_000);
    expect(h.account().reason).toBe(STATE_REASONS.indexOf('NONE'));
    h.sim.setPrice(mes, 6_010);
    let marked = await view();
    for (const deadline = Date.now() + 30_000; marked.positions[0]?.markUnits !== 6_010 * 1e9 && Date.now() < deadline; marked = await view()) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(marked.positions).toEqual([expect.objectContaining({ contractId: mes, netSize: 1, markUnits: 6_010 * 1e9 })]);
    expect(h.entry()).toBe('ALLOWED');
    // One connection: no socket left over from the failed attempts.
    expect(h.sim.hubConnections('market')).toBe(1);
  }, 90_000);
});
