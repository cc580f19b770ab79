import { describe, expect, it } from 'vitest';
import { topicMatches } from './topics';

describe('topicMatches', () => {
  it('matches exact topics and prefixes', () => {
    expect(topicMatches('settings://changed', 'settings://changed')).toBe(true);
    expect(topicMatches('settings://changed', 'settings://changed/x')).toBe(false);
    expect(topicMatches('doctor://*', 'doctor://check/redis-server')).toBe(true);
    expect(topicMatches('doctor://check/*', 'doctor://finished')).toBe(false);
    expect(topicMatches('*', 'anything://at/all')).toBe(true);
  });
});
