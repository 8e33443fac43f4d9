export * from './chicago';
export * from './trading-day';
