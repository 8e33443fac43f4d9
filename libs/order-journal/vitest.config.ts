import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { projectTestConfig } from '../../jest.preset.js';

export default defineConfig(projectTestConfig(fileURLToPath(new URL('.', import.meta.url))));
