// Module-resolution hooks for test/cli/startup.test.ts: every URL that Node resolves (after tsx
// has done its part) is appended, one a line, to the file named in the registration data.
import { appendFileSync } from 'node:fs';

let file = '';

export function initialize(data) {
  file = data.file;
}

export async function resolve(specifier, context, nextResolve) {
  const result = await nextResolve(specifier, context);
  appendFileSync(file, `${result.url}\n`);
  return result;
}
