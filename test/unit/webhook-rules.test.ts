// The pure rules of customer webhooks: which addresses a webhook may reach in the cloud, which URLs are
// accepted before any lookup, and a retry schedule that covers at least 24 hours.
import { describe, expect, it } from 'vitest';
import { parseWebhookUrl, refusedRange } from '#shared/webhook-endpoints/address-policy.ts';
import { subscribes } from '#shared/webhook-endpoints/event-types.ts';
import { failedLongEnough } from '#shared/webhook-endpoints/health.ts';
import { MAX_ATTEMPTS, RETRY_DELAYS_SECONDS, retryDelayMs } from '#shared/webhook-endpoints/schedule.ts';

describe('refusedRange', () => {
  it.each([
    ['10.0.0.1', 'private'],
    ['172.16.5.4', 'private'],
    ['192.168.1.1', 'private'],
    ['127.0.0.1', 'loopback'],
    ['169.254.169.254', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['0.0.0.0', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['224.0.0.1', 'multicast'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'linkLocal'],
    ['fd00:ec2::254', 'uniqueLocal'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:169.254.169.254', 'linkLocal'],
    ['64:ff9b::a00:1', 'rfc6052'],
    ['2002:a00:1::', '6to4'],
  ])('refuses %s (%s)', (address, range) => {
    expect(refusedRange(address)).toBe(range);
  });

  it.each(['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8'])('allows %s', (address) => {
    expect(refusedRange(address)).toBeUndefined();
  });
});

describe('parseWebhookUrl', () => {
  it.each([
    ['http://example.com/hook', 'public', /https/],
    ['ftp://example.com/hook', 'local', /http or https/],
    ['https://user:pw@example.com/hook', 'public', /credentials/],
    ['https://example.com/hook#part', 'public', /fragment/],
    ['example.com/hook', 'public', /not a URL/],
  ] as const)('refuses %s under the %s rules', (url, policy, reason) => {
    expect(() => parseWebhookUrl(url, policy)).toThrow(reason);
  });

  it('accepts http locally and https everywhere', () => {
    expect(parseWebhookUrl('http://127.0.0.1:8080/hook', 'local').port).toBe('8080');
    expect(parseWebhookUrl('https://hooks.example.com/x', 'public').hostname).toBe('hooks.example.com');
  });
});

describe('retry schedule', () => {
  it('retries for at least 24 hours, with growing waits', () => {
    const totalSeconds = RETRY_DELAYS_SECONDS.reduce((sum, seconds) => sum + seconds, 0);
    expect(totalSeconds).toBeGreaterThanOrEqual(24 * 3600);
    for (let i = 1; i < RETRY_DELAYS_SECONDS.length; i++) {
      expect(RETRY_DELAYS_SECONDS[i]).toBeGreaterThanOrEqual(RETRY_DELAYS_SECONDS[i - 1]!);
    }
  });

  it('has no wait after the last attempt', () => {
    expect(retryDelayMs(1)).toBe(5_000);
    expect(retryDelayMs(MAX_ATTEMPTS - 1)).toBe(10 * 3600 * 1000);
    expect(retryDelayMs(MAX_ATTEMPTS)).toBeUndefined();
  });
});

describe('subscriptions and health', () => {
  it.each([
    [['*'], 'credits.granted', true],
    [['*'], 'credits.corrected', false],
    [['*'], 'credits.webhook_endpoint.disabled', false],
    [['credits.balance.low'], 'credits.balance.low', true],
    [['credits.balance.low'], 'credits.granted', false],
  ])('%j receives %s: %s', (events, type, expected) => {
    expect(subscribes(events, type)).toBe(expected);
  });

  it('disables after exactly 3 days of failures', () => {
    const since = '2026-12-01T00:00:00.000Z';
    expect(failedLongEnough(since, Date.parse('2026-12-03T23:59:59.999Z'))).toBe(false);
    expect(failedLongEnough(since, Date.parse('2026-12-04T00:00:00.000Z'))).toBe(true);
  });
});
