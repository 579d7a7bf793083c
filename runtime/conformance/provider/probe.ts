/**
 * The provider suite's target: the options, the suite's clientId, its discovery sockets, the
 * connections each check opens (closed after the check by the runner's afterEach), a log of every
 * frame the provider sent (for the wire checks), and cached answers several checks share
 * (discovery, the task selection, whether authentication is required).
 */
import { padRequest, REQUEST_BYTES_MIN } from '../../../machines/discovery/answers.js';
import { v4 as uuid } from 'uuid';
import type { ServiceAdvertisement } from '../../../machines/messages.js';
import { member, ProbeConnection, type Frame } from './connection.js';
import { DiscoveryProbe, type Datagram } from './datagrams.js';
import { DISCOVERY_PORT_DEFAULT, timingDefaults, type ProviderSuiteOptions, type ProviderTiming, type TaskChoice } from './options.js';

export interface DiscoveryResult {
  readonly requestedAt: number;
  readonly requests: number;
  /** Datagrams that arrived at the requester's port. */
  readonly unicast: readonly Datagram[];
  /** Advertisements among them that decode and answer our clientId. */
  readonly replies: readonly { readonly datagram: Datagram; readonly advertisement: ServiceAdvertisement }[];
  readonly requesterPort: number;
  readonly sendError?: string;
}

export interface Selection {
  readonly serviceName: string;
  readonly quick: TaskChoice;
  readonly slow: TaskChoice | undefined;
  /** The advertisement of the service, when discovery found it. */
  readonly advertisement: ServiceAdvertisement | undefined;
}

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
  #selection: Promise<Selection> | undefined;
  #authRequired: Promise<boolean | undefined> | undefined;
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
  async connect(options: { token?: string | null; autoPong?: boolean } = {}): Promise<ProbeConnection> {
    const token = options.token === null ? undefined : (options.token ?? this.options.token);
    const connection = await ProbeConnection.open(this.endpoint, {
      token,
      handshakeTimeoutMs: this.timing.connectTimeoutMs,
      tls: this.options.tls,
      ...(options.autoPong === undefined ? {} : { autoPong: options.autoPong }),
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
    let requests = 0;
    let sendError: string | undefined;
    try {
      const deadline = requestedAt + this.timing.discoveryTimeoutMs;
      const spacing = Math.floor(this.timing.discoveryTimeoutMs / 3);
      while (answers().length === 0 && Date.now() < deadline && requests < 3) {
        sendError = (await requester.send(request)) ?? sendError;
        requests++;
        await this.discovery.until(() => (answers().length > 0 ? true : undefined), Math.min(spacing, Math.max(1, deadline - Date.now())));
      }
      // Other services of the same provider answer the same request a moment later.
      if (answers().length > 0) await delay(options.collectMs ?? 300);
      const replies = answers().flatMap((datagram) =>
        datagram.decoded.ok && datagram.decoded.message.discoveryType === 'ServiceAdvertisement' ? [{ datagram, advertisement: datagram.decoded.message }] : [],
      );
      return { requestedAt, requests, unicast: [...requester.received], replies, requesterPort: requester.port, ...(sendError ? { sendError } : {}) };
    } finally {
      requester.close();
    }
  }

  /** The service and operations to assign: from the options, else the first advertised. Cached. */
  selection(): Promise<Selection> {
    this.#selection ??= this.#select();
    return this.#selection;
  }

  async #select(): Promise<Selection> {
    const { service, operation, slowOperation } = this.options;
    const needDiscovery = service === undefined || operation === undefined;
    const discovered = await this.discover();
    const advertisements = discovered.replies.map((reply) => reply.advertisement);
    const advertisement = service === undefined ? advertisements[0] : advertisements.find((ad) => ad.serviceName === service);
    if (needDiscovery && advertisement === undefined) {
      throw new Error(
        service === undefined
          ? 'no service to test: discovery got no advertisement; pass --service and --operation'
          : `no operation to test: no advertisement for ${service}; pass --operation`,
      );
    }
    const serviceName = service ?? advertisement!.serviceName;
    const quickOperation = operation ?? advertisement?.capabilities[0]?.key;
    if (quickOperation === undefined) throw new Error(`no operation to test: ${serviceName} advertises no capability; pass --operation`);
    return {
      serviceName,
      quick: { operation: quickOperation, params: this.options.params ?? {} },
      slow: slowOperation === undefined ? undefined : { operation: slowOperation, params: this.options.slowParams ?? {} },
      advertisement,
    };
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

/** An advertisement datagram answering `clientId` (by its raw respondsToClientId). */
export function isReplyTo(datagram: Datagram, clientId: string): boolean {
  return member(datagram.json, 'discoveryType') === 'ServiceAdvertisement' && member(datagram.json, 'respondsToClientId') === clientId;
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
