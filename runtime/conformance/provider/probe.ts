/**
 * The provider suite's target: the options, the suite's clientId, its discovery sockets, the
 * connections each check opens (closed after the check by the runner's afterEach), a log of every
 * frame the provider sent (for the wire checks), and cached answers several checks share
 * (discovery, the test task, whether authentication is required, how the provider delivers
 * outcomes).
 */
import { padRequest, REQUEST_BYTES_MIN } from '../../../machines/discovery/answers.js';
import { v4 as uuid } from 'uuid';
import { Blocked } from '../types.js';
import { member, ProbeConnection, type Frame } from './connection.js';
import { DiscoveryProbe, type Datagram } from './datagrams.js';
import { DISCOVERY_PORT_DEFAULT, timingDefaults, type ProviderSuiteOptions, type ProviderTiming } from './options.js';
import { chooseSelection, type Choice, type Selection } from './selection.js';

export type { Selection } from './selection.js';

export interface DiscoveryResult {
  readonly clientId: string;
  readonly requestedAt: number;
  readonly requests: number;
  /** Datagrams that arrived at the requester's port. */
  readonly unicast: readonly Datagram[];
  /**
   * The replies to this request: advertisements at the requester's port whose respondsToClientId
   * is this request's clientId, or that carry none (a reply is recognised by where it arrived).
   */
  readonly replies: readonly Datagram[];
  /** Advertisements at the requester's port naming another client in respondsToClientId. */
  readonly misaddressed: readonly Datagram[];
  /**
   * Advertisements broadcast on the discovery port during the round that name this request's
   * clientId, or name none and came within the round (the seed's 4.3 sends every advertisement to
   * "all devices listening on the well-known UDP discovery port").
   */
  readonly broadcastReplies: readonly Datagram[];
  readonly requesterPort: number;
  readonly sendError?: string;
}

/** The root check every task check depends on. */
export const TEST_TASK_CHECK = 'provider.task.completes';
/** The root check every discovery check depends on. */
export const DISCOVERY_CHECK = 'provider.discovery.reply';

/** Frames kept in the suite-wide log. */
const LOG_MAX = 20_000;

export class ProviderProbe {
  readonly options: ProviderSuiteOptions;
  readonly endpoint: string;
  readonly clientId: string;
  readonly timing: ProviderTiming;
  readonly discovery: DiscoveryProbe;
  /** Every frame the provider sent on any connection of this suite, in arrival order. */
  readonly frameLog: Frame[] = [];
  readonly #open = new Set<ProbeConnection>();
  #discovered: Promise<DiscoveryResult> | undefined;
  #choice: Promise<Choice> | undefined;
  #authRequired: Promise<boolean | undefined> | undefined;
  #flow: 'push' | 'pull' | undefined;
  readonly #memo = new Map<string, Promise<unknown>>();

  constructor(options: ProviderSuiteOptions) {
    this.options = options;
    this.endpoint = options.endpoint;
    this.clientId = options.clientId ?? `conformance-${uuid()}`;
    this.timing = { ...timingDefaults, ...options.timing };
    const host = options.udp?.host ?? hostOf(options.endpoint);
    this.discovery = new DiscoveryProbe({ host, port: options.udp?.port ?? DISCOVERY_PORT_DEFAULT });
  }

  /** A result several checks share, computed once per suite run (a rejection is shared too). */
  memo<T>(key: string, compute: () => Promise<T>): Promise<T> {
    let value = this.#memo.get(key) as Promise<T> | undefined;
    if (value === undefined) {
      value = compute();
      value.catch(() => {});
      this.#memo.set(key, value);
    }
    return value;
  }

  /** Opens the broadcast listeners; call once before the checks. */
  async start(): Promise<void> {
    await this.discovery.listen();
  }

  /** Closes every socket the suite opened. */
  close(): void {
    this.closeConnections();
    this.discovery.close();
  }

