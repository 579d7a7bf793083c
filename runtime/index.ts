/**
 * `switchboard`: the library API. Define services, host them with createProvider, find and use
 * them with createClient. The pure machines are in `switchboard/machines`, the transports in
 * `switchboard/adapters`.
 */
export { defineService, capabilitiesOf, type ServiceDefinition, type OperationDefinition, type OperationContext, type Logger } from './service.js';
export { createProvider, type Provider, type ProviderOptions, type SigningOptions, type Clock } from './provider.js';
export { SigningKeyError, defaultKeyFile, loadOrCreateKey, type ProviderKey } from './keys.js';
export { TrustStoreError, parsePinnedKey, type ClientTrustOptions } from './trustStore.js';
export { createClient, type Client, type ClientOptions, type AssignOptions } from './client.js';
export type { TaskHandle, TaskProgress } from './taskHandle.js';
export { TaskError } from './taskError.js';
export type { AuthOptions, ApiKey, ClientCertificate } from './auth.js';
export { authorize, parseAcl, loadAcl, type Acl, type AclRule } from './acl.js';
export { composeProvider, composeClient, acceptEveryConnection, rejectEveryToken, type TransportHost, type ProviderEffects } from './compose.js';
export { createServiceHandler, failureOf } from './handler.js';
export { decided } from './decided.js';
export { realHost, type RealHostOptions } from './network.js';
export { simulate, type SimulateOptions, type SimulateResult } from './simulate/index.js';
export { ProtocolError, ERROR_CODES, type ErrorCode } from '../machines/errors.js';
export type { ServiceView } from '../machines/repository.js';
export type { TaskOutcome, TaskFailure } from '../machines/outcome.js';
