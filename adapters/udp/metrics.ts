/**
 * Counters of the UDP discovery adapter. The adapter increments a plain object you own, so one
 * object can gather the counts of several actors (a provider's and a client's, say) and be read
 * at any time.
 */
import type { ErrorCode } from '../../machines/errors.js';

export interface UdpMetrics {
  /** Datagrams the kernel accepted, one per destination (a broadcast to 3 targets counts 3). */
  sent: number;
  /** Datagrams decoded and delivered as `datagram.received`. */
  received: number;
  /** Datagrams that failed decoding, delivered as `datagram.rejected` (DISC-12). */
  rejected: number;
  /** `rejected`, split by error code. */
  rejectedByCode: Partial<Record<ErrorCode, number>>;
  /** Sends the kernel or the resolver refused (EHOSTUNREACH, ENETUNREACH, a bad port, ...). */
  sendErrors: number;
  /** Datagrams dropped before reaching the kernel: queue overflow before bind, failed sending socket, still queued at close. */
  sendsDropped: number;
  /** 'error' events of either socket (bind errors included) and failed socket options. */
  socketErrors: number;
}

export function createUdpMetrics(): UdpMetrics {
  return { sent: 0, received: 0, rejected: 0, rejectedByCode: {}, sendErrors: 0, sendsDropped: 0, socketErrors: 0 };
}
