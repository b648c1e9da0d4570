/**
 * Byzantine-robust strategies in real rounds over real sockets: the server builds them from
 * a spec, one hostile client (a huge update, claiming many examples) cannot move the median
 * or Krum's choice, and a Krum round with fewer replies than 2f + 3 fails and is retried
 * instead of aggregating without the guarantee.
 */
import { describe, expect, it } from 'vitest';
import type { FederationServer, FederationServerOptions, FederationSummary } from '@fedkit/server';
import { constantTrainer, startClient, startServer, tinyModel } from '../helpers/federation.js';

/**
 * Runs one round with honest a (0.5), b (1) and hostile c (1e6, claiming 10,000 examples),
 * hands the server and summary to `check`, and always stops clients and server.
 */
async function roundWithAttacker(options: Partial<FederationServerOptions>, check: (server: FederationServer, summary: FederationSummary) => void): Promise<void> {
  const { server, url } = await startServer({ rounds: 1, ...options });
  const summary = server.run();
  const clients = [startClient(url, 'a', constantTrainer(0.5)), startClient(url, 'b', constantTrainer(1)), startClient(url, 'c', constantTrainer(1e6, 10_000))];
  try {
    check(server, await summary);
  } finally {
    for (const c of clients) c.stop();
    await server.close();
  }
}

const moved = (by: number): number[] => Array.from(tinyModel.weights, (w) => Math.fround(w + by));

describe('robust strategies in rounds', () => {
  it('fedmedian moves the model by the median update, whatever the attacker sends', async () => {
    await roundWithAttacker({ strategy: { name: 'fedmedian' } }, (server, summary) => {
      expect(summary.roundsCompleted).toBe(1);
      expect(Array.from(server.currentWeights())).toEqual(moved(1));
      expect(server.status().strategy).toBe('fedmedian');
    });
  });

  it('krum picks an honest update (a and b tie; the smaller id wins) and says how many it kept', async () => {
    await roundWithAttacker({ strategy: { name: 'krum' } }, (server, summary) => {
      expect(Array.from(server.currentWeights())).toEqual(moved(0.5));
      expect(summary.rounds[0]?.train).toMatchObject({ krumSelected: 1, numClients: 3 });
    });
  });

  it('fedavg, for contrast, is dragged to the attacker', async () => {
    await roundWithAttacker({}, (server) => expect(server.currentWeights()[0]).toBeGreaterThan(tinyModel.weights[0]! + 9e5));
  });

  it('a krum round with fewer than 2f + 3 replies fails and is retried, never aggregated', async () => {
    await roundWithAttacker({ strategy: { name: 'krum', numMaliciousClients: 1 }, maxRoundAttempts: 2 }, (server, summary) => {
      expect(summary.reason).toBe('stopped');
      expect(summary.roundsCompleted).toBe(0);
      expect(summary.rounds.map((r) => [r.status, r.reason])).toEqual([
        ['failed', 'the strategy could not aggregate'],
        ['failed', 'the strategy could not aggregate'],
      ]);
      expect(Array.from(server.currentWeights())).toEqual(Array.from(tinyModel.weights));
    });
  });
});
