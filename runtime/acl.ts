/**
 * Authorisation as data (SEC-4): which identity may run which operation of which service, for
 * which clientIds. A policy is a list of allow/deny rules, the first that matches decides, and a
 * default for requests no rule matches. `authorize` is a pure function of the policy and the
 * request: the provider calls it when an AssignTask is first received (a duplicate is answered
 * from the ledger), and a refused task gets TaskFailed FORBIDDEN.
 *
 * A rule's `who` names principals (`key:alice`, `cert:build-server`), groups (`group:ops`),
 * `anonymous` (no credential) or `*`; `services`, `operations` and `clientIds` are names or
 * prefixes ending in `*`. A field left out matches everything.
 *
 * ```json
 * { "default": "deny",
 *   "rules": [
 *     { "effect": "deny",  "who": ["key:intern"], "operations": ["delete*"] },
 *     { "effect": "allow", "who": ["group:ops"] },
 *     { "effect": "allow", "who": ["*"], "services": ["ImageProcessingService"], "operations": ["resizeImage"] } ] }
 * ```
 */
import { readFile } from 'node:fs/promises';
import * as z from 'zod';
import { describeIssues } from '../machines/codec.js';
import { matchesAny } from '../machines/identity.js';
import type { AuthorizationRequest } from '../machines/taskRegistry.js';

const Patterns = z.array(z.string().min(1).max(256)).min(1).max(1_024);

const AclRuleSchema = z.strictObject({
  effect: z.enum(['allow', 'deny']),
  who: Patterns.optional(),
  services: Patterns.optional(),
  operations: Patterns.optional(),
  clientIds: Patterns.optional(),
  /** Free text for people reading the file. */
  comment: z.string().max(1_024).optional(),
});

const AclSchema = z.strictObject({
  default: z.enum(['allow', 'deny']).default('deny'),
  rules: z.array(AclRuleSchema).max(10_000).default([]),
});

export type AclRule = z.output<typeof AclRuleSchema>;
export type Acl = z.output<typeof AclSchema>;
export type { AuthorizationRequest };

export interface Decision {
  readonly allowed: boolean;
  /** The index of the rule that decided, or undefined for the default. */
  readonly rule: number | undefined;
}

/** The names a request's identity answers to in `who`. */
function namesOf(request: AuthorizationRequest): string[] {
  if (request.principal === undefined) return ['anonymous'];
  return [request.principal, ...(request.groups ?? []).map((group) => `group:${group}`)];
}

function matches(rule: AclRule, request: AuthorizationRequest, names: readonly string[]): boolean {
  return (
    (rule.who === undefined || names.some((name) => matchesAny(rule.who as string[], name))) &&
    (rule.services === undefined || matchesAny(rule.services, request.serviceName)) &&
    (rule.operations === undefined || matchesAny(rule.operations, request.operation)) &&
    (rule.clientIds === undefined || matchesAny(rule.clientIds, request.clientId))
  );
}

/** SEC-4: the first rule that matches decides; none: the default. */
export function authorize(acl: Acl, request: AuthorizationRequest): Decision {
  const names = namesOf(request);
  const index = acl.rules.findIndex((rule) => matches(rule, request, names));
  if (index < 0) return { allowed: acl.default === 'allow', rule: undefined };
  return { allowed: (acl.rules[index] as AclRule).effect === 'allow', rule: index };
}

/** The policy in `value` (parsed JSON), or a TypeError naming what is wrong with it. */
export function parseAcl(value: unknown): Acl {
  const parsed = AclSchema.safeParse(value);
  if (!parsed.success) throw new TypeError(`invalid ACL: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** Reads a policy from a JSON file (the CLI's --acl). */
export async function loadAcl(file: string): Promise<Acl> {
  const text = await readFile(file, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new TypeError(`invalid ACL ${file}: not JSON (${(error as Error).message})`);
  }
  try {
    return parseAcl(json);
  } catch (error) {
    throw new TypeError(`${file}: ${(error as Error).message}`);
  }
}
