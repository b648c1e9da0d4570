/**
 * The Strategy conformance suite (STYLE §16b) run against the DP wrappers.
 *
 * The exactness properties need noise 0 (and a clip norm no update reaches); one run adds
 * a little noise and passes a tolerance instead. Properties that differ by design:
 *
 * - example weights: DP-FedAvg weighs every reply equally (an example-weighted mean has no
 *   bounded sensitivity), so the suite runs with `weighted: false`, which replaces "weights
 *   each reply by its number of examples" and "gives a reply with zero examples no
 *   influence" with "ignores example counts", and `totalWeight` counts replies;
 * - fixed denominator: the mean divides by `expectedClients`, not by the replies, so "moves
 *   the model by the update" holds because the suite sends exactly 3 replies and m = 3;
 * - client-side adaptive clipping (`withAdaptiveClipping({ mode: 'distributed' })`) needs a
 *   0/1 `dpUnclipped` metric in every reply, which the suite's replies do not carry, so it
 *   is tested in dp-adaptive.test.ts instead.
 */
import { fedAvg } from '@fedkit/aggregation';
import { seededRandomSource } from '@fedkit/protocol';
import { describeStrategy } from '../../aggregation/test/conformance.js';
import { withAdaptiveClipping } from '../src/dp/adaptive-clipping.js';
import { withCentralDp, withDistributedDp } from '../src/dp/fixed-clipping.js';

const exact = { weighted: false } as const;
const m = 3;

describeStrategy('withCentralDp(fedAvg()), z = 0', () => withCentralDp(fedAvg(), { clipNorm: 1e3, noiseMultiplier: 0, expectedClients: m }), exact);

describeStrategy(
  'withCentralDp(fedAvg()), z = 1e-5, S = 10 (noise stddev on the mean 3.3e-5)',
  () => withCentralDp(fedAvg(), { clipNorm: 10, noiseMultiplier: 1e-5, expectedClients: m, random: seededRandomSource(7) }),
  { weighted: false, tolerance: 1e-3 },
);

describeStrategy('withDistributedDp(fedAvg()), z = 0', () => withDistributedDp(fedAvg(), { clipNorm: 1e3, noiseMultiplier: 0, expectedClients: m }), exact);

describeStrategy(
  'withAdaptiveClipping(fedAvg()), central, z_total = 0',
  () => withAdaptiveClipping(fedAvg(), { noiseMultiplier: 0, expectedClients: m, initialClipNorm: 1e3 }),
  exact,
);
