// The proxy's pure pieces: the upstream URL (path below the prefix, query, no dot segments) and the "cost"
// a JSON object answer gains without its other bytes changing.
import { describe, expect, it } from 'vitest';
import { NotFoundError } from '#shared/errors.ts';
import type { ApiEvent } from '#shared/http/api.ts';
import type { Micros } from '#shared/money.ts';
import { upstreamUrl } from '#shared/proxy/forward.ts';
import { withCost } from '#shared/proxy/handler.ts';

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
