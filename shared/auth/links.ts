// Email sign-in (and sign-up) links: a 256-bit random secret goes into the emailed URL
// (`/auth/callback?token=`), only its SHA-256 is stored, valid LINK_LIFETIME_MS and used once by one
// conditional write. A refused link says why (expired, used, unknown), for the page the callback shows.
import { randomBytes } from 'node:crypto';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { nowIso, nowMs } from '../clock.ts';
import { config } from '../config.ts';
import { ddb } from '../dynamo/client.ts';
import { keys } from '../dynamo/keys.ts';
import { sha256Hex } from '../ids.ts';
import { normalEmail } from './memberships.ts';

export const LINK_LIFETIME_MS = 15 * 60_000;
/** A used or expired link is kept this long past its validity, so a second click says "used", not "unknown". */
const LINK_KEPT_MS = 24 * 3_600_000;

export type LinkPurpose = 'signin' | 'signup';

export type SignInLink = {
  purpose: LinkPurpose;
  email: string;
  /** Sign-up only: the account's name. */
  name?: string;
  created_at: string;
  valid_until_ms: number;
};

export type LinkRefusal = 'expired' | 'used' | 'invalid';
export type LinkOutcome = { ok: true; link: SignInLink } | { ok: false; reason: LinkRefusal };

const SECRET = /^[A-Za-z0-9_-]{43}$/;

/** Stores a new link for `email` and answers its secret (for the URL; never stored). */
export async function createLink(
  email: string,
  purpose: LinkPurpose,
  extra: { name?: string } = {},
): Promise<string> {
  const secret = randomBytes(32).toString('base64url');
  const validUntil = nowMs() + LINK_LIFETIME_MS;
  await ddb().send(
    new PutCommand({
      TableName: config.tableName,
      Item: {
        ...keys.signInLink(sha256Hex(secret)),
        kind: 'signin_link',
        purpose,
        email: normalEmail(email),
        ...(extra.name === undefined ? {} : { name: extra.name }),
        created_at: nowIso(),
        valid_until_ms: validUntil,
        expires_at: Math.ceil((validUntil + LINK_KEPT_MS) / 1000),
      },
      ConditionExpression: 'attribute_not_exists(PK)',
    }),
  );
  return secret;
}

/** Uses the link once: only one caller of many concurrent ones gets `ok`. */
export async function consumeLink(secret: string | undefined): Promise<LinkOutcome> {
  if (!secret || !SECRET.test(secret)) return { ok: false, reason: 'invalid' };
  const at = nowMs();
  try {
    const result = await ddb().send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: keys.signInLink(sha256Hex(secret)),
        UpdateExpression: 'SET used_at = :now',
        ConditionExpression:
          'attribute_exists(PK) AND attribute_not_exists(used_at) AND valid_until_ms > :at',
        ExpressionAttributeValues: { ':now': new Date(at).toISOString(), ':at': at },
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    const item = result.Attributes ?? {};
    return {
      ok: true,
      link: {
        purpose: item.purpose as LinkPurpose,
        email: String(item.email),
        ...(typeof item.name === 'string' ? { name: item.name } : {}),
        created_at: String(item.created_at),
        valid_until_ms: Number(item.valid_until_ms),
      },
    };
  } catch (error) {
    if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
    // The document client leaves the old item of a single write's refusal marshalled.
    const old = (error as { Item?: Record<string, AttributeValue> }).Item;
    if (!old) return { ok: false, reason: 'invalid' };
    return { ok: false, reason: unmarshall(old).used_at ? 'used' : 'expired' };
  }
}
