export * from './backend.js';
export * from './mnist.js';
export * from './node-client.js';
