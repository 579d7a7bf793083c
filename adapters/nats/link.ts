/**
 * One host's NATS connection, shared by its discovery, server and task-connection actors.
 *
 * Opened on the first `acquire()`, closed (drained, bounded by closeFlushMs, so a goodbye
 * published just before stop still leaves, DISC-7) when the last user releases it. A connection
 * passed in by the application (`options.connection`) is used as is and never closed here.
 * Reconnecting is NATS's business (forever, by default); a connection that closes for good
 * (credentials refused, say) is reported to every `onClosed` listener so transports can end.
 */
import type { NatsConnection, NodeConnectionOptions } from '@nats-io/transport-node';
import { v4 as uuidV4 } from 'uuid';
import { credentialsReader } from './credentials.js';
import { natsTransport } from './natsPackages.js';
import type { NatsConfig } from './options.js';
import { Subjects } from './subjects.js';

type CredsAuthenticator = (typeof import('@nats-io/transport-node'))['credsAuthenticator'];

export function connectionOptions(config: NatsConfig, linkId: string, credsAuthenticator: CredsAuthenticator): NodeConnectionOptions {
  const tls = config.tls;
  return {
    servers: [...config.servers],
    name: `switchboard ${config.name} ${linkId.slice(0, 8)}`,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    // Request inboxes (the open handshake) under the deployment's prefix, so one permission covers them.
    inboxPrefix: `${config.prefix}.inbox`,
    // Read at every (re)connect, not once: a renewed .creds file must be used after the server
    // closed the connection at the old user JWT's expiry.
    ...(config.credentials === undefined ? {} : { authenticator: credsAuthenticator(credentialsReader(config.credentials)) }),
    ...(config.token === undefined ? {} : { token: config.token }),
    ...(config.user === undefined ? {} : { user: config.user, pass: config.pass ?? '' }),
    ...(tls === undefined ? {} : { tls: { ...tls } }),
  };
}

export class NatsLink {
  /** Names this host's client-side subjects (`P.cli.<id>.*`). */
  readonly id = uuidV4().replaceAll('-', '');
  readonly subjects: Subjects;
  readonly config: NatsConfig;
  #connection: NatsConnection | undefined;
  #connecting: Promise<NatsConnection> | undefined;
  #closing: Promise<void> = Promise.resolve();
  #users = 0;
  readonly #closedListeners = new Set<(reason: string) => void>();

  constructor(config: NatsConfig) {
    this.config = config;
    this.subjects = new Subjects(config.prefix);
  }

  /** The open connection, or undefined (not yet connected, or closed). */
  get connection(): NatsConnection | undefined {
    return this.#connection;
  }

