/**
 * The compiled engine (machines/engine) is the same statechart as XState's interpreter: for each
 * machine, on random inputs and event sequences (timers fired in random order, stops included),
 * both produce the same state value, context, output, children, pending timers and ordered
 * effects after every step. A short run here; the long one is engine.equivalence.slow.spec.ts.
 * The seed is the tier's (fixed in `npm test`; PROPERTY_SEED picks another; ENGINE_RUNS sets the
 * count); fast-check prints the seed and the shrunk counterexample on failure.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { engineCases } from './support/engineCases.js';
import { equivalenceParameters, equivalenceProperty, hostedEquivalenceProperty } from './support/engineEquivalence.js';

describe('engine: equivalent to XState on random event sequences', () => {
  for (const [name, testCase] of Object.entries(engineCases)) {
    it(`${name}: same value, context, output, children, timers and effects after every step`, () => {
      fc.assert(equivalenceProperty(testCase), equivalenceParameters(150));
    });
  }
});

describe('engine hosted in an XState actor: equivalent to the interpreter', () => {
  for (const [name, testCase] of Object.entries(engineCases)) {
    it(`${name}: the same through the actor system (relay, scheduler, emit, child actors)`, () => {
      fc.assert(hostedEquivalenceProperty(testCase), equivalenceParameters(60));
    });
  }
});
