/**
 * Keyed bookkeeping in machine context: copy-on-write maps for small, slowly changing sets
 * (sessions, endpoints, principals), and owned maps for per-task records.
 *
 * Why Maps and not plain objects (`{ ...tasks, [taskId]: true }`): every object built with a new
 * property name (a uuid per task) gets a hidden-class transition in V8, so records keyed by ids
 * make the engine's transition trees grow without bound and each spread slower than the last.
 *
 * Per-task records are owned and mutated in place:
 * A machine that tracks thousands of tasks (the client's task-to-endpoint routes, a connection's
 * tasks in flight) keeps them in ONE Map created with its context and changed by its own actions,
 * never copied: a copy per task made every submission O(tasks in flight) (the first version,
 * copy-on-write, cost about 64 us per task at 256 in flight, a third of the client's time). Plain
 * objects keyed by task id are worse still (a V8 hidden-class transition per new uuid key).
 *
 * The rules that keep this deterministic and equal under both interpreters: only the owning
 * machine's actions change the map (actions run exactly once per transition, in order), guards
 * only read it, and nothing else holds it. Snapshots therefore share it: an old snapshot shows the
 * map as it is now, not as it was.
 */

/** A copy of `map` with `key` set (copy-on-write: the context stays immutable). */
export function withEntry<K, V>(map: ReadonlyMap<K, V>, key: K, value: V): ReadonlyMap<K, V> {
  const next = new Map(map);
  next.set(key, value);
  return next;
}

/** A copy of `map` without `key`, or `map` itself when it has no such key. */
export function withoutEntry<K, V>(map: ReadonlyMap<K, V>, key: K): ReadonlyMap<K, V> {
  if (!map.has(key)) return map;
  const next = new Map(map);
  next.delete(key);
  return next;
}

/** A Map a machine owns in its context (see above); `record` and `forget` say why they exist. */
export class OwnedMap<K, V> extends Map<K, V> {
  /** Records `key` (an action of the owner). */
  record(key: K, value: V): this {
    return this.set(key, value);
  }

  /** Forgets `key` (an action of the owner); false if it was not there. */
  forget(key: K): boolean {
    return this.delete(key);
  }
}
