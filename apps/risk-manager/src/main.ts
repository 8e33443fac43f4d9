// `npx nx serve risk-manager`: this service alone, against the embedded simulator by default.
import { runStandalone } from '@gateway/runtime';

await runStandalone('risk-manager', import.meta.url);
