// GET /v1/prices: the public price list, straight from the price catalog. No token: prices are public, and
// the function reads nothing but the catalog, so it bundles neither token auth nor a DynamoDB client.
import middy from '@middy/core';
import { type ApiContext, type ApiEvent, type ApiResult, json, type RouteHandler } from '#shared/http/api.ts';
import { apiRequest } from '#shared/http/request.ts';
import { priceList } from '#shared/metering/catalog.ts';
import { priceListView } from '#shared/metering/prices.ts';

export const handler = middy<ApiEvent, ApiResult, Error, ApiContext>()
  .use(apiRequest())
  .handler(async () =>
    // The contract: every JSON response is `no-store`. Prices change only with a deploy (or PRICE_CATALOG),
    // and a client that cached them past a price change would show the wrong cost.
    json(200, priceListView(priceList()), {
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    }),
  ) as unknown as RouteHandler;
