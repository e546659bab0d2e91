// Stripe's rules for what a PaymentIntent may charge: supported currencies and each currency's smallest
// and largest amount in minor units, with the messages Stripe answers when they are broken.
import { invalidRequest, missingParam } from './errors.js';
import type { StripeParamMap } from './params.js';
import { positiveInteger, scalar } from './params.js';

const SUPPORTED_CURRENCIES = new Set(
  'usd eur gbp cad aud nzd jpy chf sek nok dkk pln czk huf ron bgn sgd hkd mxn brl inr'.split(' '),
);
/** Smallest chargeable amount per currency in minor units (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts). */
const MIN_AMOUNT: Readonly<Record<string, number>> = {
  gbp: 30,
  jpy: 50,
  hkd: 400,
  sek: 300,
  nok: 300,
  dkk: 250,
};
const DEFAULT_MIN_AMOUNT = 50;
const MAX_AMOUNT = 99_999_999;
const CURRENCY_SYMBOL: Readonly<Record<string, string>> = { usd: '$', eur: '€', gbp: '£' };

/** The required `amount` (an integer >= 1) and `currency` (lower-cased), checked against each other. */
export function parseCharge(params: StripeParamMap): { amount: number; currency: string } {
  const amount = positiveInteger(params, 'amount');
  if (amount === undefined) throw missingParam('amount');
  const currencyRaw = scalar(params, 'currency');
  if (currencyRaw === undefined || currencyRaw === '') throw missingParam('currency');
  const currency = currencyRaw.toLowerCase();
  if (!SUPPORTED_CURRENCIES.has(currency)) {
    throw invalidRequest(
      `Invalid currency: ${currencyRaw}. Stripe currently supports these currencies: ${[...SUPPORTED_CURRENCIES].join(', ')}`,
      { param: 'currency' },
    );
  }
  checkAmountRange(amount, currency);
  return { amount, currency };
}

function checkAmountRange(amount: number, currency: string): void {
  const symbol = CURRENCY_SYMBOL[currency] ?? '';
  const min = MIN_AMOUNT[currency] ?? DEFAULT_MIN_AMOUNT;
  if (amount < min) {
    throw invalidRequest(`Amount must be at least ${symbol}${(min / 100).toFixed(2)} ${currency}`, {
      code: 'amount_too_small',
      param: 'amount',
    });
  }
  if (amount > MAX_AMOUNT) {
    throw invalidRequest(`Amount must be no more than ${symbol}999,999.99`, {
      code: 'amount_too_large',
      param: 'amount',
    });
  }
}
