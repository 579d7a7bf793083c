/**
 * Several manifests at once (`switchboard provider --manifest a.yaml --manifest b.yaml --setting
 * k=v`): each manifest gets the settings it declares; a setting no manifest declares, or two
 * services with one name, is a problem.
 */
import { ManifestError } from './manifestError.js';
import { loadManifest, type ManifestService } from './loadManifest.js';
import { readManifest } from './parseManifest.js';

export async function loadManifests(files: readonly string[], settings: Readonly<Record<string, unknown>> = {}): Promise<ManifestService[]> {
  const parsed = await Promise.all(files.map((file) => readManifest(file)));
  const declared = new Set(parsed.flatMap((p) => Object.keys(p.manifest.settings ?? {})));
  const unknown = Object.keys(settings).filter((name) => !declared.has(name));
  if (unknown.length > 0) {
    throw new ManifestError(files.join(', '), [
      {
        path: 'settings',
        line: undefined,
        column: undefined,
        problem: `no manifest declares the setting${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`,
        fix: `declare ${unknown.length > 1 ? 'them' : 'it'} under "settings:" in a manifest, or correct the name (declared: ${[...declared].join(', ') || 'none'})`,
      },
    ]);
  }
  const services: ManifestService[] = [];
  for (const p of parsed) {
    const own = Object.fromEntries(Object.entries(settings).filter(([name]) => Object.hasOwn(p.manifest.settings ?? {}, name)));
    const loaded = await loadManifest(p.file, { settings: own });
    const twin = services.find((known) => known.service.name === loaded.service.name);
    if (twin !== undefined) {
      throw new ManifestError(p.file, [
        { path: 'name', ...p.locate(['name']), problem: `a service named ${loaded.service.name} is already loaded from ${twin.file}`, fix: 'give each manifest its own service name' },
      ]);
    }
    services.push(loaded);
  }
  return services;
}
