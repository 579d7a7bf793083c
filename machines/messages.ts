/**
 * Wire schemas for every switchboard message (seed 004 sections 4 to 7), as zod 4 codecs:
 * `decode` is liberal (see docs/protocol.md, "Liberal decoding"), `encode` writes exactly the seed's
 * field names. TypeScript types are inferred from these schemas and never written twice.
 *
 * Internal shape after decoding: timestamps are epoch milliseconds (UTC), endpoints always carry
 * their `ws://` or `wss://` scheme, capabilities are `{ key, settings: [{ type, name }] }`, status
 * words have the seed's capitalisation. Unknown fields are dropped.
 */
import * as z from 'zod';
import { CapabilitiesCodec } from './capabilities.js';
import { eventClientMessageSchemas, eventProviderMessageSchemas } from './events/messages.js';
import { IdSchema, TimestampCodec } from './wire/scalars.js';

// ---- scalar codecs ----------------------------------------------------------------------------

// Ids and timestamps live in wire/scalars.ts, so that the extensions' schemas (machines/events/)
// can use them without importing this file, which lists them (no import cycle).
export { IdSchema, TimestampCodec, TimestampSchema } from './wire/scalars.js';

const ENDPOINT_PATTERN = /^(?:wss?|nats):\/\/[^\s/?#]+(?:[/?#]\S*)?$/;

/**
 * `ws://host:port`, `wss://host:port/path` or a bare `host:port` (read as `ws://`); or a listener
 * on NATS, `nats://<subjectPrefix>/<name>` (docs/nats.md).
 */
export const EndpointCodec = z.codec(z.string().min(1).max(2048), z.string().max(2048).regex(ENDPOINT_PATTERN), {
  decode: (wire, ctx) => {
    const trimmed = wire.trim();
    const schemeMatch = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(trimmed);
    const url = schemeMatch
      ? `${(schemeMatch[1] as string).toLowerCase()}${trimmed.slice(schemeMatch[1]!.length)}`
      : `ws://${trimmed}`;
    if (!ENDPOINT_PATTERN.test(url)) {
      ctx.issues.push({ code: 'custom', message: 'endpoint must be ws://host:port, wss://host:port or nats://prefix/name', input: wire });
      return z.NEVER;
    }
    return url;
  },
  encode: (url) => url,
});

/** An enum that accepts any capitalisation on the wire and yields the canonical spelling. */
function caseInsensitiveEnum<const T extends readonly [string, ...string[]]>(values: T) {
  const canonical = new Map(values.map((value) => [value.toLowerCase(), value]));
  return z.codec(z.string().max(64), z.enum(values), {
    decode: (wire, ctx) => {
      const value = canonical.get(wire.toLowerCase());
      if (value === undefined) {
        ctx.issues.push({ code: 'custom', message: `expected one of ${values.join(', ')}`, input: wire });
        return z.NEVER;
      }
      return value as T[number];
    },
    encode: (value) => value,
  });
}

export const serviceStatuses = ['Online', 'Busy', 'Draining', 'Offline'] as const;
export type ServiceStatus = (typeof serviceStatuses)[number];
export const ServiceStatusCodec = caseInsensitiveEnum(serviceStatuses);

/** Task states as they appear in TaskStatusUpdate.status (and Ack.status, our extension). */
export const taskStatuses = ['Queued', 'Processing', 'Completed', 'Failed', 'Cancelled'] as const;
export type TaskStatus = (typeof taskStatuses)[number];
export const TaskStatusCodec = caseInsensitiveEnum(taskStatuses);

const JsonObject = z.record(z.string(), z.unknown());

// ---- discovery (UDP) --------------------------------------------------------------------------

export const ClientServiceDiscoveryRequestSchema = z.object({
  discoveryType: z.literal('ClientServiceDiscoveryRequest'),
  clientId: IdSchema,
  timestamp: TimestampCodec,
  /** Extension: only providers of this service need answer. */
  serviceName: z.string().min(1).max(256).optional(),
  /** Extension: the protocol revision the sender speaks. */
  protocolVersion: z.string().max(32).optional(),
});

/** One event a service publishes, as advertised (EVT-1). */
export const AdvertisedEventSchema = z.object({
  key: z.string().min(1).max(256),
  schema: JsonObject.optional(),
  description: z.string().max(4096).optional(),
});
export type AdvertisedEvent = z.output<typeof AdvertisedEventSchema>;

export const ServiceAdvertisementSchema = z.object({
  discoveryType: z.literal('ServiceAdvertisement'),
  serviceId: IdSchema,
  serviceName: z.string().min(1).max(256),
  serviceVersion: z.string().min(1).max(64),
  endpoint: EndpointCodec,
  capabilities: CapabilitiesCodec,
  status: ServiceStatusCodec,
  load: z.number().min(0).max(1_000_000),
  timestamp: TimestampCodec,
  respondsToClientId: IdSchema.optional(),
  /** Extension: how often this provider heartbeats, so clients can expire it at 3x. */
  heartbeatIntervalMs: z.number().int().positive().max(86_400_000).optional(),
  protocolVersion: z.string().max(32).optional(),
  features: z.array(z.string().max(64)).max(64).optional(),
  /** Extension (EVT-1): the events the service publishes, each with the JSON Schema of its data. */
  events: z.array(AdvertisedEventSchema).max(256).optional(),
  // Extensions of signed discovery (SEC-8): checked by the adapter on the datagram as parsed
  // (machines/discovery/canonical.ts); decoded here so the trust policy can read them.
  /** Ed25519 public key of the provider, base64url of its 32 bytes (43 characters). */
  publicKey: z.string().min(1).max(64).optional(),
  /** The provider's boot epoch: greater after every restart. */
  epoch: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  /** Counter of the provider's signed advertisements within the epoch. */
  sequence: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  /** SHA-256 fingerprint of the endpoint's TLS certificate (64 hex digits, colons allowed). */
  tlsFingerprint256: z.string().min(1).max(128).optional(),
  /** Ed25519 signature over the canonical form, base64url of its 64 bytes. */
  signature: z.string().max(512).optional(),
});

export const discoverySchemas = {
  ClientServiceDiscoveryRequest: ClientServiceDiscoveryRequestSchema,
  ServiceAdvertisement: ServiceAdvertisementSchema,
} as const;

export type DiscoveryType = keyof typeof discoverySchemas;
export type ClientServiceDiscoveryRequest = z.output<typeof ClientServiceDiscoveryRequestSchema>;
export type ServiceAdvertisement = z.output<typeof ServiceAdvertisementSchema>;
export type DiscoveryMessage = ClientServiceDiscoveryRequest | ServiceAdvertisement;

// ---- tasks (WebSocket) ------------------------------------------------------------------------

function envelope<const T extends string, P extends z.ZodType>(type: T, payload: P) {
  return z.object({ type: z.literal(type), messageId: IdSchema, timestamp: TimestampCodec, payload });
}

export const AssignTaskSchema = envelope(
  'AssignTask',
  z.object({
    taskId: IdSchema,
    serviceName: z.string().min(1).max(256),
    operation: z.string().min(1).max(256),
    taskParameters: JsonObject.default({}),
    callbackClientId: IdSchema,
    /** Extension: the client's overall deadline for this task, in ms from acceptance. */
    deadlineMs: z.number().int().positive().max(604_800_000).optional(),
    /** Seed section 7: an API key carried by the AssignTask itself (SEC-20); never stored. */
    apiKey: z.string().min(1).max(4096).optional(),
  }),
);

const taskRef = { taskId: IdSchema, originalClientId: IdSchema };
/**
 * The seed names GetStatus and GetResult but defines no payload: peers built from it send
 * `{taskId}` alone. A provider answers for the session's client, else for the one client whose
 * task has that taskId, if the session may act for it (TASK-12, SEC-10).
 */
const queryRef = { taskId: IdSchema, originalClientId: IdSchema.optional() };

export const CancelTaskSchema = envelope('CancelTask', z.object(taskRef));
export const GetStatusSchema = envelope('GetStatus', z.object(queryRef));
export const GetResultSchema = envelope('GetResult', z.object(queryRef));

export const AuthenticateSchema = envelope(
  'Authenticate',
  z.object({ clientId: IdSchema, token: z.string().min(1).max(4096) }),
);

/** Provider-to-client messages: originalClientId is optional on the way in (liberal). */
const originalClientId = IdSchema.optional();

export const TaskStatusUpdateSchema = envelope(
  'TaskStatusUpdate',
  z.object({
    taskId: IdSchema,
    status: TaskStatusCodec,
    progressPercentage: z.number().min(0).max(100),
    message: z.string().max(4096).optional(),
    estimatedTimeRemainingSeconds: z.number().min(0).optional(),
    originalClientId,
  }),
);

export const TaskResultSchema = envelope(
  'TaskResult',
  z.object({ taskId: IdSchema, status: caseInsensitiveEnum(['Completed']), resultData: z.unknown(), originalClientId }),
);

export const TaskFailedSchema = envelope(
  'TaskFailed',
  z.object({
    taskId: IdSchema,
    status: caseInsensitiveEnum(['Failed', 'Cancelled']),
    errorMessage: z.string().max(65_536),
    errorCode: z.string().min(1).max(128),
    details: z.string().max(65_536).optional(),
    /** Extension (SEC-11): with INTERNAL_ERROR, the id the provider logged the cause with. */
    errorId: IdSchema.optional(),
    originalClientId,
  }),
);

export const AckSchema = envelope(
  'Ack',
  z.object({
    /** The messageId of the message being acknowledged (seed 6). */
    acknowledgmentId: IdSchema,
    /** Extension: the task the acknowledged message was about, and its state now. */
    taskId: IdSchema.optional(),
    status: TaskStatusCodec.optional(),
  }),
);

export const ErrorSchema = envelope(
  'Error',
  z.object({
    code: z.string().min(1).max(128),
    message: z.string().max(65_536),
    details: z.string().max(65_536).optional(),
    /** The messageId of the message that caused this error, when it could be read. */
    relatesTo: IdSchema.optional(),
    taskId: IdSchema.optional(),
    /** Extension (SEC-11): with INTERNAL_ERROR, the id the provider logged the cause with. */
    errorId: IdSchema.optional(),
    /** Extension (EVT-4): the subscription a refused Subscribe was about. */
    subscriptionId: IdSchema.optional(),
  }),
);

export const clientMessageSchemas = {
  AssignTask: AssignTaskSchema,
  CancelTask: CancelTaskSchema,
  GetStatus: GetStatusSchema,
  GetResult: GetResultSchema,
  Authenticate: AuthenticateSchema,
  ...eventClientMessageSchemas,
} as const;

export const providerMessageSchemas = {
  Ack: AckSchema,
  TaskStatusUpdate: TaskStatusUpdateSchema,
  TaskResult: TaskResultSchema,
  TaskFailed: TaskFailedSchema,
  Error: ErrorSchema,
  ...eventProviderMessageSchemas,
} as const;

export const messageSchemas = { ...clientMessageSchemas, ...providerMessageSchemas } as const;

export type MessageType = keyof typeof messageSchemas;
export type ClientMessageType = keyof typeof clientMessageSchemas;
export type ProviderMessageType = keyof typeof providerMessageSchemas;

/** A decoded WebSocket message of the given type (internal shape). */
export type MessageOf<T extends MessageType> = z.output<(typeof messageSchemas)[T]>;
export type PayloadOf<T extends MessageType> = MessageOf<T>['payload'];

export type ClientMessage = { [T in ClientMessageType]: MessageOf<T> }[ClientMessageType];
export type ProviderMessage = { [T in ProviderMessageType]: MessageOf<T> }[ProviderMessageType];
export type WireMessage = ClientMessage | ProviderMessage;

export type AssignTask = MessageOf<'AssignTask'>;
export type CancelTask = MessageOf<'CancelTask'>;
export type GetStatus = MessageOf<'GetStatus'>;
export type GetResult = MessageOf<'GetResult'>;
export type Authenticate = MessageOf<'Authenticate'>;
export type TaskStatusUpdate = MessageOf<'TaskStatusUpdate'>;
export type TaskResult = MessageOf<'TaskResult'>;
export type TaskFailed = MessageOf<'TaskFailed'>;
export type Ack = MessageOf<'Ack'>;
export type ErrorMessage = MessageOf<'Error'>;

/**
 * What machines send: a message without the fields the boundary stamps. `timestamp` is always
 * stamped on the way out (machines have no clock); `messageId` is stamped unless the machine
 * chose one (AssignTask keeps its id across re-sends so Acks can be matched).
 */
export type Draft<M> = M extends { messageId: string }
  ? Omit<M, 'messageId' | 'timestamp'> & { messageId?: string }
  : Omit<M, 'timestamp'>;

export type WireDraft = Draft<WireMessage>;
export type ClientDraft = Draft<ClientMessage>;
export type ProviderDraft = Draft<ProviderMessage>;
export type DiscoveryDraft = Draft<DiscoveryMessage>;

export const isMessageType = (value: unknown): value is MessageType =>
  typeof value === 'string' && Object.hasOwn(messageSchemas, value);

export const isDiscoveryType = (value: unknown): value is DiscoveryType =>
  typeof value === 'string' && Object.hasOwn(discoverySchemas, value);
