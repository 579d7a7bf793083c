/**
 * `switchboard provider --service ./my-service.js`: loads a module and takes every export that is
 * a service definition (from defineService), or an array of them. The path is resolved from the
 * current directory; TypeScript modules load too (tsx is registered for them: ./typescript.ts).
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ServiceDefinition } from '../service.js';
import { UsageError } from './options.js';
import { importModule } from './typescript.js';

export function isServiceDefinition(value: unknown): value is ServiceDefinition {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<ServiceDefinition>;
  if (typeof candidate.name !== 'string' || typeof candidate.version !== 'string') return false;
  if (typeof candidate.operations !== 'object' || candidate.operations === null) return false;
  return Object.values(candidate.operations).every(
    (operation) => typeof operation === 'object' && operation !== null && typeof (operation as { run?: unknown }).run === 'function',
  );
}

/** A CommonJS module compiled from ESM (a .ts file outside a "type": "module" package), seen from import(). */
const isCompiledEsm = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && (value as { __esModule?: unknown }).__esModule === true;

/** The service definitions a module exports: default first, then named exports in order. */
export function servicesExportedBy(moduleNamespace: Record<string, unknown>): ServiceDefinition[] {
  const found: ServiceDefinition[] = [];
  const add = (value: unknown) => {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (isServiceDefinition(item) && !found.includes(item)) found.push(item);
    }
  };
  const addNamespace = (namespace: Record<string, unknown>) => {
    if (isCompiledEsm(namespace.default)) addNamespace(namespace.default);
    else add(namespace.default);
    for (const [name, value] of Object.entries(namespace)) if (name !== 'default') add(value);
  };
  addNamespace(moduleNamespace);
  return found;
}

export async function loadServiceModule(modulePath: string, cwd = process.cwd()): Promise<ServiceDefinition[]> {
  const absolute = path.resolve(cwd, modulePath);
  const info = await stat(absolute).catch(() => undefined);
  if (info === undefined || !info.isFile()) throw new UsageError(`--service ${modulePath}: no such file (${absolute})`);
  let namespace: Record<string, unknown>;
  try {
    namespace = await importModule(absolute, pathToFileURL(absolute).href);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`--service ${modulePath}: the module failed to load: ${(error as Error).message}`);
  }
  const services = servicesExportedBy(namespace);
  if (services.length === 0) {
    throw new UsageError(`--service ${modulePath}: exports no service definition (export defineService(...) as default or by name)`);
  }
  return services;
}

/** Every module's services; two services with the same name are a configuration error. */
export async function loadServices(modulePaths: readonly string[], cwd = process.cwd()): Promise<ServiceDefinition[]> {
  const services: ServiceDefinition[] = [];
  for (const modulePath of modulePaths) {
    for (const service of await loadServiceModule(modulePath, cwd)) {
      if (services.some((known) => known.name === service.name)) {
        throw new UsageError(`--service ${modulePath}: a service named ${service.name} is already loaded`);
      }
      services.push(service);
    }
  }
  return services;
}
