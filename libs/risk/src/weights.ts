// Position weight of a contract by its CME root: how many position units one contract counts for against the
// account's maximum position (topstepx-api.md §11, "TopstepX Micros and Minis"). The one table both places that
// resolve contracts use: the engine's bootstrap (the contract directory's weight, which the gate reads) and the
// risk-manager (contracts outside CONTRACTS it meets in fills and orders).
import { MICRO_WEIGHT, MINI_WEIGHT } from './limits';

/**
 * The weight of each micro root where the account counts micros as tenths (RiskLimits.microWeighting); any root not
 * listed is a mini, MINI_WEIGHT. Where micros are not weighted every contract counts MINI_WEIGHT.
 *
 * "10 micros = 1 mini in Combine and XFA; Micro Silver/Bitcoin/Ether weighted differently": Topstep does not publish
 * those three weights, so Micro Bitcoin (MBT), Micro Ether (MET) and Micro Silver (SIL) count as full lots — the
 * conservative choice, so the gate can never allow more than Topstep's maximum. The cost: a trader may be refused size
 * Topstep would accept (a 50K holds at most 5 MBT, MET or SIL here).
 */
export const MICRO_ROOT_WEIGHTS: ReadonlyMap<string, number> = new Map([
  ['MES', MICRO_WEIGHT],
  ['MNQ', MICRO_WEIGHT],
  ['M2K', MICRO_WEIGHT],
  ['MYM', MICRO_WEIGHT],
  ['MGC', MICRO_WEIGHT],
  ['MCL', MICRO_WEIGHT],
  ['M6E', MICRO_WEIGHT],
  ['M6A', MICRO_WEIGHT],
  ['M6B', MICRO_WEIGHT],
  ['MBT', MINI_WEIGHT],
  ['MET', MINI_WEIGHT],
  ['SIL', MINI_WEIGHT],
]);

/**
 * Does a contract of this root count as 1/10 of a mini where the account weights micros? This is the `isMicro` of a
 * ContractSpec / ContractInfo: false for a mini and for the micros counted as full lots (MBT, MET, SIL).
 */
export function countsAsTenthOfMini(root: string): boolean {
  return MICRO_ROOT_WEIGHTS.get(root) === MICRO_WEIGHT;
}
