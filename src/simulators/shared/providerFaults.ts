// Gives injected error statuses the provider's own error body and headers, so a Stripe 503 looks like
// Stripe's; createSimulator applies it when a provider passes its `errorShape`.
import type { FaultController, FaultRule } from './faults.js';

/** The provider's body and headers for an error `status`. */
export type ProviderErrorShape = (status: number) => { body: unknown; headers?: Record<string, string> };

/**
 * Fills `body` (when unset) and adds `headers` (rule headers win) to a rule that answers with an error
 * status. A `statusSequence` rule gets the shape of its first error status for every entry, because
 * the fault engine gives one body to the whole sequence.
 */
export function withProviderError(rule: FaultRule, shape: ProviderErrorShape): FaultRule {
  const status = rule.status ?? rule.statusSequence?.find((s) => s >= 400);
  if (status === undefined || status < 400) return rule;
  const provider = shape(status);
  return {
    ...rule,
    body: rule.body === undefined ? provider.body : rule.body,
    headers: { ...provider.headers, ...rule.headers },
  };
}

/** A controller that decorates every added rule with `withProviderError` before handing it to `inner`. */
export function providerFaultController(inner: FaultController, shape: ProviderErrorShape): FaultController {
  return {
    add: (rule) => inner.add(withProviderError(rule, shape)),
    clear: () => inner.clear(),
    get active() {
      return inner.active;
    },
  };
}
