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

/** The text colour on the widget's accent, as the widget picks it (widget/src/view.ts `textOn`). */
export function textOn(color: string): string {
  const n = parseInt(color.slice(1), 16);
  const lum = 0.299 * (n >> 16) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255);
  return lum > 165 ? '#1d2327' : '#fff';
}
