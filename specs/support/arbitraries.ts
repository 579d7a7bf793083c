/**
 * fast-check arbitraries for every switchboard message in its INTERNAL shape (what decodeFrame and
 * decodeDatagram return): timestamps are integer epoch ms in years 0000..9999, endpoints carry
 * `ws://` or `wss://`, capabilities are `{ key, settings: [{ type, name }], schema? }`, status words
 * are canonical. Every value is JSON-safe (no -0, NaN, Infinity or undefined-valued keys), so
 * `decode(encode(m))` must give back `m` exactly. Optional extension fields are sometimes present
 * and sometimes absent (fc.record with requiredKeys omits the key, it never sets it to undefined).
 */
import fc from 'fast-check';
import { knownSettingTypes, type Capability, type Setting } from '../../machines/capabilities.js';
import {
  serviceStatuses,
  taskStatuses,
  type Ack,
  type AssignTask,
  type Authenticate,
  type CancelTask,
  type ClientServiceDiscoveryRequest,
  type DiscoveryMessage,
  type ErrorMessage,
  type GetResult,
  type GetStatus,
  type ServiceAdvertisement,
  type TaskFailed,
  type TaskResult,
  type TaskStatusUpdate,
  type WireMessage,
} from '../../machines/messages.js';
import { parseTimestamp } from '../../machines/timestamp.js';

export const TIMESTAMP_MIN_MS = parseTimestamp('0000-01-01T00:00:00Z') as number;
export const TIMESTAMP_MAX_MS = parseTimestamp('9999-12-31T23:59:59.999Z') as number;

// ---- scalars ----------------------------------------------------------------------------------

const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit));
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit));

/** An ASCII string of exactly `length` units (a short random piece repeated: cheap even for 64 KiB). */
function atLength(length: number): fc.Arbitrary<string> {
  return fc
    .string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 8 })
    .map((piece) => piece.repeat(Math.ceil(length / piece.length)).slice(0, length));
}

/**
 * Strings whose UTF-16 length is in [minLength, maxLength] (the unit zod counts): mostly short,
 * from ASCII, any code point, or lone surrogates; sometimes exactly maxLength long.
 */
export function text(minLength: number, maxLength: number): fc.Arbitrary<string> {
  const short = Math.min(maxLength, 64);
  return fc
    .oneof(
      { weight: 4, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength, maxLength: short }) },
      { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength, maxLength: short }) },
      { weight: 1, arbitrary: fc.string({ unit: fc.oneof(codeUnit, loneSurrogate), minLength, maxLength: short }) },
      { weight: 1, arbitrary: atLength(maxLength) },
    )
    .filter((value) => value.length >= minLength && value.length <= maxLength);
}

export const id = fc.oneof(fc.uuid(), text(1, 256));

export const timestampMs = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: TIMESTAMP_MIN_MS, max: TIMESTAMP_MAX_MS }) },
  { weight: 2, arbitrary: fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }) },
  { weight: 1, arbitrary: fc.constantFrom(TIMESTAMP_MIN_MS, TIMESTAMP_MAX_MS, 0, -1, 1) },
);

/** Doubles in [min, max] that survive JSON: no NaN, no infinities, no -0. */
export function jsonNumber(min: number, max: number): fc.Arbitrary<number> {
  return fc.double({ min, max, noNaN: true, noDefaultInfinity: true }).map((value) => (value === 0 ? 0 : value));
}

/** Replaces every -0 in a JSON value by 0 (JSON has no -0, so it cannot round-trip). */
export function withoutNegativeZero<T>(value: T): T {
  if (typeof value === 'number') return (value === 0 ? 0 : value) as T;
  if (Array.isArray(value)) return value.map(withoutNegativeZero) as T;
  if (typeof value === 'object' && value !== null) {
    const copy: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      Object.defineProperty(copy, key, { value: withoutNegativeZero(inner), enumerable: true, writable: true, configurable: true });
    }
    return copy as T;
  }
  return value;
}

/** Any JSON value, JSON-safe. */
export const jsonValue: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 3 }).map(withoutNegativeZero);

/**
 * A JSON object as zod's z.record produces it: zod drops an own `__proto__` key at the top level
 * (so it cannot replace the prototype), hence such a key cannot round-trip there.
 */
export const jsonObject: fc.Arbitrary<Record<string, unknown>> = fc.dictionary(
  fc.string({ maxLength: 16 }).filter((key) => key !== '__proto__'),
  jsonValue,
  { maxKeys: 6, noNullPrototype: true },
);

export const endpoint: fc.Arbitrary<string> = fc
  .record({
    scheme: fc.constantFrom('ws', 'wss'),
    host: fc.oneof(fc.domain(), fc.ipV4(), fc.constantFrom('localhost', '[::1]')),
    port: fc.option(fc.integer({ min: 1, max: 65_535 }), { nil: undefined }),
    path: fc.option(fc.webPath(), { nil: undefined }),
  })
  .map(({ scheme, host, port, path }) => `${scheme}://${host}${port === undefined ? '' : `:${port}`}${path ?? ''}`)
  .filter((url) => url.length <= 2048);

// ---- capabilities -----------------------------------------------------------------------------

export const settingType: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...knownSettingTypes),
  fc.constantFrom('path', 'object', 'name', 'type', 'key'),
  fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,31}$/),
);

export const setting: fc.Arbitrary<Setting> = fc.record({ type: settingType, name: text(1, 256) });

export const capability: fc.Arbitrary<Capability> = fc.record(
  { key: text(1, 256), settings: fc.array(setting, { maxLength: 5 }), schema: jsonObject },
  { requiredKeys: ['key', 'settings'] },
);

