/**
 * Judgement of the form of what a provider sends (WIRE-1, WIRE-2, WIRE-3). The codec
 * (machines/codec.ts) decodes liberally (WIRE-4), and the other checks read meanings liberally
 * (meaning.ts), so the form is judged here, once, on the raw JSON:
 *
 * - `core`, what the seed asks: one JSON object per message, the envelope of seed 5.2
 *   (`type`, `messageId`, `timestamp` as ISO 8601, `payload`), the seed's message types and field
 *   names, advertisements as in seed 4.3 (capabilities as a list of `{key, settings}`, an endpoint
 *   with its `ws://` scheme). Any ISO-8601 timestamp is accepted, with or without a zone.
 * - `full`, switchboard's exact forms: text frames, timestamps in UTC ending in Z with a
 *   millisecond fraction only when it is not zero, status words spelled as the seed spells them,
 *   `originalClientId` on task messages, `status` Cancelled exactly with errorCode CANCELLED.
 */
import { serviceStatuses, taskStatuses } from '../../../machines/messages.js';
import { member, type Frame } from './connection.js';
import type { Datagram } from './datagrams.js';

export type Strictness = 'core' | 'full';

const PROVIDER_TYPES = new Set(['Ack', 'TaskStatusUpdate', 'TaskResult', 'TaskFailed', 'Error']);
/** ISO 8601 date and time, any precision, with or without a zone. */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?$/;
const CANONICAL_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.(?!000)\d{3})?Z$/;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isId = (value: unknown): boolean => typeof value === 'string' && value.length >= 1 && value.length <= 256;

function timestampProblem(value: unknown, strictness: Strictness): string | undefined {
  if (typeof value !== 'string') return `timestamp is ${JSON.stringify(value)}, not an ISO-8601 string (the seed: "timestamp: string (ISO 8601)")`;
  if (!ISO_8601.test(value)) return `timestamp "${value}" is not ISO 8601`;
  if (strictness === 'full' && !CANONICAL_UTC.test(value)) return `timestamp "${value}": expected UTC ending in Z, with a millisecond fraction (3 digits) only when not zero`;
  return undefined;
}

/** What is wrong with a frame the provider sent; empty when nothing is. */
export function frameProblems(frame: Frame, strictness: Strictness): string[] {
  if (frame.binary && strictness === 'full') return ['a binary frame (WIRE-1: one JSON object per text message)'];
  if (frame.json === undefined) return [`not JSON: ${JSON.stringify(frame.text.slice(0, 60))}`];
  const message = frame.json;
  if (!isObject(message)) return ['not a JSON object'];
  const problems: string[] = [];
  const { type, messageId, timestamp, payload } = message;
  const missing = ['type', 'messageId', 'timestamp', 'payload'].filter((key) => message[key] === undefined);
  if (missing.length > 0) {
    const shown = JSON.stringify(message).slice(0, 100);
    return [`no envelope: ${missing.join(', ')} missing in ${shown} (the seed: "All JSON messages exchanged over WebSockets should include: type, messageId, timestamp, payload")`];
  }
  if (typeof type !== 'string') problems.push('no string "type"');
  else if (!PROVIDER_TYPES.has(type)) problems.push(`type "${type}" is not one of the seed's messages from a provider (TaskStatusUpdate, TaskResult, TaskFailed; Ack; Error)`);
  if (!isId(messageId)) problems.push('"messageId" is not a string of 1 to 256 characters');
  const stamp = timestampProblem(timestamp, strictness);
  if (stamp !== undefined) problems.push(stamp);
  if (!isObject(payload)) problems.push('"payload" is not an object');
  // A progressPercentage out of range is TASK-9's business (provider.assign.progress), not the form's.
  const decodeIssue = frame.decoded.ok ? undefined : frame.decoded.error.message.split('; ').filter((issue) => !issue.startsWith('payload.progressPercentage')).join('; ');
  if (problems.length === 0 && decodeIssue) problems.push(`its fields do not match ${String(type)}: ${decodeIssue}`);
  if (strictness === 'full' && isObject(payload) && typeof type === 'string') problems.push(...canonicalPayloadProblems(type, payload));
  return problems.map((problem) => `${typeof type === 'string' ? type : 'message'}: ${problem}`);
}

