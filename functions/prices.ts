// GET /v1/prices: the public price list, straight from the price catalog. No token: prices are public, and
// the function reads nothing but the catalog, so it bundles neither token auth nor a DynamoDB client.
import middy from '@middy/core';
import { type ApiContext, type ApiEvent, type ApiResult, json, type RouteHandler } from '#shared/http/api.ts';
import { apiRequest } from '#shared/http/request.ts';
import { priceList } from '#shared/metering/catalog.ts';
import { priceListView } from '#shared/metering/prices.ts';

export const handler = middy<ApiEvent, ApiResult, Error, ApiContext>()
  .use(apiRequest())
  // `no-store` like every JSON answer (apiRequest stamps it): prices change only with a deploy or
  // PRICE_CATALOG, and a client that cached them past a price change would show the wrong cost.
  .handler(async () => json(200, priceListView(priceList()))) as unknown as RouteHandler;
