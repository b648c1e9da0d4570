/**
 * @fedkit/simulation: simulated federations that run the real server and client code over
 * loopback sockets, with many virtual clients multiplexed over a worker-thread pool, seeded
 * for bit-identical reruns, and paper-style results (rounds to target, curves, plots).
 */
export * from './config.js';
export * from './server-settings.js';
export { ATTACK_KINDS, attackedUpdate, chooseAttackers, type AttackKind, type ResolvedAttack } from './attack.js';
export * from './rounds-to-target.js';
export { renderPlot, renderWallClockPlot, type PlotOptions, type PlotPoint, type WallClockSeries } from './svg-plot.js';
export { metricsCsv, withWallClock, CSV_COLUMNS, type TimedRoundMetrics } from './run-output.js';
export { compareRunsPlot, readRunSeries } from './compare-runs.js';
export { churnPeriods, onlineAt, meanOfflineMs, type ChurnSettings, type ChurnPeriod } from './churn.js';
export { mixSeed, clientIdOf } from './seeds.js';
export { runSimulation, type RunSimulationOptions, type SimulationResult, type SimulationProgress } from './run-simulation.js';
export { reportedPrivacy, type ReportedPrivacy } from './privacy-report.js';
