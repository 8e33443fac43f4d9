// Shared set-up of the gate tests: a real allocated SharedState with one account and two contracts.
import { AccountState, allocateSharedState, attachSharedState, newAccountRecord, newPositionRecord, type AccountRecord, type PositionRecord, type SharedState } from '@gateway/shared-state';

/** Wednesday 2026-11-25 10:00 CT (16:00 UTC, CST): inside the session, before 15:10 CT. */
export const IN_SESSION_MS = Date.UTC(2026, 10, 25, 16, 0, 0);
export const ACCOUNT_ID = 1001;

export interface Fixture {
  state: SharedState;
  acct: number;
  /** MNQ: a micro, weight 1. */
  mnq: number;
  /** ES: a mini, weight 10. */
  es: number;
  account: AccountRecord;
  publish(patch?: Partial<AccountRecord>): void;
  position(contractSlot: number, patch: Partial<PositionRecord>): void;
}

export function fixture(buffers = allocateSharedState({ contracts: 4, accounts: 2 })): Fixture {
  const state = attachSharedState(buffers);
  const mnq = state.directory.register({ contractId: 'CON.F.US.MNQ.Z26', tickSize: 250_000_000, tickValue: 5_000, weight: 1 });
  const es = state.directory.register({ contractId: 'CON.F.US.EP.Z26', tickSize: 250_000_000, tickValue: 125_000, weight: 10 });
  const acct = state.accounts.registerAccount(ACCOUNT_ID);
  state.marks.setStale(mnq, false);
  state.marks.setStale(es, false);
  const account: AccountRecord = {
    ...newAccountRecord(),
    accountId: ACCOUNT_ID,
    state: AccountState.ACTIVE,
    tradingDayId: 20261125,
    balance: 500_000_000,
    startOfDayBalance: 500_000_000,
    dllLimit: 10_000_000,
    mllFloor: 480_000_000,
    headroom: 10_000_000,
    maxPositionUnits: 50,
    maxOpenOrders: 20,
    maxOrdersPerMinute: 60,
    // Published "now" for the gates of these tests (their clock is IN_SESSION_MS): a fresh record.
    updatedMs: IN_SESSION_MS,
  };
  const f: Fixture = {
    state,
    acct,
    mnq,
    es,
    account,
    publish(patch = {}) {
      Object.assign(account, patch);
      state.accounts.writeAccount(acct, account);
      state.accounts.setReady(acct, true);
    },
    position(contractSlot, patch) {
      state.accounts.writePosition(acct, contractSlot, { ...newPositionRecord(), ...patch });
    },
  };
  return f;
}
