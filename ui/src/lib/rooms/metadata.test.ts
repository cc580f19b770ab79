import { describe, expect, it } from 'vitest';
import { exerciseTypeOf } from './metadata';

describe('the exercise type of a room', () => {
  it('reads exercise_type from JSON metadata', () => {
    expect(exerciseTypeOf('{"exercise_type":"entretien","system_prompt":"a very long prompt"}')).toBe('entretien');
  });
  it('says when JSON has no exercise type', () => {
    expect(exerciseTypeOf('{"character":"marie"}')).toBe('JSON metadata (no exercise_type)');
  });
  it('shows plain text as it is, cut when long, and a dash when empty', () => {
    expect(exerciseTypeOf('cosmic_voice')).toBe('cosmic_voice');
    expect(exerciseTypeOf('{not json')).toBe('{not json');
    expect(exerciseTypeOf('x'.repeat(100))).toHaveLength(80);
    expect(exerciseTypeOf('  ')).toBe('—');
  });
});
