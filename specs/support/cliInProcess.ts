/** The `switchboard` CLI run in-process (runtime/cli.ts main), with its output captured. */
import { main } from '../../runtime/cli.js';

export async function cliInProcess(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(['node', 'switchboard', ...args], {
    stdout: { write: (chunk: string) => ((stdout += chunk), true) },
    stderr: { write: (chunk: string) => ((stderr += chunk), true) },
  });
  return { code, stdout, stderr };
}
