// Token management for `/v1/tokens`: create (secret shown once), list (never the secret), revoke.

import * as z from 'zod/mini';
import { newTokenId } from '../accounts/service.ts';
import { nowIso } from '../clock.ts';
import { transactWrite } from '../dynamo/transact.ts';
import { ConflictError, NotFoundError } from '../errors.ts';
import { isoTime } from '../http/validation.ts';
import { forgetRevokedToken } from './authenticate.ts';
import {
  getAccountToken,
  listAccountTokens,
  prepareToken,
  revokeToken,
  type Scope,
  type TokenRecord,
} from './repository.ts';

export const MAX_ACTIVE_TOKENS = 100;

const scopes = z.array(z.enum(['api', 'billing']));

/** A token as listed: never the secret. */
export const tokenSchema = z.object({
  id: z.string(),
  name: z.string(),
  scopes,
  prefix: z.string().check(z.describe('The first characters of the secret, to recognise it')),
  created_at: isoTime,
  last_used_at: z.nullable(isoTime),
});

/** A new token: the secret is shown here once (null when an Idempotency-Key replays the answer). */
export const createdTokenSchema = z.object({
  id: z.string(),
  token: z.nullable(z.string()),
  name: z.string(),
  scopes,
  created_at: isoTime,
});

function publicView(record: TokenRecord): z.output<typeof tokenSchema> {
  return {
    id: record.token_id,
    name: record.name,
    scopes: record.scopes,
    prefix: record.prefix,
    created_at: record.created_at,
    last_used_at: record.last_used_at ?? null,
  };
}

export async function createToken(
  accountId: string,
  name: string,
  scopes: Scope[],
): Promise<z.output<typeof createdTokenSchema> & { token: string }> {
  const active = (await listAccountTokens(accountId)).filter((t) => !t.revoked_at);
  if (active.length >= MAX_ACTIVE_TOKENS) {
    throw new ConflictError(
      'token_limit_reached',
      `An account can have at most ${MAX_ACTIVE_TOKENS} active tokens`,
    );
  }
  const prepared = prepareToken({
    accountId,
    tokenId: newTokenId(),
    name,
    scopes: [...new Set(scopes)],
    at: nowIso(),
  });
  const outcome = await transactWrite(prepared.items);
  if (!outcome.committed) throw new Error('token id collision');
  const { id, name: tokenName, scopes: tokenScopes, created_at } = publicView(prepared.record);
  return { id, token: prepared.token, name: tokenName, scopes: tokenScopes, created_at };
}

export async function listTokens(accountId: string) {
  const records = await listAccountTokens(accountId);
  return records.filter((t) => !t.revoked_at).map(publicView);
}

/** Revokes a token of this account; another account's token id is "not found", never "forbidden". */
export async function revokeAccountToken(accountId: string, tokenId: string): Promise<void> {
  const record = await getAccountToken(accountId, tokenId);
  if (!record || record.revoked_at) throw new NotFoundError('Token not found');
  await revokeToken(record, nowIso());
  forgetRevokedToken(tokenId);
}
