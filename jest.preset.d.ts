import type { UserConfig } from 'vitest/config';
export declare const workspaceRoot: string;
export declare const alias: Record<string, string>;
export declare function projectTestConfig(
  projectRoot: string,
  options?: { include?: string[]; testTimeout?: number; fileParallelism?: boolean },
): UserConfig;
