/** What every cluster module needs to talk to Redis: the connection, the key names, who we are. */
import type { Redis } from 'ioredis';
import type { ClusterKeys } from './keys.js';

export interface ClusterLink {
  readonly redis: Redis;
  readonly keys: ClusterKeys;
  readonly processId: string;
}
