// @gateway/risk: the pure risk domain. Positions and P&L from fills, Topstep limits (DLL, trailing MLL,
// position size, orders, trading hours), the per-account trading state machine and the pre-trade gate.
// No I/O, no clock of its own, no shared memory: plain values in, plain values out.
export * from './money';
export * from './position';
export * from './limits';
export * from './weights';
export * from './mll';
export * from './stops';
export * from './hours';
export * from './rate';
export * from './gate';
export * from './state-machine';
