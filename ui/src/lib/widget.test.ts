import { describe, expect, it } from 'vitest';
import { answerRate, isHexColor, newGreeting, textOn } from './widget';

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
  it('puts dark text on light colours, as the widget does', () => {
    expect(textOn('#1f7a4d')).toBe('#fff');
    expect(textOn('#2563eb')).toBe('#fff');
    expect(textOn('#f5d76e')).toBe('#1d2327');
    expect(textOn('#ffffff')).toBe('#1d2327');
  });
  it('gives the answer rate', () => {
    expect(answerRate(0, 0)).toBe('—');
    expect(answerRate(8, 2)).toBe('25 %');
  });
});
