// Stripe emulator: the published test cards the contract names (API.md, "Local mode"), and the decline
// each failure answers with. Any other number is refused as Stripe's page refuses a mistyped one.
import type { Decline } from './errors.ts';
import type { CardBehaviour } from './store.ts';

const declines = {
  insufficientFunds: {
    code: 'card_declined',
    decline_code: 'insufficient_funds',
    message: 'Your card has insufficient funds.',
  },
  authenticationRequired: {
    code: 'authentication_required',
    decline_code: 'authentication_required',
    message: 'Your card was declined. This transaction requires authentication.',
  },
  cardDeclined: {
    code: 'card_declined',
    decline_code: 'generic_decline',
    message: 'Your card was declined.',
  },
  incorrectNumber: { code: 'incorrect_number', message: 'Your card number is incorrect.' },
} satisfies Record<string, Decline>;

export type CardOutcome =
  /** The payment on the page succeeds; `later` is how off-session charges with the saved card answer. */
  | { kind: 'pays'; later: CardBehaviour; authenticated: boolean }
  | { kind: 'declined'; decline: Decline }
  | { kind: 'invalid'; decline: Decline };

const testCards: Record<string, CardOutcome> = {
  '4242424242424242': { kind: 'pays', later: 'succeeds', authenticated: false },
  '4000000000009995': { kind: 'declined', decline: declines.insufficientFunds },
  '4000002760003184': { kind: 'pays', later: 'authentication_required', authenticated: true },
  '4000000000000341': { kind: 'pays', later: 'card_declined', authenticated: false },
};

/** Spaces and dashes are how people type card numbers; they are not part of it. */
export function normaliseCardNumber(input: string): string {
  return input.replace(/[\s-]/g, '');
}

export function cardOutcome(number: string): CardOutcome {
  return testCards[normaliseCardNumber(number)] ?? { kind: 'invalid', decline: declines.incorrectNumber };
}

/** How a saved card's later charge ends: `undefined` when it succeeds. */
export function laterDecline(
  behaviour: CardBehaviour,
  offSession: boolean,
): Decline | 'requires_action' | undefined {
  if (behaviour === 'card_declined') return declines.cardDeclined;
  if (behaviour === 'authentication_required')
    return offSession ? declines.authenticationRequired : 'requires_action';
  return undefined;
}
