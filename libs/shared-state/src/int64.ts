/*
 * i64 pairs: a safe integer kept in two int32 words (low word first), so that no view needs BigInt and reads never
 * allocate. Writes always use Atomics. A pair is NOT atomic as a whole: it must sit in a seqlocked record, behind a
 * publish word (rate log), or in memory that is immutable once published (directories).
 */
const TWO_32 = 4294967296;

/** Stores safe integer `v` at words [i, i+1]. The caller has validated `v` (assertSafeInt) before its seqlock opens. */
export function storeI64(a: Int32Array, i: number, v: number): void {
  // ToUint32 is the exact value modulo 2^32 for any safe integer; the rest divides exactly by 2^32 and fits int32.
  const lo = v >>> 0;
  Atomics.store(a, i, lo | 0);
  Atomics.store(a, i + 1, (v - lo) / TWO_32);
}

export function loadI64(a: Int32Array, i: number): number {
  return Atomics.load(a, i + 1) * TWO_32 + (Atomics.load(a, i) >>> 0);
}

/**
 * Plain (non-Atomics) load of a pair, ~10× cheaper than two Atomics.load calls in V8. Only for use between a seqlock
 * reader's begin() and valid() — which detect a racing write — or on memory immutable since an Atomics publish.
 */
export function loadI64Plain(a: Int32Array, i: number): number {
  return a[i + 1]! * TWO_32 + (a[i]! >>> 0);
}
