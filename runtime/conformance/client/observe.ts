/**
 * Pure helpers over a scenario's event log: the client's messages by type, the task it assigned,
 * the scenario script's marks. No I/O; the checks and the scenario scripts share them.
 */
import type { ScenarioEvent } from './recorder.js';

export type FrameEvent = Extract<ScenarioEvent, { kind: 'frame' }>;
export type DatagramEvent = Extract<ScenarioEvent, { kind: 'datagram' }>;
export type UpgradeEvent = Extract<ScenarioEvent, { kind: 'upgrade' }>;
export type CloseEvent = Extract<ScenarioEvent, { kind: 'close' }>;
export type MarkEvent = Extract<ScenarioEvent, { kind: 'mark' }>;

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `raw.type` of a frame, when it has one. */
export const typeOf = (raw: unknown): string | undefined => (isObject(raw) && typeof raw.type === 'string' ? raw.type : undefined);

export const payloadOf = (raw: unknown): Record<string, unknown> | undefined =>
  isObject(raw) && isObject(raw.payload) ? raw.payload : undefined;

const stringField = (object: Record<string, unknown> | undefined, name: string): string | undefined =>
  typeof object?.[name] === 'string' ? (object[name] as string) : undefined;

export const taskIdOf = (raw: unknown): string | undefined => stringField(payloadOf(raw), 'taskId');
export const messageIdOf = (raw: unknown): string | undefined => (isObject(raw) ? stringField(raw, 'messageId') : undefined);
export const clientIdOf = (raw: unknown): string | undefined =>
  stringField(payloadOf(raw), 'callbackClientId') ?? stringField(payloadOf(raw), 'originalClientId');

export const isFrame = (event: ScenarioEvent): event is FrameEvent => event.kind === 'frame';
export const isFrameOfType =
  (...types: string[]) =>
  (event: ScenarioEvent): event is FrameEvent =>
    event.kind === 'frame' && types.includes(typeOf(event.raw) ?? '');

export const framesOfType = (events: readonly ScenarioEvent[], ...types: string[]): FrameEvent[] => events.filter(isFrameOfType(...types));

/** Datagrams the client sent that claim to be a ClientServiceDiscoveryRequest. */
export const discoveryRequests = (events: readonly ScenarioEvent[]): DatagramEvent[] =>
  events.filter((event): event is DatagramEvent => event.kind === 'datagram' && isObject(event.raw) && event.raw.discoveryType === 'ClientServiceDiscoveryRequest');

export const upgrades = (events: readonly ScenarioEvent[], after = -Infinity): UpgradeEvent[] =>
  events.filter((event): event is UpgradeEvent => event.kind === 'upgrade' && event.at >= after);

export const markOf = (events: readonly ScenarioEvent[], label: string): MarkEvent | undefined =>
  events.find((event): event is MarkEvent => event.kind === 'mark' && event.label === label);

export const closeOf = (events: readonly ScenarioEvent[], connId: number): CloseEvent | undefined =>
  events.find((event): event is CloseEvent => event.kind === 'close' && event.connId === connId);

export const openOf = (events: readonly ScenarioEvent[], connId: number): ScenarioEvent | undefined =>
  events.find((event) => event.kind === 'open' && event.connId === connId);

export const exitOf = (events: readonly ScenarioEvent[]): Extract<ScenarioEvent, { kind: 'exit' }> | undefined =>
  events.find((event): event is Extract<ScenarioEvent, { kind: 'exit' }> => event.kind === 'exit');

/** The first AssignTask the client sent (the task of the scenario). */
export const firstAssign = (events: readonly ScenarioEvent[]): FrameEvent | undefined => events.find(isFrameOfType('AssignTask'));

/** Largest number of the given instants that fall in any window of `windowMs` (instants sorted). */
export function maxInWindow(instants: readonly number[], windowMs: number): number {
  let best = 0;
  let start = 0;
  for (let end = 0; end < instants.length; end++) {
    while ((instants[end] as number) - (instants[start] as number) >= windowMs) start++;
    best = Math.max(best, end - start + 1);
  }
  return best;
}

/** A message for evidence: compact, at most `max` characters. */
export function shorten(text: string, max = 200): string {
  const compact = text.replace(/\s+/g, ' ').trim();
  return compact.length <= max ? compact : `${compact.slice(0, max - 1)}…`;
}

export { jsonEqual } from '../../../machines/jsonEqual.js';

export const ms = (value: number): string => `${Math.round(value)} ms`;

/** WIRE-3's timestamp form: ISO-8601 UTC ending in Z, a millisecond fraction only when not zero. */
export function isCanonicalTimestamp(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const match = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.(\d{3}))?Z$/.exec(value);
  return match !== null && match[1] !== '000';
}
