// The metered proxy routes (infra/definitions/routes.ts entries with `proxy`): pay, forward signed, charge 2xx.
import { routes } from '#infra/definitions/routes.ts';
import { proxyHandler } from '#shared/proxy/handler.ts';

export const handler = proxyHandler(routes);
