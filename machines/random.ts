/**
 * A tiny pure PRNG (mulberry32): machines may not call Math.random, so randomness is state in
 * context, advanced by assign, seeded from input. The runtime seeds it from crypto in production
 * and from the simulation's seed in specs, so one seed reproduces a whole run.
 */

export type RandomState = number;

/** Returns a float in [0, 1) and the next state. */
export function nextRandom(state: RandomState): [value: number, next: RandomState] {
  const next = (state + 0x6d2b79f5) | 0;
  let t = next;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return [((t ^ (t >>> 14)) >>> 0) / 4_294_967_296, next];
}

/** Derives an independent seed for a child from a parent seed and a label. */
export function deriveSeed(seed: RandomState, label: string): RandomState {
  let h = seed ^ 0x9e3779b9;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  return nextRandom(h)[1];
}
