/**
 * Event filters (EVT-7): what a subscriber asks to receive of an event stream.
 *
 * A filter is a small JSON object `{ "<path>": value | [value, ...] }`: an event matches when,
 * for every entry, the event data's value at `path` (dot-separated member names, at most 4 deep)
 * equals `value`, or one of the listed values. Values are JSON scalars (string, number, boolean,
 * null). No entries: every event matches. Deliberately not a query language: it is evaluated once
 * per (event, subscription) on the publish path, must cost next to nothing, and must not let a
 * subscriber make the provider do unbounded work (bounds below, EVT-14).
 */
import * as z from 'zod';

/** Filter entries a subscription may carry. */
export const FILTER_ENTRIES_MAX = 16;
/** Alternatives one entry may list. */
export const FILTER_VALUES_MAX = 64;
/** Members in a path. */
export const FILTER_PATH_DEPTH_MAX = 4;

const PATH_PATTERN = /^[A-Za-z_$][A-Za-z0-9_$-]{0,63}(?:\.[A-Za-z_$][A-Za-z0-9_$-]{0,63}){0,3}$/;

const ScalarSchema = z.union([z.string().max(256), z.number(), z.boolean(), z.null()]);
export type FilterScalar = z.output<typeof ScalarSchema>;

export const EventFilterSchema = z
  .record(z.string().regex(PATH_PATTERN, 'a filter path is up to 4 member names joined by "."'), z.union([ScalarSchema, z.array(ScalarSchema).min(1).max(FILTER_VALUES_MAX)]))
  .refine((filter) => Object.keys(filter).length <= FILTER_ENTRIES_MAX, { message: `at most ${FILTER_ENTRIES_MAX} filter entries` });

export type EventFilter = Readonly<Record<string, FilterScalar | readonly FilterScalar[]>>;

/** The value at a dotted path of `data`, own members only (`__proto__` is an ordinary name, SEC-9). */
function valueAt(data: unknown, path: string): unknown {
  let value = data;
  for (const member of path.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.hasOwn(value, member)) return undefined;
    value = (value as Record<string, unknown>)[member];
  }
  return value;
}

/** EVT-7: does the event data match every entry of the filter? */
export function matchesFilter(filter: EventFilter | undefined, data: unknown): boolean {
  if (filter === undefined) return true;
  for (const path in filter) {
    if (!Object.hasOwn(filter, path)) continue;
    const expected = filter[path];
    const actual = valueAt(data, path);
    if (Array.isArray(expected) ? !expected.includes(actual as FilterScalar) : actual !== expected) return false;
  }
  return true;
}
