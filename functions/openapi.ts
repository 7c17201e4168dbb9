// GET /openapi.json: the API's OpenAPI 3.1 document. No token: the contract is public. The document is
// generated into docs/openapi.json (npm run openapi) and bundled, so this function reads and imports nothing
// else: no token auth, no DynamoDB client, no zod.
import middy from '@middy/core';
import { type ApiContext, type ApiEvent, type ApiResult, json, type RouteHandler } from '#shared/http/api.ts';
import { apiRequest } from '#shared/http/request.ts';
import document from '../docs/openapi.json' with { type: 'json' };

export const handler = middy<ApiEvent, ApiResult, Error, ApiContext>()
  .use(apiRequest())
  // `no-store` like every JSON answer (apiRequest stamps it): the document changes with each deploy.
  .handler(async () => json(200, document)) as unknown as RouteHandler;
