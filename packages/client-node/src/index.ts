export * from './backend.js';
export * from './mnist.js';
