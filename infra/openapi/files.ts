// The files generated from the contract: the OpenAPI document, the human reference rendered from it, and the
// TypeScript types `openapi-fetch` clients are typed with. `npm run openapi` writes them; a test fails when
// the committed ones differ from what the code generates.
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript';
import { openApiDocument } from './document.ts';
import { renderReference } from './reference.ts';

/** Paths relative to the repository root. */
export const GENERATED = {
  document: 'docs/openapi.json',
  reference: 'docs/api.md',
  types: 'client/openapi.ts',
} as const;

export async function generatedFiles(): Promise<Record<string, string>> {
  const document = openApiDocument();
  const types = astToString(
    await openapiTS(document as unknown as Parameters<typeof openapiTS>[0], { silent: true }),
  );
  return {
    [GENERATED.document]: `${JSON.stringify(document, null, 2)}\n`,
    [GENERATED.reference]: renderReference(document),
    [GENERATED.types]: `${COMMENT_HEADER}${types}`,
  };
}
