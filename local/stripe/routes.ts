// Stripe emulator: the API's route table, one line per endpoint the product uses (and a few neighbours
// a careful integration reaches for: lists, cancel, confirm, attach).
import type { EmulatorContext } from './context.ts';
import { resourceMissing } from './errors.ts';
import { missingParam, type ParamReader } from './form.ts';
import { paginate } from './lists.ts';
import { listCharges } from './resources/charges.ts';
import {
  createCheckoutSession,
  expireSession,
  extrasOf,
  listCheckoutSessions,
} from './resources/checkout-sessions.ts';
import { createCustomer, listCustomers, updateCustomer } from './resources/customers.ts';
import { decideDispute, listDisputes } from './resources/disputes.ts';
import {
  createInvoice,
  createInvoiceItem,
  finalizeInvoice,
  listInvoiceItems,
  listInvoices,
  markUncollectible,
  payInvoice,
  sendInvoice,
  voidInvoice,
} from './resources/invoices.ts';
import {
  requireCharge,
  requireCustomer,
  requireDispute,
  requireInvoice,
  requireInvoiceItem,
  requirePaymentIntent,
  requirePaymentMethod,
  requireRefund,
  requireSession,
} from './resources/lookup.ts';
import {
  cancelPaymentIntent,
  confirmPaymentIntent,
  createPaymentIntent,
  listPaymentIntents,
  updatePaymentIntent,
} from './resources/payment-intents.ts';
import { attachPaymentMethod, detachPaymentMethod, paymentMethodsOf } from './resources/payment-methods.ts';
import { createRefund, listRefunds } from './resources/refunds.ts';

export type ApiCall = { params: ParamReader; id: string; path: string };
type Handler = (ctx: EmulatorContext, call: ApiCall) => unknown;
export type Route = { method: 'GET' | 'POST'; pattern: RegExp; handler: Handler };

function route(method: Route['method'], template: string, handler: Handler): Route {
  return { method, pattern: new RegExp(`^${template.replace(':id', '([^/]+)')}$`), handler };
}

/** A retrieve takes no parameters but `expand`. */
function retrieve<T>(find: (ctx: EmulatorContext, id: string) => T): Handler {
  return (ctx, { params, id }) => {
    params.allow([]);
    return find(ctx, id);
  };
}

function noParams(action: (ctx: EmulatorContext, id: string) => unknown): Handler {
  return (ctx, { params, id }) => {
    params.allow([]);
    return action(ctx, id);
  };
}

