/**
 * NATS micro interoperability: a provider on NATS answers the service-discovery subjects of NATS's
 * "micro" framework, so `nats micro list|info|stats` and any micro client see switchboard services.
 *
 *   $SRV.<VERB>, $SRV.<VERB>.<name>, $SRV.<VERB>.<name>.<id>     VERB = PING | INFO | STATS
 *
 * One micro service per hosted switchboard service: name = the service name as a subject token,
 * id = its serviceId, version = its serviceVersion; one micro endpoint per operation, whose
 * subject is the provider listener (tasks are a session protocol, not one request/reply, so a
 * micro client can see them but not call them). Responses are the micro v1 JSON documents
 * (`io.nats.micro.v1.{ping,info,stats}_response`); durations are nanoseconds, as Go encodes them.
 *
 * STATS counts per operation come from the provider's task connections (./streamEnd.ts observer):
 * an AssignTask starts the clock, its TaskResult or TaskFailed stops it (num_requests), a
 * TaskFailed also counts in num_errors and sets last_error.
 */
import type { Msg } from '@nats-io/transport-node';
import type { ServiceAdvertisement, WireMessage } from '../../machines/messages.js';
import { serviceToken } from './subjects.js';

export const MICRO_SUBJECTS = '$SRV.>';

interface OperationStats {
  numRequests: number;
  numErrors: number;
  lastError: string;
  processingNs: bigint;
}

interface Started {
  readonly key: string;
  readonly startedNs: bigint;
}

/** Tasks started and not finished that we keep timing; beyond it the oldest is forgotten. */
const TIMED_TASKS_MAX = 65_536;

export class MicroStats {
  readonly #operations = new Map<string, OperationStats>();
  readonly #running = new Map<string, Started>();
  readonly #now: () => bigint;

  constructor(now: () => bigint = () => process.hrtime.bigint()) {
    this.#now = now;
  }

  /** What a provider-side stream end reports to, for the listener at `endpoint`. */
  observer(endpoint: string): { inbound(message: WireMessage): void; outbound(message: WireMessage): void } {
    return {
      inbound: (message) => {
        if (message.type !== 'AssignTask') return;
        const { taskId, serviceName, operation } = message.payload;
        if (this.#running.has(taskId)) return; // a re-sent AssignTask (CONN-5)
        if (this.#running.size >= TIMED_TASKS_MAX) {
          const oldest = this.#running.keys().next().value;
          if (oldest !== undefined) this.#running.delete(oldest);
        }
        this.#running.set(taskId, { key: keyOf(endpoint, serviceName, operation), startedNs: this.#now() });
      },
      outbound: (message) => {
        if (message.type !== 'TaskResult' && message.type !== 'TaskFailed') return;
        const started = this.#running.get(message.payload.taskId);
        if (started === undefined) return;
        this.#running.delete(message.payload.taskId);
        const stats = this.#statsOf(started.key);
        stats.numRequests++;
        stats.processingNs += this.#now() - started.startedNs;
        if (message.type === 'TaskFailed') {
          stats.numErrors++;
          stats.lastError = `${message.payload.errorCode}: ${message.payload.errorMessage}`.slice(0, 1024);
        }
      },
    };
  }

  stats(endpoint: string, serviceName: string, operation: string): Readonly<OperationStats> {
    return this.#operations.get(keyOf(endpoint, serviceName, operation)) ?? { numRequests: 0, numErrors: 0, lastError: '', processingNs: 0n };
  }

  #statsOf(key: string): OperationStats {
    let stats = this.#operations.get(key);
    if (stats === undefined) {
      stats = { numRequests: 0, numErrors: 0, lastError: '', processingNs: 0n };
      this.#operations.set(key, stats);
    }
    return stats;
  }
}

function keyOf(endpoint: string, serviceName: string, operation: string): string {
  return JSON.stringify([endpoint, serviceName, operation]);
}

interface MicroIdentity {
  readonly name: string;
  readonly id: string;
  readonly version: string;
  readonly metadata: Record<string, string>;
}

const VERBS = new Set(['PING', 'INFO', 'STATS']);

/** The services one provider's discovery actor advertises, answered on $SRV.* subjects. */
export class MicroResponder {
  readonly #services = new Map<string, ServiceAdvertisement>();
  readonly #stats: MicroStats;
  readonly #listenerSubject: (endpoint: string) => string | undefined;
  readonly #started = new Date().toISOString();

  constructor(stats: MicroStats, listenerSubject: (endpoint: string) => string | undefined) {
    this.#stats = stats;
    this.#listenerSubject = listenerSubject;
  }

  get size(): number {
    return this.#services.size;
  }

  /** Follows what the provider advertises: a goodbye (Offline) removes the service. */
  advertised(advertisement: ServiceAdvertisement): void {
    if (advertisement.status === 'Offline') this.#services.delete(advertisement.serviceId);
    else this.#services.set(advertisement.serviceId, advertisement);
  }

  /** Answers one $SRV request (one response per matching service); returns how many were sent. */
  handle(message: Msg): number {
    const [, verb, name, id, ...rest] = message.subject.split('.');
    if (verb === undefined || !VERBS.has(verb) || rest.length > 0 || message.reply === undefined) return 0;
    let answered = 0;
    for (const advertisement of this.#services.values()) {
      const identity = this.#identity(advertisement);
      if ((name !== undefined && name !== identity.name) || (id !== undefined && id !== identity.id)) continue;
      try {
        message.respond(JSON.stringify(this.#response(verb, advertisement, identity)));
        answered++;
      } catch {
        // the requester went away
      }
    }
    return answered;
  }

  #identity(advertisement: ServiceAdvertisement): MicroIdentity {
    return {
      name: serviceToken(advertisement.serviceName),
      id: serviceToken(advertisement.serviceId),
      version: advertisement.serviceVersion,
      metadata: {
        'switchboard.service': advertisement.serviceName,
        'switchboard.endpoint': advertisement.endpoint,
        'switchboard.status': advertisement.status,
        'switchboard.load': String(advertisement.load),
      },
    };
  }

  #response(verb: string, advertisement: ServiceAdvertisement, identity: MicroIdentity): Record<string, unknown> {
    const subject = this.#listenerSubject(advertisement.endpoint) ?? '';
    const operations = advertisement.capabilities.map((capability) => capability.key);
    if (verb === 'PING') return { ...identity, type: 'io.nats.micro.v1.ping_response' };
    if (verb === 'INFO') {
      return {
        ...identity,
        type: 'io.nats.micro.v1.info_response',
        description: `switchboard service ${advertisement.serviceName} (tasks over ${advertisement.endpoint})`,
        endpoints: operations.map((operation) => ({
          name: serviceToken(operation),
          subject,
          queue_group: '',
          metadata: { 'switchboard.operation': operation, 'switchboard.protocol': 'switchboard task connection' },
        })),
      };
    }
    return {
      ...identity,
      type: 'io.nats.micro.v1.stats_response',
      started: this.#started,
      endpoints: operations.map((operation) => {
        const stats = this.#stats.stats(advertisement.endpoint, advertisement.serviceName, operation);
        const average = stats.numRequests === 0 ? 0n : stats.processingNs / BigInt(stats.numRequests);
        return {
          name: serviceToken(operation),
          subject,
          queue_group: '',
          num_requests: stats.numRequests,
          num_errors: stats.numErrors,
          last_error: stats.lastError,
          processing_time: Number(stats.processingNs),
          average_processing_time: Number(average),
        };
      }),
    };
  }
}
