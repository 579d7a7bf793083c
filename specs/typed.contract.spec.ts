/**
 * `switchboard types`' generator (runtime/typed/generateContract.ts, jsonSchemaToTs.ts):
 * - what it writes for a real service is the committed fixture specs/types/fixtures/greeter.types.ts,
 *   which the typecheck step compiles with specs/types/generatedContract.test-d.ts: it types the
 *   client as the definition itself does, and misuse of it does not compile;
 * - whatever a provider advertises (generated garbage, hostile names and descriptions), the output
 *   parses as TypeScript and declares nothing but its own type aliases: nothing from the network
 *   becomes code.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import type { Capability } from '../machines/capabilities.js';
import { capabilitiesOf } from '../runtime/service.js';
import { contractModule, identifierOf } from '../runtime/typed/generateContract.js';
import { typeOfSchema } from '../runtime/typed/jsonSchemaToTs.js';
import { greeter } from './types/fixtures/greeter.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURE = path.join(ROOT, 'specs', 'types', 'fixtures', 'greeter.types.ts');

describe('the generated contract of a real service', () => {
  it('is the committed fixture, which the typecheck step compiles with its type tests (specs/types/generatedContract.test-d.ts)', () => {
    const generated = contractModule({ serviceName: greeter.name, serviceVersion: greeter.version, capabilities: capabilitiesOf(greeter) });
    if (process.env.UPDATE_TYPES_FIXTURE === '1') writeFileSync(FIXTURE, generated);
    // After a deliberate change of the generator: UPDATE_TYPES_FIXTURE=1 npx vitest run specs/typed.contract.spec.ts
    expect(generated).toBe(readFileSync(FIXTURE, 'utf8'));
  });
});

/** Every top-level statement of a generated module: only `export type` aliases. */
function topLevelKinds(source: string): string[] {
  const file = ts.createSourceFile('generated.ts', source, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  return file.statements.map((statement) =>
    ts.isTypeAliasDeclaration(statement) && statement.modifiers?.length === 1 && statement.modifiers[0]!.kind === ts.SyntaxKind.ExportKeyword
      ? 'export type'
      : ts.SyntaxKind[statement.kind],
  );
}

function syntaxErrors(source: string): string[] {
  const output = ts.transpileModule(source, { reportDiagnostics: true, compilerOptions: { target: ts.ScriptTarget.ES2022 } });
  return (output.diagnostics ?? []).map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
}

const hostileText = fc.constantFrom('*/ export const pwned = 1; /*', '"; export const x = 1; "', "'\n}\nexport const y = 2;\n", '\u2028*/', '${1}', '`', '\\', '</script>');
const text = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 8 }), hostileText);

/** Schema-like garbage: JSON Schema keywords with values of any shape, nested. */
const schemaLike = fc.letrec((tie) => ({
  schema: fc.oneof(
    { depthSize: 'small' },
    fc.boolean(),
    fc.constant({}),
    fc.record(
      {
        type: fc.oneof(fc.constantFrom('string', 'number', 'integer', 'boolean', 'null', 'array', 'object', 'bogus'), fc.array(fc.constantFrom('string', 'null', 'object'), { maxLength: 3 }), text),
        description: text,
        properties: fc.dictionary(text, tie('schema'), { maxKeys: 4 }),
        required: fc.oneof(fc.array(text, { maxLength: 3 }), text),
        additionalProperties: fc.oneof(fc.boolean(), tie('schema')),
        items: fc.oneof(fc.boolean(), tie('schema')),
        prefixItems: fc.array(tie('schema'), { maxLength: 3 }),
        enum: fc.array(fc.oneof(text, fc.double(), fc.boolean(), fc.constant(null), fc.object({ maxDepth: 1 })), { maxLength: 4 }),
        const: fc.jsonValue({ maxDepth: 2 }),
        anyOf: fc.array(tie('schema'), { maxLength: 3 }),
        allOf: fc.array(tie('schema'), { maxLength: 3 }),
        $ref: fc.oneof(text, fc.constantFrom('#', '#/$defs/a', '#/$defs/*\/x', '#/definitions/../b')),
        $defs: fc.dictionary(text, tie('schema'), { maxKeys: 3 }),
        default: fc.jsonValue({ maxDepth: 2 }),
        minimum: fc.double(),
        pattern: text,
        format: text,
      },
      { requiredKeys: [] },
    ),
  ),
}));

