// The shapes the core sends: generated from the Rust types (./generated/,
// scripts/gen-types.sh), plus the UI's own helpers over them.
import type { Filter, Role, UiError } from './generated/types';

export type * from './generated/types';

const ROLE_SET: Record<Role, true> = { admin: true, operator: true, marketer: true, analyst: true };
/** Every role, in the order the UI lists them (a role added in Rust fails the type check here). */
export const ROLES = Object.keys(ROLE_SET) as Role[];

const FILTER_SET: Record<Filter, true> = { mine: true, unassigned: true, all: true, closed: true };
/** Every dialog-list filter, in the order of the tabs. */
export const FILTERS = Object.keys(FILTER_SET) as Filter[];

export function isUiError(e: unknown): e is UiError {
  return typeof e === 'object' && e !== null && 'code' in e && 'message' in e;
}
