// External users-service shapes -> internal User. Resolvers never see snake_case.
import type { User } from '../../models/user.js';
import type { ExternalUser } from './types.js';

export function toUser(external: ExternalUser): User {
  return {
    id: external.user_id,
    email: external.email_address,
    firstName: external.first_name,
    lastName: external.last_name,
    phone: external.phone_number ?? null,
    billingCustomerId: external.stripe_customer_id ?? null,
    createdAt: toDate(external.created_timestamp),
  };
}

/** Unix seconds (number or numeric string) or ISO-8601 -> Date. */
export function toDate(value: number | string): Date {
  if (typeof value === 'number') return new Date(value * 1000);
  if (/^\d+$/.test(value)) return new Date(Number(value) * 1000);
  return new Date(value);
}