const capabilityLike = fc.record(
  {
    key: text.filter((key) => key.length > 0),
    settings: fc.array(fc.record({ type: text, name: text }), { maxLength: 3 }),
    schema: schemaLike.schema.filter((schema): schema is Record<string, unknown> => typeof schema === 'object'),
    resultSchema: schemaLike.schema.filter((schema): schema is Record<string, unknown> => typeof schema === 'object'),
    description: text,
    errors: fc.dictionary(fc.stringMatching(/^[A-Z][A-Z0-9_]{1,10}$/), text, { maxKeys: 3 }),
  },
  { requiredKeys: ['key', 'settings'] },
);

describe('whatever is advertised', () => {
  it('the output parses and declares nothing but exported type aliases', () => {
    fc.assert(
      fc.property(text, fc.array(capabilityLike, { maxLength: 4 }), (serviceName, capabilities) => {
        const source = contractModule({ serviceName, serviceVersion: '1', capabilities: capabilities as Capability[] });
        expect(syntaxErrors(source)).toEqual([]);
        const kinds = topLevelKinds(source);
        expect(kinds.every((kind) => kind === 'export type')).toBe(true);
        // One Params and one Result per operation, the contract, and one per $defs entry at most.
        expect(kinds.length).toBeGreaterThanOrEqual(2 * capabilities.length + 1);
      }),
      { numRuns: 150 },
    );
  });

  it('hostile names and descriptions stay names and comments', () => {
    const source = contractModule({
      serviceName: 'Evil*/ export const a = 1; /*',
      serviceVersion: '1*/ export const b = 2; /*',
      capabilities: [
        {
          key: 'op"; export const c = 3; //',
          settings: [{ type: 'string', name: "x'; export const d = 4; //" }],
          description: '*/ export const e = 5; /*',
          schema: {
            type: 'object',
            properties: { 'a"b': { type: 'string', description: '*/ export const f = 6; /*', enum: ['*/', '"\''] } },
            $defs: { '*/evil': { type: 'number' } },
          },
        },
      ],
    });
    expect(syntaxErrors(source)).toEqual([]);
    expect(topLevelKinds(source).every((kind) => kind === 'export type')).toBe(true);
    expect(source).not.toMatch(/^export const/m);
  });

  it('a self-referencing schema is a recursive type, not an endless one', () => {
    const type = typeOfSchema({ type: 'object', properties: { next: { $ref: '#' } } }, { rootName: 'Node', nameOfDef: identifierOf });
    expect(type).toBe('{\n  next?: Node;\n}');
    let deep: unknown = { type: 'string' };
    for (let i = 0; i < 1_000; i++) deep = { type: 'array', items: deep };
    expect(typeOfSchema(deep, { rootName: 'X', nameOfDef: identifierOf })).toMatch(/unknown/);
  });

  it('maps the JSON Schema shapes zod writes', () => {
    const options = { rootName: 'Root', nameOfDef: identifierOf };
    const cases: [unknown, string][] = [
      [{ type: ['string', 'null'] }, 'string | null'],
      [{ type: 'integer' }, 'number'],
      [{ enum: ['a', 1, true, null] }, '"a" | 1 | true | null'],
      [{ const: 'x' }, '"x"'],
      [{ anyOf: [{ type: 'string' }, { type: 'number' }] }, 'string | number'],
      [{ type: 'array', items: { anyOf: [{ type: 'string' }, { type: 'number' }] } }, '(string | number)[]'],
      [{ type: 'array', prefixItems: [{ type: 'string' }], items: false }, '[string]'],
      [{ type: 'object', additionalProperties: { type: 'number' } }, '{\n  [key: string]: number;\n}'],
      [{ type: 'object' }, 'Record<string, unknown>'],
      [{ type: 'object', additionalProperties: false }, 'Record<string, never>'],
      [{}, 'unknown'],
      [false, 'never'],
      [{ $ref: 'http://elsewhere/schema.json' }, 'unknown'],
    ];
    for (const [schema, expected] of cases) expect(typeOfSchema(schema, options), JSON.stringify(schema)).toBe(expected);
  });
});
