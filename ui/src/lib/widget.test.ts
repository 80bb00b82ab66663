import { describe, expect, it } from 'vitest';
import { answerRate, isHexColor, newGreeting } from './widget';

describe('widget settings helpers', () => {
  it('takes only #rrggbb colours', () => {
    expect(isHexColor('#2f6f4f')).toBe(true);
    expect(isHexColor('#ABCDEF')).toBe(true);
    expect(isHexColor('#abc')).toBe(false);
    expect(isHexColor('2f6f4f')).toBe(false);
    expect(isHexColor('#2f6f4g')).toBe(false);
  });
  it('starts a greeting for every page, once per visitor', () => {
    const g = newGreeting(7);
    expect(g).toMatchObject({ id: null, enabled: true, url_pattern: '*', from_user_id: 7, per_visitor_cap: 1, on_exit_intent: false });
  });
  it('gives the answer rate', () => {
    expect(answerRate(0, 0)).toBe('—');
    expect(answerRate(8, 2)).toBe('25 %');
  });
});
