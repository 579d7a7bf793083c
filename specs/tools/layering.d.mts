/** Types for ./layering.mjs (plain Node, so the CLI runs without a build step). */

export interface Token {
  readonly kind: 'identifier' | 'string' | 'template' | 'regex' | 'number' | 'punct';
  readonly value: string;
  readonly start: number;
  readonly line: number;
  readonly column: number;
}

export type LayeringRule =
  | 'no-node-builtin'
  | 'no-ws'
  | 'no-runtime-import'
  | 'no-adapters-import'
  | 'no-import-outside-machines'
  | 'allowed-packages'
  | 'no-date'
  | 'no-math-random'
  | 'no-timers'
  | 'no-process'
  | 'no-performance'
  | 'no-console';

export interface Violation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly rule: LayeringRule;
  readonly message: string;
}

export function tokenize(text: string): Token[];
export function importsOf(tokens: readonly Token[]): Array<{ specifier: string; token: Token }>;
export function checkSource(path: string, text: string): Violation[];
export function sourceFiles(root: string): string[];
export function checkTree(root: string): Violation[];
