// Edge checks for Relay paging arguments, shared by every connection field.
import { badUserInput } from '../errors.js';

/** Largest `first` any connection accepts. */
export const MAX_FIRST = 100;
export const DEFAULT_FIRST = 20;

export function checkFirst(first: number | null | undefined): number {
  const value = first ?? DEFAULT_FIRST;
  if (!Number.isInteger(value) || value < 0 || value > MAX_FIRST) {
    throw badUserInput(`"first" must be between 0 and ${MAX_FIRST}, got ${value}`, 'first');
  }
  return value;
}
