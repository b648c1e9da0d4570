/**
 * The public types of FederationServer (federation-server.ts): its constructor options,
 * the summary run() resolves to, and the events it emits.
 */
import type { FinishedMessage, RandomSource } from '@fedkit/protocol';
import type { StrategySpec, Strategy } from '@fedkit/aggregation';
import type { Express } from 'express';
import type { ClientInfo } from './client-registry.js';
import type { ServerOptionsInput } from './config.js';
import type { Logger } from './logger.js';
import type { EvaluationMetrics, RoundMetrics, ServerStage } from './metrics.js';
import type { ModelDefinition } from './model.js';
import type { StaticMounts } from './static-assets.js';
import type { ControlState } from './training-control.js';

export interface FederationServerOptions extends Omit<ServerOptionsInput, 'strategy'> {
  model: ModelDefinition;
  /**
   * The strategy: a Strategy object, or a name with parameters (`{ name: 'fedadam', ... }`,
   * see ServerOptions). @default { name: 'fedavg' }
   */
  strategy?: Strategy | StrategySpec;
  /** Source of client sampling and of DP noise. @default cryptoRandomSource() */
  random?: RandomSource;
  /**
   * Lets a seeded random source drive DP noise (simulations and tests only). Not a config
   * file option, so a production config cannot select it by accident. @default false
   */
  allowSeededRandom?: boolean;
  logger?: Logger;
  /** Server-side evaluation of the global model on a central test set, after each round (resolve null to skip a round). */
  centralEvaluate?: (weights: Float32Array, round: number) => Promise<EvaluationMetrics | null>;
  /**
   * Bearer token for the admin API (pause, resume, stop), at least 16 characters. Without it
   * (and without `adminTokenFile`) the admin endpoints answer 403 `admin-disabled`.
   */
  adminToken?: string;
  /** A file holding the admin token (surrounding whitespace ignored), read once at start. */
  adminTokenFile?: string;
  /** Extra HTTP routes (e.g. generated example data) mounted before the API. */
  configureHttp?: (app: Express) => void;
  /**
   * Static folders served before the API: URL prefix → folder, e.g. the browser SDK bundle,
   * tfjs `.wasm` files and example pages (`clientWebAssets()` of @fedkit/client-web/assets).
   */
  staticMounts?: StaticMounts;
}

export interface FederationSummary {
  reason: FinishedMessage['reason'];
  message: string;
  roundsCompleted: number;
  finalAccuracy: number | null;
  finalLoss: number | null;
  rounds: RoundMetrics[];
}

export interface FederationServerEvents {
  round: [RoundMetrics];
  stage: [ServerStage];
  'client-joined': [ClientInfo];
  'client-left': [string];
  rejected: [{ clientId: string | null; code: string; message: string }];
  finished: [FederationSummary];
  /** close() was called: long-lived HTTP streams (the dashboard feed) end now. */
  closing: [];
  /** Pause, resume or stop requested by an operator. */
  control: [ControlState];
}