export const routes: Route[] = [
  route('POST', '/v1/customers', (ctx, { params }) => createCustomer(ctx, params)),
  route('GET', '/v1/customers', (ctx, { params, path }) =>
    paginate(params, path, listCustomers(ctx, params), ['email']),
  ),
  route('GET', '/v1/customers/:id', retrieve(requireCustomer)),
  route('POST', '/v1/customers/:id', (ctx, { params, id }) => updateCustomer(ctx, id, params)),
  route('GET', '/v1/customers/:id/payment_methods', (ctx, { params, id, path }) => {
    requireCustomer(ctx, id);
    return paginate(params, path, paymentMethodsOf(ctx, id, params.string('type')), ['type']);
  }),

  route('POST', '/v1/checkout/sessions', (ctx, { params }) => createCheckoutSession(ctx, params)),
  route('GET', '/v1/checkout/sessions', (ctx, { params, path }) =>
    paginate(params, path, listCheckoutSessions(ctx, params), ['customer', 'payment_intent', 'status']),
  ),
  route('GET', '/v1/checkout/sessions/:id', retrieve(requireSession)),
  route('POST', '/v1/checkout/sessions/:id/expire', noParams(expireSession)),
  route('GET', '/v1/checkout/sessions/:id/line_items', (ctx, { params, id, path }) => {
    requireSession(ctx, id);
    return paginate(params, path, extrasOf(ctx, id).lineItems);
  }),

  route('POST', '/v1/payment_intents', (ctx, { params }) => createPaymentIntent(ctx, params)),
  route('GET', '/v1/payment_intents', (ctx, { params, path }) =>
    paginate(params, path, listPaymentIntents(ctx, params), ['customer']),
  ),
  route('GET', '/v1/payment_intents/:id', retrieve(requirePaymentIntent)),
  route('POST', '/v1/payment_intents/:id', (ctx, { params, id }) => updatePaymentIntent(ctx, id, params)),
  route('POST', '/v1/payment_intents/:id/confirm', (ctx, { params, id }) =>
    confirmPaymentIntent(ctx, id, params),
  ),
  route('POST', '/v1/payment_intents/:id/cancel', (ctx, { params, id }) =>
    cancelPaymentIntent(ctx, id, params),
  ),

  route('GET', '/v1/payment_methods', (ctx, { params, path }) => {
    const customer = params.string('customer');
    if (!customer) throw missingParam('customer');
    requireCustomer(ctx, customer, 'customer');
    return paginate(params, path, paymentMethodsOf(ctx, customer, params.string('type')), [
      'customer',
      'type',
    ]);
  }),
  route('GET', '/v1/payment_methods/:id', retrieve(requirePaymentMethod)),
  route('POST', '/v1/payment_methods/:id/attach', (ctx, { params, id }) => {
    params.allow(['customer']);
    const customer = params.string('customer');
    if (!customer) throw missingParam('customer');
    return attachPaymentMethod(ctx, requirePaymentMethod(ctx, id), customer);
  }),
  route('POST', '/v1/payment_methods/:id/detach', noParams(detachPaymentMethod)),

  route('GET', '/v1/charges', (ctx, { params, path }) =>
    paginate(
      params,
      path,
      listCharges(ctx, {
        customer: params.string('customer'),
        payment_intent: params.string('payment_intent'),
      }),
      ['customer', 'payment_intent'],
    ),
  ),
  route('GET', '/v1/charges/:id', retrieve(requireCharge)),

  route('POST', '/v1/refunds', (ctx, { params }) => createRefund(ctx, params)),
  route('GET', '/v1/refunds', (ctx, { params, path }) =>
    paginate(params, path, listRefunds(ctx, params), ['charge', 'payment_intent']),
  ),
  route('GET', '/v1/refunds/:id', retrieve(requireRefund)),

  route('GET', '/v1/disputes', (ctx, { params, path }) =>
    paginate(
      params,
      path,
      listDisputes(ctx, { charge: params.string('charge'), payment_intent: params.string('payment_intent') }),
      ['charge', 'payment_intent'],
    ),
  ),
  route('GET', '/v1/disputes/:id', retrieve(requireDispute)),
  // Accepting a dispute on Stripe closes it as lost.
  route(
    'POST',
    '/v1/disputes/:id/close',
    noParams((ctx, id) => decideDispute(ctx, id, 'lost')),
  ),

  route('POST', '/v1/invoices', (ctx, { params }) => createInvoice(ctx, params)),
  route('GET', '/v1/invoices', (ctx, { params, path }) =>
    paginate(params, path, listInvoices(ctx, params), ['customer', 'status']),
  ),
  route('GET', '/v1/invoices/:id', retrieve(requireInvoice)),
  route('GET', '/v1/invoices/:id/lines', (ctx, { params, path, id }) =>
    paginate(params, path, requireInvoice(ctx, id).lines.data),
  ),
  route('POST', '/v1/invoices/:id/finalize', (ctx, { params, id }) => finalizeInvoice(ctx, id, params)),
  route('POST', '/v1/invoices/:id/send', noParams(sendInvoice)),
  route('POST', '/v1/invoices/:id/pay', (ctx, { params, id }) => payInvoice(ctx, id, params)),
  route('POST', '/v1/invoices/:id/void', noParams(voidInvoice)),
  route('POST', '/v1/invoices/:id/mark_uncollectible', noParams(markUncollectible)),
  route('POST', '/v1/invoiceitems', (ctx, { params }) => createInvoiceItem(ctx, params)),
  route('GET', '/v1/invoiceitems', (ctx, { params, path }) =>
    paginate(params, path, listInvoiceItems(ctx, params), ['customer', 'invoice', 'pending']),
  ),
  route('GET', '/v1/invoiceitems/:id', retrieve(requireInvoiceItem)),

  route('GET', '/v1/events', (ctx, { params, path }) => {
    const type = params.string('type');
    const types = params.stringList('types');
    const events = ctx.events
      .all()
      .filter((event) => (!type || matchesType(event.type, type)) && (!types || types.includes(event.type)))
      .reverse();
    return paginate(params, path, events, ['type', 'types']);
  }),
  route('GET', '/v1/events/:id', (ctx, { params, id }) => {
    params.allow([]);
    const event = ctx.events.get(id);
    if (!event) throw resourceMissing('event', id);
    return event;
  }),
];

/** `type=charge.*` filters by prefix, as Stripe's events list allows. */
function matchesType(type: string, filter: string): boolean {
  return filter.endsWith('.*') ? type.startsWith(filter.slice(0, -1)) : type === filter;
}