  /** Resolves with the connection (opening it if needed); rejects when NATS cannot be reached. */
  acquire(): Promise<NatsConnection> {
    this.#users++;
    if (this.#connection !== undefined) return Promise.resolve(this.#connection);
    this.#connecting ??= this.#open();
    return this.#connecting;
  }

  /** One user more, for an actor that shares a connection another actor already acquired. */
  retain(): void {
    this.#users++;
  }

  /** One user fewer; the last one closes the connection (unless it was given to us). */
  release(): void {
    this.#users = Math.max(0, this.#users - 1);
    if (this.#users > 0 || this.config.connection !== undefined) return;
    const connection = this.#connection;
    const connecting = this.#connecting;
    this.#connection = undefined;
    this.#connecting = undefined;
    const close = async (nc: NatsConnection) => {
      const flushed = nc.drain().catch(() => undefined);
      const timer = new Promise<void>((resolve) => setTimeout(resolve, this.config.closeFlushMs).unref());
      await Promise.race([flushed, timer]);
      if (!nc.isClosed()) await nc.close().catch(() => undefined);
    };
    if (connection !== undefined) this.#closing = close(connection);
    else if (connecting !== undefined) this.#closing = connecting.then(close, () => undefined);
  }

  /** Called once if the connection closes for good while in use. */
  onClosed(listener: (reason: string) => void): () => void {
    this.#closedListeners.add(listener);
    return () => this.#closedListeners.delete(listener);
  }

  async #open(): Promise<NatsConnection> {
    const { config } = this;
    await this.#closing;
    let nc: NatsConnection;
    try {
      if (config.connection !== undefined) nc = config.connection;
      else {
        const { connect, credsAuthenticator } = await natsTransport();
        nc = await connect(connectionOptions(config, this.id, credsAuthenticator));
      }
    } catch (caught) {
      this.#connecting = undefined;
      config.metrics.connectionErrors++;
      const error = explainRefusal(caught, config);
      config.log('error', `nats: cannot connect to ${config.servers.join(', ')}: ${messageOf(error)}`);
      throw error;
    }
    if (this.#users === 0 && config.connection === undefined) {
      // Everyone left while we were connecting.
      void nc.close();
      throw new Error('nats: the link was released while connecting');
    }
    this.#connection = nc;
    this.#connecting = undefined;
    config.log('info', `nats: connected to ${nc.getServer()}`, { prefix: config.prefix, name: config.name });
    void this.#watch(nc);
    return nc;
  }

  async #watch(nc: NatsConnection): Promise<void> {
    const { config } = this;
    void (async () => {
      for await (const status of nc.status()) {
        // A disconnect of a connection we are closing ourselves is no news.
        const trouble = (status.type === 'error' || status.type === 'disconnect') && this.#connection === nc;
        if (trouble) config.metrics.connectionErrors++;
        if (status.type === 'error' && status.error.name === 'PermissionViolationError') {
          logPermissionDenied(status.error, config);
          continue;
        }
        const level = trouble ? 'warn' : 'debug';
        config.log(level, `nats: ${status.type}`, { detail: describe(status) });
      }
    })().catch(() => undefined);
    const result = await nc.closed();
    if (this.#connection !== nc) return; // closed by release()
    this.#connection = undefined;
    const reason = result instanceof Error ? `nats connection closed: ${messageOf(explainRefusal(result, config))}` : 'nats connection closed';
    config.log('error', reason);
    for (const listener of [...this.#closedListeners]) listener(reason);
  }
}

/**
 * The NATS user may not use a subject: nothing will flow there. On the deployment's own subjects
 * that breaks discovery or tasks (an error); on NATS micro's it only hides the services from micro
 * tools (a warning, with the way out).
 */
function logPermissionDenied(error: Error, config: NatsConfig): void {
  const subject = (error as { subject?: unknown }).subject;
  if (typeof subject === 'string' && subject.startsWith(MICRO_PREFIX)) {
    config.log('warn', `nats: permission denied: ${error.message} (NATS micro tools will not list these services: allow subscribing to $SRV.> and publishing to _INBOX.>, or set micro: false)`);
    return;
  }
  config.log('error', `nats: permission denied: ${error.message} (the NATS user's permissions must allow the subjects under ${config.prefix}.)`);
}

const MICRO_PREFIX = '$SRV.';

function describe(status: unknown): string {
  try {
    return JSON.stringify(status, (_key, value: unknown) => (value instanceof Error ? value.message : value)).slice(0, 300);
  } catch {
    return String(status);
  }
}

/**
 * The server's refusal ("Authorization Violation", all it says) with what it refused, so the
 * user knows which secret to look at; other errors as they are.
 */
function explainRefusal(error: unknown, config: NatsConfig): unknown {
  const message = messageOf(error);
  if (!/authori[sz]ation violation|authentication expired/i.test(message)) return error;
  const what =
    config.credentials !== undefined
      ? `the NATS server refused the user of ${config.credentials} (an account or operator it does not trust, an expired or revoked user JWT, or a seed that does not match it)`
      : config.token !== undefined || config.user !== undefined
        ? `the NATS server refused the ${config.token !== undefined ? 'token' : 'user and password'}`
        : 'the NATS server requires authentication and none was given (credentials, token, or user and pass)';
  return new NatsAuthenticationRefused(`${message}: ${what}`, { cause: error });
}

/** The NATS server refused this host's authentication (credentials, token, user and password). */
export class NatsAuthenticationRefused extends Error {
  override readonly name = 'NatsAuthenticationRefused';
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
