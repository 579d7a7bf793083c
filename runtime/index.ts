/**
 * `switchboard`: the library API. Define services, host them with createProvider, find and use
 * them with createClient. The pure machines are in `switchboard/machines`, the transports in
 * `switchboard/adapters`.
 */
export { defineService, capabilitiesOf, type ServiceDefinition, type OperationDefinition, type OperationContext, type Logger } from './service.js';
export { taskFile, fileFrom } from './files/taskFile.js';
export { loadManifest, type ManifestService, type LoadManifestOptions } from './manifest/loadManifest.js';
export { ManifestError } from './manifest/manifestError.js';
export type { TaskFiles, ProviderFilesOptions } from './files/providerFiles.js';
export type { ClientFiles, ClientFilesOptions, FileProgress } from './files/clientFiles.js';
export type { FileRef } from '../machines/files/fileRef.js';
export { createProvider, type Provider, type ProviderOptions, type SigningOptions, type Clock } from './provider.js';
export { compatDeviations, type CompatDeviation, type CompatOption } from './compat.js';
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
export { realHost, networkHost, type RealHostOptions, type NetworkChoice } from './network.js';
export { compositeHost, type HostMember } from './compositeHost.js';
export { createGateway, type Gateway, type GatewayOptions, type GatewayStats } from './gateway/gateway.js';
export { simulate, type SimulateOptions, type SimulateResult } from './simulate/index.js';
export { ProtocolError, ERROR_CODES, type ErrorCode } from '../machines/errors.js';
export { MissingPeerError } from '../adapters/optionalPeer.js';
export type { ServiceView } from '../machines/repository.js';
export { startUiServer, type UiOptions, type UiServer, type UiSources } from './ui/server.js';
export { createMetrics, type MetricsOptions, type SwitchboardMetrics } from './metrics/metrics.js';
export { createLogger, correlationIdOf, type LoggerOptions, type LogFormat, type LogLevel } from './logging/logger.js';
export type { InspectOption } from './inspect/observation.js';
export type { InspectionSource } from './inspect/hub.js';
export type { StatelyInspectOptions } from './inspect/stately.js';
export type { TaskOutcome, TaskFailure } from '../machines/outcome.js';
