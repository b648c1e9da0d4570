// Runs once before the whole suite: provides the Debian packages the real-part tests need
// (installing them with apt-get on a fresh machine), or fails loudly saying how to.
import { ensureSystemPackages } from './helpers/system-packages.js';

export default function setup(): void {
  ensureSystemPackages(['chromium', 'redis-server']);
}
