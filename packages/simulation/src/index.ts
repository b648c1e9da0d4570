/**
 * @fedkit/simulation: simulated federations that run the real server and client code over
 * loopback sockets, with many virtual clients multiplexed over a worker-thread pool, seeded
 * for bit-identical reruns, and paper-style results (rounds to target, curves, plots).
 */
export * from './config.js';
export * from './server-settings.js';
export { ATTACK_KINDS, attackedUpdate, chooseAttackers, type AttackKind, type ResolvedAttack } from './attack.js';
export * from './rounds-to-target.js';
export { renderPlot, type PlotOptions, type PlotPoint } from './svg-plot.js';
export { metricsCsv, CSV_COLUMNS } from './run-output.js';
export { mixSeed, clientIdOf } from './seeds.js';
export { runSimulation, type RunSimulationOptions, type SimulationResult, type SimulationProgress } from './run-simulation.js';
export { reportedPrivacy, type ReportedPrivacy } from './privacy-report.js';
