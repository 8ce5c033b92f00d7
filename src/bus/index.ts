export * from './types.js';
export { MemoryBus, subjectMatches } from './memory-bus.js';
