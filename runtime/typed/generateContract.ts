/**
 * A TypeScript module with the contract of a service known from the network (its advertised
 * capabilities): what `switchboard types <Service>` prints. For each operation, a Params type
 * (from the advertised JSON Schema, else from the seed's settings), a Result type (from the
 * advertised `resultSchema`, else `unknown`) and its own error codes; then the contract itself,
 * for `client.service<Greeter>('Greeter')`.
 *
 * The output depends only on what was advertised (no dates, no endpoints), so it can be committed
 * and generated again to see what changed.
 */
import type { Capability, Setting } from '../../machines/capabilities.js';
import { definitionsOf, docComment, propertyName, typeOfSchema } from './jsonSchemaToTs.js';

export interface ContractSource {
  readonly serviceName: string;
  readonly serviceVersion: string;
  /** One per operation (the first advertisement of each name, when instances differ). */
  readonly capabilities: readonly Capability[];
}

export interface ContractOptions {
  /** The contract's type name. @default the service name as an identifier */
  readonly typeName?: string;
  /** The command that made the file, quoted in its header. */
  readonly command?: string;
}

/** `image-service.v2` -> `ImageServiceV2`: letters and digits, first one upper case, never empty. */
export function identifierOf(text: string): string {
  const words = text.split(/[^A-Za-z0-9]+/).filter((word) => word.length > 0);
  const joined = words.map((word) => word[0]!.toUpperCase() + word.slice(1)).join('');
  if (joined.length === 0) return 'Unnamed';
  return /^[0-9]/.test(joined) ? `_${joined}` : joined.slice(0, 128);
}

/** Hands out identifiers, each once (a suffix when two names collide). */
class Names {
  private readonly taken = new Set<string>();
  unique(wanted: string): string {
    let name = wanted;
    for (let n = 2; this.taken.has(name); n++) name = `${wanted}${n}`;
    this.taken.add(name);
    return name;
  }
}

const SETTING_TYPES: Readonly<Record<string, string>> = { string: 'string', int: 'number', float: 'number', bool: 'boolean' };

/** Params from the seed's settings alone: names and types, each taken as required. */
function settingsType(settings: readonly Setting[]): string {
  if (settings.length === 0) return 'Record<string, never>';
  return `{\n${settings.map((setting) => `  ${propertyName(setting.name)}: ${SETTING_TYPES[setting.type] ?? 'unknown'};`).join('\n')}\n}`;
}

/** `export type Name = <type of schema>;` plus one alias per `$defs` entry, names unique. */
function schemaDeclarations(schema: Record<string, unknown>, name: string, doc: string, names: Names): string[] {
  const defNames = new Map<string, string>();
  const nameOfDef = (key: string) => {
    let defName = defNames.get(key);
    if (defName === undefined) {
      defName = names.unique(`${name}${identifierOf(key)}`);
      defNames.set(key, defName);
    }
    return defName;
  };
  const options = { rootName: name, nameOfDef };
  const declarations = [`${doc}export type ${name} = ${typeOfSchema(schema, options)};`];
  for (const [key, definition] of definitionsOf(schema)) declarations.push(`export type ${nameOfDef(key)} = ${typeOfSchema(definition, options)};`);
  return declarations;
}

export function contractModule(source: ContractSource, options: ContractOptions = {}): string {
  const names = new Names();
  const contractName = names.unique(identifierOf(options.typeName ?? source.serviceName));
  const sections: string[] = [];
  const members: string[] = [];
  for (const capability of source.capabilities) {
    const prefix = `${contractName}${identifierOf(capability.key)}`;
    const paramsName = names.unique(`${prefix}Params`);
    const resultName = names.unique(`${prefix}Result`);
    const about = capability.description === undefined ? [] : [capability.description];
    const declarations =
      capability.schema === undefined
        ? [`${docComment([`Parameters of ${capability.key}, from the advertised settings (no JSON Schema was advertised).`], '')}export type ${paramsName} = ${settingsType(capability.settings)};`]
        : schemaDeclarations(capability.schema, paramsName, docComment([`Parameters of ${capability.key}.`], ''), names);
    declarations.push(
      ...(capability.resultSchema === undefined
        ? [`${docComment([`Result of ${capability.key}: the provider advertises no result schema.`], '')}export type ${resultName} = unknown;`]
        : schemaDeclarations(capability.resultSchema, resultName, docComment([`Result of ${capability.key}.`], ''), names)),
    );
    const codes = Object.entries(capability.errors ?? {});
    const errors = codes.length === 0 ? 'never' : codes.map(([code]) => JSON.stringify(code)).join(' | ');
    const codeDocs = codes.map(([code, meaning]) => `@throws ${code} ${meaning}`);
    sections.push(declarations.join('\n'));
    members.push(
      `${docComment([...about, ...codeDocs], '  ')}  ${propertyName(capability.key)}: { params: ${paramsName}; result: ${resultName}; errors: ${errors} };`,
    );
  }
  const header = docComment(
    [
      `${source.serviceName} ${source.serviceVersion}: its operations as advertised on the network, typed for the client:`,
      `  const ${contractName[0]!.toLowerCase()}${contractName.slice(1)} = client.service<${contractName}>(${JSON.stringify(source.serviceName)});`,
      `Generated by \`${options.command ?? `switchboard types ${source.serviceName}`}\`. Generate it again when the service changes.`,
    ],
    '',
  );
  const contract = `${docComment([`The contract of ${source.serviceName} ${source.serviceVersion}.`], '')}export type ${contractName} = {\n${members.join('\n')}\n};`;
  return `${header}\n${[...sections, contract].join('\n\n')}\n`;
}
