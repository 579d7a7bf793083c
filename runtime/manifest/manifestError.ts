/**
 * A manifest error names the file, the line and column, the path inside the manifest, what is
 * wrong, and how to fix it (MAN-2):
 *
 *     greeter.yaml:9:7: operations.greet.params.type: Unsupported type: strnig
 *       fix: use a JSON Schema type: object, array, string, number, integer, boolean or null
 */
export interface ManifestProblem {
  /** Dotted path inside the manifest (`operations.greet.params`), empty for the whole file. */
  readonly path: string;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly problem: string;
  readonly fix: string;
}

export class ManifestError extends Error {
  override readonly name = 'ManifestError';
  readonly code = 'MANIFEST_INVALID';

  constructor(
    readonly file: string,
    readonly problems: readonly ManifestProblem[],
  ) {
    super(problems.map((problem) => formatProblem(file, problem)).join('\n'));
  }
}

export function formatProblem(file: string, problem: ManifestProblem): string {
  const where = problem.line === undefined ? file : `${file}:${problem.line}:${problem.column ?? 1}`;
  return `${where}: ${problem.path === '' ? '' : `${problem.path}: `}${problem.problem}\n  fix: ${problem.fix}`;
}
