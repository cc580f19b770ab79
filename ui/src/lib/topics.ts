// Event topics are URI-like (`doctor://check/redis-server`). A pattern is a topic, or a
// prefix ending in `*` (`doctor://*`, `doctor://check/*`); `*` alone matches everything.

export function topicMatches(pattern: string, topic: string): boolean {
  if (pattern.endsWith('*')) return topic.startsWith(pattern.slice(0, -1));
  return pattern === topic;
}
