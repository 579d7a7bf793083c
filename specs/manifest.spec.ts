import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { capabilitiesOf } from '../runtime/service.js';
import { loadManifest } from '../runtime/manifest/loadManifest.js';
import { ManifestError } from '../runtime/manifest/manifestError.js';
import { parseManifestText } from '../runtime/manifest/parseManifest.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

const GREETER = `# A service described as data
name: Greeter
version: 1.0.0
description: Says hello.
module: ./greeter.handlers.mjs
settings:
  greeting:
    description: The word used to greet.
    schema: { type: string, minLength: 1 }
    default: Hello
operations:
  greet:
    description: Greets someone.
    params:
      type: object
      properties:
        name: { type: string, minLength: 1 }
        times: { type: integer, minimum: 1, default: 1 }
      required: [name]
events:
  greeted:
    description: Someone was greeted.
    schema: { type: object, properties: { name: { type: string } }, required: [name] }
`;

const HANDLERS = `export default ({ settings }) => ({
  greet: async ({ name, times }) => ({ greeting: Array(times).fill(\`\${settings.greeting}, \${name}\`).join(' ') }),
});
`;

async function project(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'switchboard-manifest-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

/** The problems of a manifest that must fail, as "line:column path" and the texts. */
function problemsOf(text: string): Array<{ at: string; problem: string; fix: string }> {
  try {
    parseManifestText(text, 'svc.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(ManifestError);
    return (error as ManifestError).problems.map((p) => ({ at: `${p.line}:${p.column} ${p.path}`, problem: p.problem, fix: p.fix }));
  }
  throw new Error('the manifest was accepted');
}

describe('manifests (MAN-1..MAN-4)', () => {
  it('MAN-1, MAN-3: a manifest and its module make a service that validates, runs and advertises like defineService', async () => {
    const dir = await project({ 'greeter.yaml': GREETER, 'greeter.handlers.mjs': HANDLERS });
    const loaded = await loadManifest(path.join(dir, 'greeter.yaml'), { settings: { greeting: 'Hi' } });
    expect(loaded.service).toMatchObject({ name: 'Greeter', version: '1.0.0', description: 'Says hello.' });
    expect(loaded.settings).toEqual({ greeting: 'Hi' });
    const greet = loaded.service.operations.greet!;
    expect(greet.params.safeParse({ name: '' }).success).toBe(false);
    const params = greet.params.parse({ name: 'Ada' });
    expect(params).toEqual({ name: 'Ada', times: 1 });
    expect(await greet.run(params, {} as never)).toEqual({ greeting: 'Hi, Ada' });
    const [capability] = capabilitiesOf(loaded.service);
    expect(capability).toMatchObject({ key: 'greet', settings: [{ type: 'string', name: 'name' }, { type: 'int', name: 'times' }] });
    expect(loaded.events.greeted?.data.safeParse({ name: 'Ada' }).success).toBe(true);
    expect(loaded.events.greeted?.data.safeParse({}).success).toBe(false);
    expect(loaded.events.greeted?.jsonSchema).toEqual({ type: 'object', properties: { name: { type: 'string' } }, required: ['name'] });
  });

  it('MAN-1: reads JSON too, with the defaults (no settings, params any object)', async () => {
    const manifest = { name: 'Echo', version: '2', module: './echo.mjs', operations: { echo: {} } };
    const dir = await project({ 'echo.json': JSON.stringify(manifest, null, 2), 'echo.mjs': 'export const operations = { echo: async (p) => p };' });
    const loaded = await loadManifest(path.join(dir, 'echo.json'));
    expect(await loaded.service.operations.echo!.run({ a: 1 }, {} as never)).toEqual({ a: 1 });
    expect(loaded.service.operations.echo!.params.safeParse('text').success).toBe(false);
  });

  it('MAN-2: names the line, column, path and fix of each problem, all at once', () => {
    const text = `name: Greeter
version: 1.0.0
modul: ./x.mjs
operations:
  greet:
    descripton: typo
    params: { type: object, properties: { n: { type: strnig } } }
`;
    expect(problemsOf(text)).toEqual([
      { at: '1:1 module', problem: '"module" is required', fix: 'add "module:" with a string' },
      { at: '3:1 modul', problem: 'unknown field "modul"', fix: expect.stringContaining('the fields here are manifestVersion, name, version, description, module') },
      { at: '6:5 operations.greet.descripton', problem: 'unknown field "descripton"', fix: expect.stringContaining('description, params, result') },
    ]);
    const schema = problemsOf(text.replace('modul:', 'module:').replace('descripton', 'description'));
    expect(schema).toEqual([
      {
        at: '7:13 operations.greet.params',
        problem: 'Unsupported type: strnig',
        fix: 'use a JSON Schema type: object, array, string, number, integer, boolean or null',
      },
    ]);
  });

  it('MAN-2: YAML syntax, duplicate keys, wrong types, bad names, no operations, parameters that are not an object, defaults outside their schema', () => {
    expect(problemsOf('name: [unclosed\n')[0]).toMatchObject({ at: expect.stringMatching(/^\d+:\d+ $/), fix: 'correct the YAML (or JSON) syntax at this place' });
    expect(problemsOf('name: A\nname: B\n')[0]).toMatchObject({ at: '2:1 ', fix: 'keep one of the two entries with this name' });
    expect(problemsOf('- a list\n')).toEqual([{ at: '1:1 ', problem: 'a manifest is a mapping of fields', fix: expect.any(String) }]);
    const base = 'name: A\nversion: "1"\nmodule: ./m.mjs\n';
    expect(problemsOf('name: A\nversion: 1.5\nmodule: m\noperations: { op: {} }\n')[0]).toMatchObject({ at: '2:10 version', fix: 'quote it: "1.5" (YAML reads an unquoted 1.0 as the number 1)' });
    expect(problemsOf(`${base}operations: {}\n`)).toEqual([{ at: '4:13 operations', problem: 'at least one operation is required', fix: 'declare at least one operation under "operations:"' }]);
    expect(problemsOf(`${base}operations:\n  op:\n    params: nope\n`)[0]).toMatchObject({ at: '6:13 operations.op.params', fix: expect.stringContaining('JSON Schema object') });
    expect(problemsOf(`${base}operations:\n  9bad: {}\n`)[0]).toMatchObject({ at: expect.stringContaining('operations'), fix: expect.stringContaining('names start with a letter') });
    expect(problemsOf(`${base}operations:\n  op:\n    params: { type: string }\n`)).toEqual([
      { at: '6:21 operations.op.params.type', problem: 'task parameters are a JSON object, not "string"', fix: 'use "type: object" and list the parameters under "properties:"' },
    ]);
    expect(problemsOf(`${base}settings:\n  size:\n    schema: { type: integer }\n    default: big\noperations:\n  op: {}\n`)).toEqual([
      { at: '7:14 settings.size.default', problem: expect.stringContaining("the default does not satisfy the setting's schema"), fix: "change the default, or the setting's schema" },
    ]);
  });

  it('MAN-4: the module must implement exactly the declared operations', async () => {
    const dir = await project({
      'svc.yaml': 'name: A\nversion: "1"\nmodule: ./m.mjs\noperations:\n  one: {}\n  two: {}\n',
      'm.mjs': 'export default { one: async () => 1, three: async () => 3 };',
    });
    const error = await loadManifest(path.join(dir, 'svc.yaml')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ManifestError);
    expect((error as ManifestError).problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.problem}`)).toEqual([
      '5:3 operations: the module has a handler "three" that the manifest does not declare',
      '6:3 operations.two: the module has no handler for "two"',
    ]);
    expect((error as ManifestError).message).toContain(`${path.join(dir, 'svc.yaml')}:6:3: operations.two: the module has no handler for "two"\n  fix: add "two: async (params, ctx) => result"`);
  });

  it('MAN-2: a missing module, a module that fails to load, settings not declared, missing or of the wrong type', async () => {
    const manifest = 'name: A\nversion: "1"\nmodule: ./m.mjs\nsettings:\n  size: { schema: { type: integer }, required: true }\noperations:\n  op: {}\n';
    const noModule = await project({ 'svc.yaml': manifest });
    await expect(loadManifest(path.join(noModule, 'svc.yaml'), { settings: { size: 1 } })).rejects.toMatchObject({ problems: [{ path: 'module', line: 3, problem: expect.stringContaining('no module at') }] });
    const broken = await project({ 'svc.yaml': manifest, 'm.mjs': 'export default {;' });
    await expect(loadManifest(path.join(broken, 'svc.yaml'), { settings: { size: 1 } })).rejects.toMatchObject({ problems: [{ path: 'module', problem: expect.stringContaining('the module failed to load') }] });
    const ok = await project({ 'svc.yaml': manifest, 'm.mjs': 'export default { op: async () => 1 };' });
    const file = path.join(ok, 'svc.yaml');
    await expect(loadManifest(file)).rejects.toMatchObject({ problems: [{ path: 'settings.size', problem: 'the setting "size" is required and has no default', fix: 'pass --setting size=<value>, or give it a "default:"' }] });
    await expect(loadManifest(file, { settings: { size: 'x' } })).rejects.toMatchObject({ problems: [{ path: 'settings.size.schema', line: 5 }] });
    await expect(loadManifest(file, { settings: { size: 2, colour: 'red' } })).rejects.toMatchObject({ problems: [{ problem: 'the setting "colour" given is not declared' }] });
    await expect(loadManifest(path.join(ok, 'none.yaml'))).rejects.toMatchObject({ problems: [{ problem: 'no such file' }] });
    expect((await loadManifest(file, { settings: { size: 2 } })).settings).toEqual({ size: 2 });
  });
});
