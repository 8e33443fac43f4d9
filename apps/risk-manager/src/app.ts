// The risk-manager service: user hub → positions and P&L in shared memory, TopStepX loss limits and
// the trading state per account. (Service body: issue 6.)
import type { ServiceApp, WorkerContext } from '@gateway/runtime';

export function createApp(ctx: WorkerContext): ServiceApp {
  const { init, logger } = ctx;
  return {
    async start() {
      logger.info({ accounts: init.accounts.map((a) => a.accountId) }, 'risk-manager started');
    },
    async stop() {
      logger.info('risk-manager stopped');
    },
    readyInfo: () => ({ accounts: init.accounts.length }),
  };
}
