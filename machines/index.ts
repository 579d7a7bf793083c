/**
 * `switchboard/machines`: the pure statecharts and the wire schemas they speak, for embedding in
 * your own app with your own effects (provide `transport`, `discovery`, `handler`, ... with
 * `machine.provide`). Nothing here does I/O, reads a clock or draws a random number.
 */
export * from './errors.js';
export * from './messages.js';
export * from './capabilities.js';
export * from './timestamp.js';
export * from './codec.js';
export * from './transport.js';
export * from './outcome.js';
export * from './service.js';
export * from './random.js';
export * from './backoff.js';
export * from './placeholder.js';
export * from './actorPool.js';
export * from './selection.js';
export * from './discovery/canonical.js';
export * from './discovery/trust.js';
export * from './discovery/answers.js';
export * from './discovery/admission.js';
export * from './repositoryEntry.js';
export * from './repository.js';
export * from './clientTask.js';
export * from './connection.js';
export * from './client.js';
export * from './session.js';
export * from './providerTask.js';
export * from './taskLedger.js';
export * from './taskRegistry.js';
export * from './advertisement.js';
export * from './provider.js';
