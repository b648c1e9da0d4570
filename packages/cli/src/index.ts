export { DEMO_CONFIG } from './demo-defaults.js';
export { parseConfig, loadConfigFile, type FedkitConfig } from './config-file.js';
