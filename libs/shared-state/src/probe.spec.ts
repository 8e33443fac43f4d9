import { describe, it, expect } from 'vitest';
import { PROBE } from './index';
describe('probe', () => { it('works', () => { expect(PROBE).toBe(1); }); });
