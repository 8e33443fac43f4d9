// `npx nx serve order-executor`: the executor alone. (Front door slice: issue 4.)
import { runStandalone } from '@gateway/runtime';

await runStandalone('order-executor', import.meta.url, 'pool');
