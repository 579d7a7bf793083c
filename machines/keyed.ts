/**
 * Copy-on-write maps for per-task bookkeeping in machine context.
 *
 * Why not plain objects (`{ ...tasks, [taskId]: true }`): every object built with a new property
 * name (a uuid per task) gets a hidden-class transition in V8, so records keyed by task ids make
 * the engine's transition trees grow without bound and each spread or rest-destructure slower
 * than the last (measured: about 1 ms per task after a few thousand tasks). Maps have no such
 * cost. Context stays immutable: each change returns a new Map.
 */

export function withEntry<K, V>(map: ReadonlyMap<K, V>, key: K, value: V): ReadonlyMap<K, V> {
  const next = new Map(map);
  next.set(key, value);
  return next;
}

export function withoutEntry<K, V>(map: ReadonlyMap<K, V>, key: K): ReadonlyMap<K, V> {
  if (!map.has(key)) return map;
  const next = new Map(map);
  next.delete(key);
  return next;
}
