export * from './types.js';
export * from './states.js';
export * from './instance.js';
export * from './registry.js';
export * from './resources.js';
