/** Parameters and control words of the close-lease claim workers (workers/close-claims.ts). */
export interface CloseClaimsParams {
  mode: 'rounds' | 'random';
  id: number;
  threads: number;
  rounds: number;
  ops: number;
  keys: number;
  seed: number;
  nowMs: number;
}

/** Control words: GO, then per round two barrier counters; then one holder word per key. */
export const CLAIM_CTL = { GO: 0, BARRIERS: 16 } as const;
