// @gateway/order-journal: the order journal (append-only JSON lines with group-committed fsync, and
// its replay) and the task messages between the orders module and the order-executor threads.
export * from './task';
export * from './journal';
