/**
 * K = 1,000 virtual clients (real sockets, two workers) complete a round with a tiny model
 * under a memory ceiling: workers hold sessions, not data.
 */
import { describe, expect, it } from 'vitest';
import { run, small } from './helpers.js';

/** Measured ~300 MiB (whole process: server, 1,000 sockets, two workers) on the 2-core reference machine. */
const RSS_CEILING_BYTES = 768 * 2 ** 20;

describe('K = 1,000', () => {
  it('completes a round of 100 sampled clients out of 1,000 under the RSS ceiling', async () => {
    const result = await run({
      ...small,
      clients: 1000,
      fraction: 0.1,
      dataset: { name: 'synthetic', numExamples: 20_000, testExamples: 500, numFeatures: 20, numClasses: 4 },
      rounds: 1,
      seed: 3,
    });
    expect(result.rounds).toBe(1);
    expect(result.history[0]).toMatchObject({ status: 'completed', selected: 100, replied: 100 });
    expect(result.peakRssBytes).toBeLessThan(RSS_CEILING_BYTES);
    process.stdout.write(`K=1000: peak RSS ${(result.peakRssBytes / 2 ** 20).toFixed(0)} MiB, ${result.elapsedMs} ms\n`);
  });
});