function canonicalPayloadProblems(type: string, payload: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const status = payload.status;
  const taskMessage = type === 'TaskStatusUpdate' || type === 'TaskResult' || type === 'TaskFailed';
  if ((type === 'TaskStatusUpdate' || (type === 'Ack' && status !== undefined)) && !(taskStatuses as readonly unknown[]).includes(status)) {
    problems.push(`status ${JSON.stringify(status)} is not spelled as one of ${taskStatuses.join(', ')}`);
  }
  if (type === 'TaskResult' && status !== 'Completed') problems.push(`status ${JSON.stringify(status)}, expected "Completed"`);
  if (type === 'TaskFailed') {
    if (status !== 'Failed' && status !== 'Cancelled') problems.push(`status ${JSON.stringify(status)}, expected "Failed" or "Cancelled"`);
    if ((status === 'Cancelled') !== (payload.errorCode === 'CANCELLED')) problems.push(`status ${String(status)} with errorCode ${String(payload.errorCode)} (Cancelled exactly when CANCELLED, TASK-10)`);
  }
  if (taskMessage && !isId(payload.originalClientId)) problems.push('no originalClientId (switchboard senders always write it)');
  return problems;
}

/** What is wrong with an advertisement datagram; empty when nothing is. */
export function advertisementProblems(datagram: Datagram, strictness: Strictness): string[] {
  const ad = datagram.json;
  if (ad === undefined) return [`not JSON: ${JSON.stringify(datagram.text.slice(0, 60))}`];
  if (!isObject(ad)) return ['not a JSON object'];
  const problems: string[] = [];
  if (ad.discoveryType !== 'ServiceAdvertisement') problems.push(`discoveryType ${JSON.stringify(ad.discoveryType)}`);
  for (const key of ['serviceId', 'serviceName'] as const) if (!isId(ad[key])) problems.push(`${key} is not a string of 1 to 256 characters`);
  if (typeof ad.serviceVersion !== 'string' || ad.serviceVersion.length === 0) problems.push('serviceVersion is not a non-empty string');
  if (typeof ad.endpoint !== 'string') problems.push(`endpoint ${JSON.stringify(ad.endpoint)} is not a string`);
  else if (!/^wss?:\/\/[^\s/?#]+/i.test(ad.endpoint)) problems.push(`endpoint "${ad.endpoint}" has no ws:// or wss:// scheme (the seed: "endpoint": "ws://127.0.0.1:8080")`);
  problems.push(...capabilityProblems(ad.capabilities));
  const statuses = serviceStatuses as readonly string[];
  if (typeof ad.status !== 'string') problems.push('status is not a string');
  else if (strictness === 'full' ? !statuses.includes(ad.status) : !statuses.some((word) => word.toLowerCase() === (ad.status as string).toLowerCase())) {
    problems.push(`status "${ad.status}" is not one of ${statuses.join(', ')}`);
  }
  if (typeof ad.load !== 'number' || !(ad.load >= 0)) problems.push(`load ${JSON.stringify(ad.load)} is not a number >= 0`);
  const stamp = timestampProblem(ad.timestamp, strictness);
  if (stamp !== undefined) problems.push(stamp);
  if (problems.length === 0 && !datagram.decoded.ok) problems.push(`does not decode: ${datagram.decoded.error.code} ${datagram.decoded.error.message}`);
  return problems;
}

function capabilityProblems(capabilities: unknown): string[] {
  if (isObject(capabilities)) return ['capabilities is an object keyed by operation; the seed writes a list (the seed: "capabilities": [{"key": "resizeImage", "settings": [...]}])'];
  if (!Array.isArray(capabilities)) return ['capabilities is not a list (the seed: "capabilities": [{"key": "resizeImage", "settings": [...]}])'];
  const problems: string[] = [];
  capabilities.forEach((capability, index) => {
    const at = `capabilities[${index}]`;
    if (!isObject(capability)) return void problems.push(`${at} is not an object`);
    if (!isId(capability.key)) problems.push(`${at}.key is not a string of 1 to 256 characters`);
    if (!Array.isArray(capability.settings)) return void problems.push(`${at}.settings is not a list (the seed: "settings": [{"string": "inputPath"}, ...])`);
    capability.settings.forEach((setting: unknown, settingIndex: number) => {
      const entries = isObject(setting) ? Object.entries(setting) : [];
      if (entries.length !== 1 || typeof entries[0]![1] !== 'string') problems.push(`${at}.settings[${settingIndex}] is not a one-key object {type: name}`);
    });
  });
  return problems;
}

export { member };