  /** Terminates the connections opened so far (after each check). */
  closeConnections(): void {
    for (const connection of this.#open) connection.terminate();
    this.#open.clear();
  }

  /** A new connection, with the token at the upgrade unless `token: null`. */
  async connect(options: { token?: string | null; autoPong?: boolean; localAddress?: string } = {}): Promise<ProbeConnection> {
    const token = options.token === null ? undefined : (options.token ?? this.options.token);
    const connection = await ProbeConnection.open(this.endpoint, {
      token,
      handshakeTimeoutMs: this.timing.connectTimeoutMs,
      tls: this.options.tls,
      ...(options.autoPong === undefined ? {} : { autoPong: options.autoPong }),
      ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
      onFrame: (frame) => {
        if (this.frameLog.length < LOG_MAX) this.frameLog.push(frame);
      },
    });
    this.#open.add(connection);
    return connection;
  }

  /** Sends a ClientServiceDiscoveryRequest (up to three times) and gathers the replies. Cached. */
  discover(): Promise<DiscoveryResult> {
    this.#discovered ??= this.requestDiscovery(this.clientId);
    return this.#discovered;
  }

  /** A discovery round from a fresh requester socket with `clientId`. */
  async requestDiscovery(clientId: string, options: { collectMs?: number } = {}): Promise<DiscoveryResult> {
    const requester = await this.discovery.requester();
    const requestedAt = Date.now();
    const request = discoveryRequest(clientId);
    const answers = () => requester.received.filter((datagram) => isReplyTo(datagram, clientId));
    const broadcastAnswer = () =>
      this.discovery.received.some((datagram) => datagram.via === 'broadcast' && datagram.at >= requestedAt && isAdvertisement(datagram) && member(datagram.json, 'respondsToClientId') === clientId);
    const answered = () => answers().length > 0 || broadcastAnswer();
    let requests = 0;
    let sendError: string | undefined;
    try {
      const deadline = requestedAt + this.timing.discoveryTimeoutMs;
      const spacing = Math.floor(this.timing.discoveryTimeoutMs / 3);
      while (!answered() && Date.now() < deadline && requests < 3) {
        sendError = (await requester.send(request)) ?? sendError;
        requests++;
        await this.discovery.until(() => (answered() ? true : undefined), Math.min(spacing, Math.max(1, deadline - Date.now())));
      }
      // Other services of the same provider answer the same request a moment later.
      if (answered()) await delay(options.collectMs ?? 300);
      const unicast = [...requester.received];
      const roundEnd = Date.now();
      const broadcastReplies = this.discovery.received.filter((datagram) => {
        if (datagram.via !== 'broadcast' || !isAdvertisement(datagram) || datagram.at < requestedAt || datagram.at > roundEnd) return false;
        const responds = member(datagram.json, 'respondsToClientId');
        return responds === clientId || responds === undefined;
      });
      const misaddressed = unicast.filter((datagram) => isAdvertisement(datagram) && member(datagram.json, 'respondsToClientId') !== undefined && !isReplyTo(datagram, clientId));
      return { clientId, requestedAt, requests, unicast, replies: answers(), misaddressed, broadcastReplies, requesterPort: requester.port, ...(sendError ? { sendError } : {}) };
    } finally {
      requester.close();
    }
  }

  /** The service and the test task: from the options, else chosen from the advertisement. Cached. */
  choice(): Promise<Choice> {
    this.#choice ??= this.discover().then((found) => chooseSelection(this, repliesOf(found).map((reply) => reply.json)));
    return this.#choice;
  }

  /** The selection the task checks need; throws Blocked (root: the test task check) when there is none. */
  async testTask(): Promise<Selection> {
    const choice = await this.choice();
    if (!choice.usable) throw new Blocked(TEST_TASK_CHECK, choice.evidence, 'not-applicable');
    return choice.selection;
  }

  /** Whether the provider answers a ping at all (so that a missing pong can mean something). Cached. */
  pongWorks(): Promise<boolean> {
    return this.memo('liveness.pongWorks', async () => {
      const connection = await this.connect();
      try {
        connection.ping('conformance-pong-works');
        return (await connection.until(() => connection.pongs[0], this.timing.answerMs)) !== undefined;
      } finally {
        connection.terminate();
      }
    });
  }

  /** How long to wait for a pushed final message before asking for it (outcome.ts). */
  pullAfterMs(): number {
    return this.#flow === 'pull' ? 200 : this.timing.ackWindowMs;
  }

  /** Remembers how the last outcome arrived, so a pull provider is asked sooner next time. */
  noteFlow(via: 'push' | 'pull'): void {
    this.#flow ??= via;
  }

  /**
   * Whether the provider requires authentication (SEC-2): a connection without a token asks
   * GetStatus; Error UNAUTHENTICATED means yes. undefined when it cannot be told. Cached.
   */
  authRequired(): Promise<boolean | undefined> {
    this.#authRequired ??= (async () => {
      const connection = await this.connect({ token: null });
      try {
        const sent = connection.send({ type: 'GetStatus', payload: { taskId: `conformance-probe-${uuid()}`, originalClientId: this.clientId } });
        const answer = await connection.next((frame) => member(frame.json, 'type') === 'Error' && relatesTo(frame, sent.messageId), this.timing.answerMs);
        if (answer !== undefined) return member(member(answer.json, 'payload'), 'code') === 'UNAUTHENTICATED';
        return connection.closeInfo?.code === 1008 ? true : false;
      } finally {
        connection.terminate();
      }
    })();
    return this.#authRequired;
  }
}

export function relatesTo(frame: Frame, messageId: string): boolean {
  return member(member(frame.json, 'payload'), 'relatesTo') === messageId;
}

/** The replies to a round: unicast ones, else those broadcast on the discovery port. */
export const repliesOf = (found: DiscoveryResult): readonly Datagram[] => (found.replies.length > 0 ? found.replies : found.broadcastReplies);

export const isAdvertisement = (datagram: Datagram): boolean => member(datagram.json, 'discoveryType') === 'ServiceAdvertisement';

/**
 * An advertisement answering `clientId`: its respondsToClientId says so, or it carries none and
 * arrived at the requester's own port (seed peers leave the field out; the port tells).
 */
export function isReplyTo(datagram: Datagram, clientId: string): boolean {
  if (!isAdvertisement(datagram)) return false;
  const responds = member(datagram.json, 'respondsToClientId');
  return responds === clientId || (responds === undefined && datagram.via === 'unicast');
}

export function hostOf(endpoint: string): string {
  try {
    const host = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : `ws://${endpoint}`).hostname;
    return host.replace(/^\[|\]$/g, '') || '127.0.0.1';
  } catch {
    return '127.0.0.1';
  }
}

export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A ClientServiceDiscoveryRequest as the suite sends it: padded as a switchboard client pads its
 * own (DISC-17: a provider's answers are bounded by the size of the request).
 */
export function discoveryRequest(clientId: string): string {
  const text = JSON.stringify({ discoveryType: 'ClientServiceDiscoveryRequest', clientId, timestamp: new Date().toISOString().replace('.000Z', 'Z') });
  return padRequest(text, REQUEST_BYTES_MIN);
}
