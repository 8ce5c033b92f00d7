/**
 * The bus port and its production adapter. The in-memory bus is a test double: tests
 * import it from './memory-bus.js' directly, so nothing that imports this module (the
 * agent included) can reach it.
 */
export * from './types.js';
export { connectNatsBus, scrubUrl, type NatsBusOptions } from './nats-bus.js';
