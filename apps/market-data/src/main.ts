// `npx nx serve market-data`: this service alone, against the embedded simulator by default.
import { runStandalone } from '@gateway/runtime';

await runStandalone('market-data', import.meta.url);
