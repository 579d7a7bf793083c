/** What a provider hosts: one advertised service instance (DISC-5). */
import type { Capability } from './capabilities.js';
import type { AdvertisedEvent } from './messages.js';

export interface ServiceDescriptor {
  /** Unique per service instance, stable for the provider's life. */
  readonly serviceId: string;
  readonly serviceName: string;
  readonly serviceVersion: string;
  readonly capabilities: readonly Capability[];
  /** The events it publishes (EVT-1); with any, its advertisements list the feature `"events"`. */
  readonly events?: readonly AdvertisedEvent[] | undefined;
  /** Optional features this service's provider implements for it (advertised, e.g. `["files"]`, FILE-1). */
  readonly features?: readonly string[];
}

export function offersOperation(services: readonly ServiceDescriptor[], serviceName: string, operation: string): boolean {
  return services.some(
    (service) => service.serviceName === serviceName && service.capabilities.some((capability) => capability.key === operation),
  );
}
