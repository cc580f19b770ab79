/**
 * What the Rooms table shows of a room's metadata. Eloquence's rooms (and Greenroom's talk
 * rooms) carry a JSON object whose `exercise_type` names the exercise; other rooms carry
 * free text. The table shows the exercise type when there is one, else the text, never a
 * wall of JSON (the whole metadata stays in the cell's tooltip).
 */
export function exerciseTypeOf(metadata: string): string {
  const text = metadata.trim();
  if (!text) return '—';
  if (text.startsWith('{')) {
    try {
      const value: unknown = JSON.parse(text);
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        const type = (value as Record<string, unknown>).exercise_type;
        if (typeof type === 'string' && type.trim()) return type.trim();
        return 'JSON metadata (no exercise_type)';
      }
    } catch {
      // Not JSON after all: shown as text.
    }
  }
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}
