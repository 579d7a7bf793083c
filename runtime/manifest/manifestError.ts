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
    problems: readonly ManifestProblem[],
  ) {
    // In file order, so a person fixes them top to bottom (problems without a line last).
    const sorted = [...problems].sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? 0) - (b.column ?? 0));
    super(sorted.map((problem) => formatProblem(file, problem)).join('\n'));
    this.problems = sorted;
  }

  readonly problems: readonly ManifestProblem[];
}

export function formatProblem(file: string, problem: ManifestProblem): string {
  const where = problem.line === undefined ? file : `${file}:${problem.line}:${problem.column ?? 1}`;
  return `${where}: ${problem.path === '' ? '' : `${problem.path}: `}${problem.problem}\n  fix: ${problem.fix}`;
}
