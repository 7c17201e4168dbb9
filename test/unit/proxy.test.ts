// The proxy's pure pieces: the upstream URL (path below the prefix, query, no dot segments), the "cost"
// a JSON object answer gains without its other bytes changing, what "the same request" is for an
// Idempotency-Key, and which answers are kept for replays.
import { describe, expect, it } from 'vitest';
import { NotFoundError } from '#shared/errors.ts';
import type { ApiEvent } from '#shared/http/api.ts';
import { MAX_STORED_BODY_BYTES, storedAnswer } from '#shared/idempotency/middleware.ts';
import type { Micros } from '#shared/money.ts';
import { upstreamUrl } from '#shared/proxy/forward.ts';
import { proxiedRequestFingerprint, withCost } from '#shared/proxy/handler.ts';

const event = (rawPath: string, rawQueryString = '') => ({ rawPath, rawQueryString }) as ApiEvent;

describe('upstreamUrl', () => {
  it.each([
    ['/v1/sample/translate', '', 'https://up.example/v2/translate'],
    ['/v1/sample/translate', 'a=1&b=%20', 'https://up.example/v2/translate?a=1&b=%20'],
    ['/v1/sample/deep/er', '', 'https://up.example/v2/deep/er'],
  ])('%s?%s → %s', (path, query, url) => {
    expect(upstreamUrl('https://up.example/v2', '/v1/sample', event(path, query))).toBe(url);
  });

  it.each(['/v1/sample/../admin', '/v1/sample/%2e%2E/admin', '/v1/sample/./x'])(
    'refuses %s: a dot segment could leave the base path',
    (path) => {
      expect(() => upstreamUrl('https://up.example/v2', '/v1/sample', event(path))).toThrow(NotFoundError);
    },
  );
});

describe('withCost', () => {
  const json = 'application/json; charset=utf-8';
  const text = (body: string, type = json) => withCost(Buffer.from(body), type, 5000 as Micros).toString();

  it.each([
    ['{"a": 1}', '{"a": 1,"cost":0.005}'],
    ['  {}  ', '  {"cost":0.005}  '],
    ['{"big": 12345678901234567890, "f": 1.50}', '{"big": 12345678901234567890, "f": 1.50,"cost":0.005}'],
    ['{"cost": "theirs"}', '{"cost": "theirs"}'],
    ['[1, 2]', '[1, 2]'],
    ['"text"', '"text"'],
    ['{not json', '{not json'],
  ])('%s → %s', (body, expected) => {
    expect(text(body)).toBe(expected);
  });

  it('leaves a body of another type alone, even one that looks like JSON', () => {
    expect(text('{"a": 1}', 'text/plain')).toBe('{"a": 1}');
  });
});

describe('proxiedRequestFingerprint', () => {
  const request = (body: Buffer, change: Partial<{ method: string; path: string; query: string }> = {}) =>
    proxiedRequestFingerprint({
      rawPath: change.path ?? '/v1/sample/translate',
      rawQueryString: change.query ?? 'a=1',
      body: body.toString('base64'),
      isBase64Encoded: true,
      requestContext: { http: { method: change.method ?? 'POST' } },
    } as ApiEvent);
  const body = Buffer.from([0xff, 0x00, 0x41]);

  it('is the same for the same bytes, sent as text or as base64', () => {
    const text = Buffer.from('{"text":"hi"}');
    const asText = proxiedRequestFingerprint({
      rawPath: '/v1/sample/translate',
      rawQueryString: 'a=1',
      body: text.toString('utf8'),
      isBase64Encoded: false,
      requestContext: { http: { method: 'POST' } },
    } as ApiEvent);
    expect(request(text)).toBe(asText);
  });

  it.each([
    ['another byte that is not UTF-8 either', request(Buffer.from([0xfe, 0x00, 0x41]))],
    ['another method', request(body, { method: 'PUT' })],
    ['another path', request(body, { path: '/v1/sample/complete' })],
    ['another query', request(body, { query: 'a=2' })],
  ])('differs for %s', (_what, other) => {
    expect(other).not.toBe(request(body));
  });
});

describe('storedAnswer', () => {
  const answer = (bytes: number) => ({
    statusCode: 200,
    headers: { 'content-type': 'text/plain', 'x-cost': '0.005', 'x-request-id': 'req_1' },
    body: 'x'.repeat(bytes),
  });

  it('keeps an answer up to the bound as it is', () => {
    expect(storedAnswer(answer(MAX_STORED_BODY_BYTES))).toEqual(answer(MAX_STORED_BODY_BYTES));
  });

  it('keeps a larger one as a 409 naming its status, with its request id and cost', () => {
    const stored = storedAnswer(answer(MAX_STORED_BODY_BYTES + 1));
    expect(stored.statusCode).toBe(409);
    expect(stored.headers).toEqual({
      'content-type': 'application/json',
      'x-cost': '0.005',
      'x-request-id': 'req_1',
    });
    expect(JSON.parse(stored.body)).toMatchObject({
      code: 'idempotency_answer_too_large',
      original_status: 200,
    });
  });
});
