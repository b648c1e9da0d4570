/**
 * @fedkit/privacy: the differential-privacy building blocks of Fedkit as pure TypeScript
 * over numbers and typed arrays (no tfjs, no sockets): L2 clipping, Gaussian noise from an
 * injected RandomSource, and a Rényi-DP accountant for the Poisson-subsampled Gaussian.
 * Wrappers that apply them to strategies and clients build on these.
 */
export * from './accountant/index.js';
export {
  clipL2,
  clipL2PerLayer,
  l2Norm,
  perLayerClipNorms,
  type ClipNormSplit,
  type ClipResult,
  type PerLayerClipResult,
} from './clip.js';
export { addGaussianNoise, gaussianSampler } from './gaussian.js';
export * from './dp/index.js';
export * from './secagg/index.js';
export * from './crypto/index.js';