export const capabilities = fc.array(capability, { maxLength: 4 });

// ---- discovery --------------------------------------------------------------------------------

export const clientServiceDiscoveryRequest: fc.Arbitrary<ClientServiceDiscoveryRequest> = fc.record(
  {
    discoveryType: fc.constant('ClientServiceDiscoveryRequest' as const),
    clientId: id,
    timestamp: timestampMs,
    serviceName: text(1, 256),
    protocolVersion: text(0, 32),
  },
  { requiredKeys: ['discoveryType', 'clientId', 'timestamp'] },
);

export const serviceAdvertisement: fc.Arbitrary<ServiceAdvertisement> = fc.record(
  {
    discoveryType: fc.constant('ServiceAdvertisement' as const),
    serviceId: id,
    serviceName: text(1, 256),
    serviceVersion: text(1, 64),
    endpoint,
    capabilities,
    status: fc.constantFrom(...serviceStatuses),
    load: jsonNumber(0, 1_000_000),
    timestamp: timestampMs,
    respondsToClientId: id,
    heartbeatIntervalMs: fc.integer({ min: 1, max: 86_400_000 }),
    protocolVersion: text(0, 32),
    features: fc.array(text(0, 64), { maxLength: 5 }),
    publicKey: text(1, 64),
    epoch: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
    sequence: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
    tlsFingerprint256: text(1, 128),
    signature: text(0, 512),
  },
  {
    requiredKeys: [
      'discoveryType', 'serviceId', 'serviceName', 'serviceVersion', 'endpoint', 'capabilities', 'status', 'load', 'timestamp',
    ],
  },
);

export const anyDatagram: fc.Arbitrary<DiscoveryMessage> = fc.oneof(clientServiceDiscoveryRequest, serviceAdvertisement);

// ---- tasks ------------------------------------------------------------------------------------

function envelope<T extends string, P>(type: T, payload: fc.Arbitrary<P>) {
  return fc.record({ type: fc.constant(type), messageId: id, timestamp: timestampMs, payload });
}

export const assignTask: fc.Arbitrary<AssignTask> = envelope(
  'AssignTask',
  fc.record(
    {
      taskId: id,
      serviceName: text(1, 256),
      operation: text(1, 256),
      taskParameters: jsonObject,
      callbackClientId: id,
      deadlineMs: fc.integer({ min: 1, max: 604_800_000 }),
    },
    { requiredKeys: ['taskId', 'serviceName', 'operation', 'taskParameters', 'callbackClientId'] },
  ),
);

const taskRef = fc.record({ taskId: id, originalClientId: id });
export const cancelTask: fc.Arbitrary<CancelTask> = envelope('CancelTask', taskRef);
export const getStatus: fc.Arbitrary<GetStatus> = envelope('GetStatus', taskRef);
export const getResult: fc.Arbitrary<GetResult> = envelope('GetResult', taskRef);

export const authenticate: fc.Arbitrary<Authenticate> = envelope(
  'Authenticate',
  fc.record({ clientId: id, token: text(1, 4096) }),
);

export const ack: fc.Arbitrary<Ack> = envelope(
  'Ack',
  fc.record(
    { acknowledgmentId: id, taskId: id, status: fc.constantFrom(...taskStatuses) },
    { requiredKeys: ['acknowledgmentId'] },
  ),
);

export const taskStatusUpdate: fc.Arbitrary<TaskStatusUpdate> = envelope(
  'TaskStatusUpdate',
  fc.record(
    {
      taskId: id,
      status: fc.constantFrom(...taskStatuses),
      progressPercentage: jsonNumber(0, 100),
      message: text(0, 4096),
      estimatedTimeRemainingSeconds: jsonNumber(0, Number.MAX_VALUE),
      originalClientId: id,
    },
    { requiredKeys: ['taskId', 'status', 'progressPercentage'] },
  ),
);

export const taskResult: fc.Arbitrary<TaskResult> = envelope(
  'TaskResult',
  fc.record(
    { taskId: id, status: fc.constant('Completed' as const), resultData: jsonValue, originalClientId: id },
    { requiredKeys: ['taskId', 'status', 'resultData'] },
  ),
);

export const taskFailed: fc.Arbitrary<TaskFailed> = envelope(
  'TaskFailed',
  fc.record(
    {
      taskId: id,
      status: fc.constantFrom('Failed' as const, 'Cancelled' as const),
      errorMessage: text(0, 65_536),
      errorCode: text(1, 128),
      details: text(0, 65_536),
      originalClientId: id,
    },
    { requiredKeys: ['taskId', 'status', 'errorMessage', 'errorCode'] },
  ),
);

export const errorMessage: fc.Arbitrary<ErrorMessage> = envelope(
  'Error',
  fc.record(
    { code: text(1, 128), message: text(0, 65_536), details: text(0, 65_536), relatesTo: id, taskId: id },
    { requiredKeys: ['code', 'message'] },
  ),
);

export const frameArbitraries = {
  AssignTask: assignTask,
  CancelTask: cancelTask,
  GetStatus: getStatus,
  GetResult: getResult,
  Authenticate: authenticate,
  Ack: ack,
  TaskStatusUpdate: taskStatusUpdate,
  TaskResult: taskResult,
  TaskFailed: taskFailed,
  Error: errorMessage,
} as const;

export const datagramArbitraries = {
  ClientServiceDiscoveryRequest: clientServiceDiscoveryRequest,
  ServiceAdvertisement: serviceAdvertisement,
} as const;

export const anyFrame: fc.Arbitrary<WireMessage> = fc.oneof(...Object.values(frameArbitraries));
