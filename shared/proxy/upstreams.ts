// Where each named upstream of the proxy routes lives and the secret its requests are signed with: deployment
// settings, not code. PROXY_UPSTREAMS is JSON `{"<name>": {"url", "secret_arn"}}` in the cloud (the stack
// builds it from CDK context `proxyUpstreams` and one generated secret per upstream) or `{"<name>": {"url",
// "secret"}}` locally and in tests.
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as z from 'zod/mini';
import { awsCalls, awsClientConfig } from '#infra/definitions/timeouts.ts';
import { MissingConfigurationError, optional } from '../config.ts';

/** A rotated secret is picked up within this without a deploy. */
const SECRET_CACHE_MS = 5 * 60_000;
/** Shorter secrets would make the signature only as strong as the secret. */
export const MIN_SECRET_LENGTH = 32;

const upstreamSchema = z.object({
  url: z.url({ protocol: /^https?$/ }),
  secret: z.optional(z.string().check(z.minLength(MIN_SECRET_LENGTH))),
  secret_arn: z.optional(z.string()),
});
const upstreamsSchema = z.record(z.string(), upstreamSchema);

export type Upstream = { name: string; baseUrl: string; secret: () => Promise<string> };

let parsed: { text: string; upstreams: Map<string, Upstream> } | undefined;
let secretsManager: SecretsManagerClient | undefined;

function secretReader(name: string, spec: z.output<typeof upstreamSchema>): () => Promise<string> {
  if (spec.secret) {
    const secret = spec.secret;
    return () => Promise.resolve(secret);
  }
  const arn = spec.secret_arn;
  if (!arn)
    throw new MissingConfigurationError(`PROXY_UPSTREAMS: upstream ${name} has no secret or secret_arn`);
  let cached: { secret: string; readAt: number } | undefined;
  return async () => {
    if (!cached || Date.now() - cached.readAt > SECRET_CACHE_MS) {
      secretsManager ??= new SecretsManagerClient(awsClientConfig(awsCalls.secretsManager));
      const result = await secretsManager.send(new GetSecretValueCommand({ SecretId: arn }));
      const secret = result.SecretString ?? '';
      if (secret.length < MIN_SECRET_LENGTH) {
        throw new MissingConfigurationError(
          `the secret of upstream ${name} is shorter than ${MIN_SECRET_LENGTH}`,
        );
      }
      cached = { secret, readAt: Date.now() };
    }
    return cached.secret;
  };
}

/** The upstream a proxy route names; re-read when PROXY_UPSTREAMS changes (tests and the local stack set it). */
export function upstreamNamed(name: string): Upstream {
  const text = optional('PROXY_UPSTREAMS') ?? '{}';
  if (parsed?.text !== text) {
    const result = upstreamsSchema.safeParse(JSON.parse(text));
    if (!result.success)
      throw new MissingConfigurationError(`PROXY_UPSTREAMS is malformed: ${result.error.message}`);
    const upstreams = new Map<string, Upstream>();
    for (const [key, spec] of Object.entries(result.data)) {
      upstreams.set(key, {
        name: key,
        baseUrl: spec.url.replace(/\/+$/, ''),
        secret: secretReader(key, spec),
      });
    }
    parsed = { text, upstreams };
  }
  const upstream = parsed.upstreams.get(name);
  if (!upstream) throw new MissingConfigurationError(`PROXY_UPSTREAMS names no upstream "${name}"`);
  return upstream;
}
