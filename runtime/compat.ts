/**
 * The `compat` profile of a provider (docs/protocol.md, "The compat profile"): deviations from
 * switchboard's wire forms that some peers built from the seed alone need, and that cannot be
 * liberal defaults because they break what other peers (switchboard's own clients among them at
 * level full) expect. A switchboard client reads every one of them by default, so it has no
 * profile of its own.
 *
 * - `keyed-capabilities`: advertisements carry `capabilities` as an object keyed by operation,
 *   `{"resizeImage": {"status": "available", "settings": [...]}}`, for peers that look an
 *   operation up by key and cannot read the seed's list.
 * - `flat-status`: where an Ack, a TaskStatusUpdate or a TASK_NOT_FOUND about a task would go, the
 *   provider sends the flat `{"type": "Status", "taskId", "taskStatus"}` (Processing, Queued,
 *   Done, Failed, Cancelled, Unknown), and GetStatus of a finished task gets its final status
 *   (the outcome is GetResult's), as in the seed's sequence diagram read literally.
 *
 * `field` is both at once: the dialect most often seen in the field.
 */
import type { UdpDiscoveryOptions } from '../adapters/udp.js';
import type { WsServerOptions } from '../adapters/ws.js';

export const compatDeviations = ['keyed-capabilities', 'flat-status'] as const;
export type CompatDeviation = (typeof compatDeviations)[number];

/** A list of deviations, or `field` for all of them. */
export type CompatOption = 'field' | readonly CompatDeviation[];

export function deviationsOf(option: CompatOption | undefined): ReadonlySet<CompatDeviation> {
  if (option === undefined) return new Set();
  if (option === 'field') return new Set(compatDeviations);
  for (const deviation of option) {
    if (!(compatDeviations as readonly string[]).includes(deviation)) {
      throw new TypeError(`switchboard: compat: unknown deviation "${String(deviation)}" (known: field, ${compatDeviations.join(', ')})`);
    }
  }
  return new Set(option);
}

/** What each part of a provider is told: the discovery adapter, the WebSocket server, the registry. */
export function compatSettings(option: CompatOption | undefined): {
  readonly discovery: Pick<UdpDiscoveryOptions, 'capabilitiesForm'>;
  readonly server: Pick<WsServerOptions, 'statusForm'>;
  readonly finishedStatusOnGetStatus: boolean;
} {
  const deviations = deviationsOf(option);
  const flat = deviations.has('flat-status');
  return {
    discovery: deviations.has('keyed-capabilities') ? { capabilitiesForm: 'keyed' } : {},
    server: flat ? { statusForm: 'flat' } : {},
    finishedStatusOnGetStatus: flat,
  };
}
