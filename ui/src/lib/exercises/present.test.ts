import { describe, expect, it } from 'vitest';
import type { Analysis, Exercise } from '../../generated/api';
import { editorLink, filterExercises, historyPoints, missingServices, relative, sortExercises, toCsv } from './present';

function ex(id: string, score: number, valid: boolean, type: string | null = null): Exercise {
  return {
    id, class_name: id, file: `/p/lib/${id}.dart`, line: 3, route: `/exercise/${id}`, routes: [`/exercise/${id}`], flow: [], exercise_type: type, required_services: ['stt'],
    score, valid, criteria: [], recommendations: [], fix_minutes: 0, content_hash: 'h', depends_on: [],
  };
}

describe('exercises presentation', () => {
  const list = [ex('cosmic', 85, true, 'cosmic_voice'), ex('breathing', 70, false, 'breathing'), ex('articulation', 100, true)];

  it('filters by text and validity', () => {
    expect(filterExercises(list, 'COSMIC', 'all').map((e) => e.id)).toEqual(['cosmic']);
    expect(filterExercises(list, '', 'invalid').map((e) => e.id)).toEqual(['breathing']);
    expect(filterExercises(list, 'exercise/', 'valid').map((e) => e.id)).toEqual(['cosmic', 'articulation']);
  });

  it('sorts by any column, both ways, ties by id', () => {
    expect(sortExercises(list, 'score', true, {}).map((e) => e.score)).toEqual([70, 85, 100]);
    expect(sortExercises(list, 'score', false, {}).map((e) => e.score)).toEqual([100, 85, 70]);
    expect(sortExercises(list, 'id', true, {}).map((e) => e.id)).toEqual(['articulation', 'breathing', 'cosmic']);
    expect(sortExercises(list, 'changed', false, { breathing: 5 }).map((e) => e.id)[0]).toBe('breathing');
  });

  it('lists services the stack reports unhealthy', () => {
    const e = ex('x', 50, false);
    e.required_services = ['stt', 'livekit-server', 'mistral'];
    e.criteria = [{ id: 'services_healthy', title: 't', weight: 10, passed: false, blocking: false, findings: [
      { message: '`vosk` (stt) is not healthy', file: 'f', line: 1 },
      { message: 'the stack has no service for livekit-server (looked for livekit, livekit-server)', file: 'f', line: 1 },
    ] }];
    expect(missingServices(e)).toEqual(['stt', 'livekit-server']);
    expect(missingServices(ex('y', 1, true))).toEqual([]);
  });

  it('exports CSV with quoting', () => {
    const analysis = { exercises: [{ ...ex('a,b', 50, false), exercise_type: 'say "hi"' }] } as unknown as Analysis;
    const csv = toCsv(analysis).split('\n');
    expect(csv[0]).toBe('id,class_name,exercise_type,route,score,valid,required_services,fix_minutes,location');
    expect(csv[1]).toBe('"a,b","a,b","say ""hi""",/exercise/a,b,50,false,stt,0,/p/lib/a,b.dart:3'.replace('/exercise/a,b', '"/exercise/a,b"').replace('/p/lib/a,b.dart:3', '"/p/lib/a,b.dart:3"'));
  });

  it('places history points and shortens paths', () => {
    const pts = historyPoints([{ at_ms: 1, score: 0, valid: false, content_hash: '' }, { at_ms: 2, score: 100, valid: true, content_hash: '' }], 200, 50);
    expect(pts).toEqual([{ x: 0, y: 50, score: 0 }, { x: 200, y: 0, score: 100 }]);
    expect(relative('/p/lib/a.dart', '/p')).toBe('lib/a.dart');
    expect(editorLink('/p/lib/my file.dart', 7)).toBe('vscode://file/p/lib/my%20file.dart:7');
    expect(editorLink('C:\\eloquence\\lib\\a.dart', 3)).toBe('vscode://file/C:/eloquence/lib/a.dart:3');
  });
});
