// Helpers of the Widget settings screen, kept pure so they can be unit tested.
import type { GreetingRule } from './types';

/** `#rrggbb`, the only colour form the server takes. */
export function isHexColor(s: string): boolean {
  return /^#[0-9a-fA-F]{6}$/.test(s);
}

/** A new greeting rule: every page, after 30 seconds, once per visitor, from `fromUserId`. */
export function newGreeting(fromUserId: number): GreetingRule {
  return {
    id: null,
    enabled: true,
    url_pattern: '*',
    delay_seconds: 30,
    on_exit_intent: false,
    message: '',
    from_user_id: fromUserId,
    per_visitor_cap: 1,
  };
}

/** How often a shown greeting was answered, as a whole percent ("—" when never shown). */
export function answerRate(shown: number, answered: number): string {
  if (shown <= 0) return '—';
  return `${Math.round((answered / shown) * 100)} %`;
}
