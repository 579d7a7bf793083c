/** Building the provider's ServiceAdvertisement drafts (DISC-3..7), as pure functions. */
import type { DiscoveryDraft, ServiceAdvertisement, ServiceStatus } from './messages.js';
import type { ServiceDescriptor } from './service.js';

export interface AdvertisementContext {
  readonly services: readonly ServiceDescriptor[];
  readonly endpoint: string;
  readonly heartbeatIntervalMs: number;
  readonly load: number;
}

export function advertisementFor(
  service: ServiceDescriptor,
  context: AdvertisementContext,
  status: ServiceStatus,
  respondsToClientId?: string,
): DiscoveryDraft {
  const draft: Omit<ServiceAdvertisement, 'timestamp'> = {
    discoveryType: 'ServiceAdvertisement',
    serviceId: service.serviceId,
    serviceName: service.serviceName,
    serviceVersion: service.serviceVersion,
    endpoint: context.endpoint,
    capabilities: [...service.capabilities],
    status,
    load: context.load,
    heartbeatIntervalMs: context.heartbeatIntervalMs,
    ...(respondsToClientId === undefined ? {} : { respondsToClientId }),
  };
  // EVT-1: a service that publishes events says so, and which; FILE-1: `files` comes with service.features.
  const publishes = service.events !== undefined && service.events.length > 0;
  const features = [...(publishes ? ['events'] : []), ...(service.features ?? []).filter((feature) => feature !== 'events' || !publishes)];
  if (publishes) draft.events = [...service.events!];
  if (features.length > 0 || service.features !== undefined) draft.features = features;
  return draft;
}

/** One advertisement per hosted service (DISC-3), optionally only the named service. */
export function advertisementsFor(
  context: AdvertisementContext,
  status: ServiceStatus,
  options: { respondsToClientId?: string | undefined; serviceName?: string | undefined } = {},
): DiscoveryDraft[] {
  return context.services
    .filter((service) => options.serviceName === undefined || service.serviceName === options.serviceName)
    .map((service) => advertisementFor(service, context, status, options.respondsToClientId));
}
