// The Exercises screen's logic: pure functions, tested in present.test.ts.
import type { Analysis, Exercise, HistoryPoint } from '../../generated/api';

export type SortKey = 'id' | 'type' | 'score' | 'valid' | 'changed';
export type Validity = 'all' | 'valid' | 'invalid';

/** Services it needs that the running stack reports unhealthy or missing (empty when unknown). */
export function missingServices(e: Exercise): string[] {
  const c = e.criteria.find((x) => x.id === 'services_healthy');
  if (!c || c.passed !== false) return [];
  // Findings name the service as `(name)` (unhealthy) or `for name ` (absent from the stack).
  return e.required_services.filter((s) => c.findings.some((f) => f.message.includes(`(${s})`) || f.message.includes(`for ${s} `)));
}

export function filterExercises(list: Exercise[], query: string, validity: Validity): Exercise[] {
  const q = query.trim().toLowerCase();
  return list.filter(
    (e) =>
      (validity === 'all' || (validity === 'valid') === e.valid) &&
      (q === '' || [e.id, e.class_name, e.exercise_type ?? '', e.route].some((s) => s.toLowerCase().includes(q))),
  );
}

export function sortExercises(list: Exercise[], key: SortKey, ascending: boolean, changedAt: Record<string, number>): Exercise[] {
  const value = (e: Exercise): string | number => {
    switch (key) {
      case 'score':
        return e.score;
      case 'valid':
        return e.valid ? 1 : 0;
      case 'type':
        return e.exercise_type ?? '';
      case 'changed':
        return changedAt[e.id] ?? 0;
      default:
        return e.id;
    }
  };
  const sorted = [...list].sort((a, b) => {
    const va = value(a);
    const vb = value(b);
    const cmp = typeof va === 'number' && typeof vb === 'number' ? va - vb : String(va).localeCompare(String(vb));
    return cmp !== 0 ? cmp : a.id.localeCompare(b.id);
  });
  return ascending ? sorted : sorted.reverse();
}

function csvCell(value: string | number | boolean): string {
  const s = String(value);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One row per exercise: id, class, type, route, score, valid, services, fix time, file:line. */
export function toCsv(analysis: Analysis): string {
  const header = ['id', 'class_name', 'exercise_type', 'route', 'score', 'valid', 'required_services', 'fix_minutes', 'location'];
  const rows = analysis.exercises.map((e) =>
    [e.id, e.class_name, e.exercise_type ?? '', e.route, e.score, e.valid, e.required_services.join(' '), e.fix_minutes, `${e.file}:${e.line}`]
      .map(csvCell)
      .join(','),
  );
  return [header.join(','), ...rows].join('\n') + '\n';
}

/** Points of a score-over-time chart in a w×h box (scores 0–100, time spread evenly). */
export function historyPoints(points: HistoryPoint[], width: number, height: number): Array<{ x: number; y: number; score: number }> {
  if (points.length === 0) return [];
  const step = points.length > 1 ? width / (points.length - 1) : 0;
  return points.map((p, i) => ({
    x: points.length > 1 ? i * step : width / 2,
    y: height - (p.score / 100) * height,
    score: p.score,
  }));
}

/** A link that opens the file at the line in VS Code (`vscode://file/…:line`). */
export function editorLink(file: string, line: number): string {
  const path = file.replace(/\\/g, '/').replace(/^\/+/, '');
  return `vscode://file/${encodeURI(path)}:${line}`;
}

/** The path of a file relative to the project, for evidence links. */
export function relative(file: string, project: string): string {
  const base = project.endsWith('/') ? project : `${project}/`;
  return file.startsWith(base) ? file.slice(base.length) : file;
}
