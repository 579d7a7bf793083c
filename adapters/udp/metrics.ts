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
  /** Discovery requests dropped unanswered: over the per-source or the overall rate (DISC-16). */
  requestsRateLimited: number;
  /** Answers not sent: beyond the request's amplification budget, or beyond the one answer an unpadded request gets (DISC-17). */
  answersOverBudget: number;
  /** Received advertisements whose signature was checked, and of those, the ones that did not verify (SEC-8). */
  signaturesChecked: number;
  signaturesInvalid: number;
}

export function createUdpMetrics(): UdpMetrics {
  return {
    sent: 0,
    received: 0,
    rejected: 0,
    rejectedByCode: {},
    sendErrors: 0,
    sendsDropped: 0,
    socketErrors: 0,
    requestsRateLimited: 0,
    answersOverBudget: 0,
    signaturesChecked: 0,
    signaturesInvalid: 0,
  };
}
