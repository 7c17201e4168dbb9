// npm run openapi: regenerates docs/openapi.json, docs/api.md and client/openapi.ts from the route table and
// the operations' zod schemas. Run it after adding or changing a route or a field, and commit the result.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generatedFiles } from '#infra/openapi/files.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
for (const [path, content] of Object.entries(await generatedFiles())) {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), content);
  console.log(`wrote ${path}`);
}
