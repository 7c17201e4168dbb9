// The example's entry in the API's operations (infra/definitions/operations.ts, keyed 'POST /v1/summarize'):
// with it, the OpenAPI document, docs/api.md and the typed client describe the route.
import type { Operation } from '#infra/definitions/operations.ts';
import { paidAnswerSchema } from '#shared/metering/metered.ts';
import { summarizeBody, summarizeResults } from './handler.ts';

export const summarizeOperation: Operation = {
  tag: 'Paid features',
  summary: 'The first sentence of a text',
  scope: 'api',
  body: summarizeBody,
  idempotent: true,
  paid: true,
  answers: {
    200: { description: 'The summary and the USD charged', json: paidAnswerSchema(summarizeResults) },
  },
};
