// Internal User: what the graph works with, whatever the users service calls its fields.

export interface User {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  /** E.164, or null when the user has none. */
  phone: string | null;
  /** The billing provider's customer id linking the user to billing, or null. */
  billingCustomerId: string | null;
  createdAt: Date;
}
