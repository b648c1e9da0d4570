/**
 * When wasm cannot start, initNodeBackend falls back to cpu and says why, in `reason` and
 * through the injected log. A separate file: wasm start-up happens once per process.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initNodeBackend } from '../src/backend.js';

describe('initNodeBackend fallback', () => {
  it('falls back to cpu with a reason naming the missing binary, and logs it once per call', async () => {
    const warnings: string[] = [];
    const info = await initNodeBackend({ wasmDir: '/nonexistent/wasm/', log: (m) => warnings.push(m) });
    expect(info.backend).toBe('cpu');
    expect(info.reason).toMatch(/wasm binary not found at \/nonexistent\/wasm\/tfjs-backend-wasm/);
    expect(warnings).toEqual([info.reason]);
    expect(tf.getBackend()).toBe('cpu');
    // The failed start is remembered: asking again does not retry, and still says why.
    expect(await initNodeBackend({ log: (m) => warnings.push(m) })).toEqual(info);
    expect(warnings).toHaveLength(2);
  });
});
