//! The watcher on a real copy of the fixture project: atomic saves, agent changes, new
//! folders. Each step waits with `flush()` (a generous timeout), never a blind sleep.

use greenroom_exercises::analysis::StackContext;
use greenroom_exercises::rules::Compiled;
use greenroom_exercises::watch::{ExerciseWatcher, Update};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Saves like an editor: write a temporary file, then rename it over the original.
fn atomic_save(path: &Path, text: &str) {
    let tmp = path.with_extension("dart.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn saves_revalidate_only_what_they_affect() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("eloquence");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/flutter/eloquence"),
        &root,
    );
    let updates: Arc<Mutex<Vec<Update>>> = Arc::default();
    let sink = updates.clone();
    let (watcher, first) = ExerciseWatcher::start(
        &root,
        Compiled::default_rules(),
        StackContext::default(),
        Duration::from_millis(30),
        move |u| sink.lock().unwrap().push(u.clone()),
    )
    .unwrap();
    let score = |a: &greenroom_exercises::analysis::Analysis, id: &str| {
        a.exercises.iter().find(|e| e.id == id).map(|e| e.score)
    };
    assert!(score(&first, "breathing_exercise_screen").unwrap() < 100);
    assert!(watcher.watched_folders() >= 10);

    // 1. Fix breathing's dispose through an atomic save: only breathing is scored again.
    let file = root.join("app/lib/features/breathing/breathing_exercise_screen.dart");
    let text = std::fs::read_to_string(&file).unwrap().replace(
        "  void dispose() {\n",
        "  void dispose() {\n    _cycle?.cancel();\n",
    );
    atomic_save(&file, &text);
    let revision = watcher.flush(Duration::from_secs(20));
    assert!(revision >= 1, "the save was seen");
    let last = updates.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last.revalidated, ["breathing_exercise_screen"]);
    assert_eq!(
        score(&last.analysis, "breathing_exercise_screen"),
        Some(100)
    );
    assert_eq!(
        score(&last.analysis, "cosmic_voice_screen"),
        score(&first, "cosmic_voice_screen")
    );

    // 2. Saving the same content again changes nothing.
    let before = updates.lock().unwrap().len();
    atomic_save(&file, &text);
    watcher.flush(Duration::from_secs(20));
    assert_eq!(
        updates.lock().unwrap().len(),
        before,
        "same content, same hash: no round"
    );

    // 3. The agent learns `dialogue_libre`: everything is scored again; conversation's routing passes.
    let agent = root.join("agent/marie_agent.py");
    let py = std::fs::read_to_string(&agent).unwrap().replace("    \"conversation\": \"ConversationHandler\",\n", "    \"conversation\": \"ConversationHandler\",\n    \"dialogue_libre\": \"ConversationHandler\",\n");
    std::fs::write(&agent, py).unwrap();
    watcher.flush(Duration::from_secs(20));
    let last = updates.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last.revalidated.len(), last.analysis.exercises.len());
    let conversation = last
        .analysis
        .exercises
        .iter()
        .find(|e| e.id == "conversation_exercise_screen")
        .unwrap();
    assert_eq!(
        conversation
            .criteria
            .iter()
            .find(|c| c.id == "agent_routing")
            .unwrap()
            .passed,
        Some(true)
    );

    // 4. A new folder holding a new orphan screen is watched and read.
    let new_dir = root.join("app/lib/features/debate");
    std::fs::create_dir_all(&new_dir).unwrap();
    std::fs::write(
        new_dir.join("debate_screen.dart"),
        "import '../../core/exercise_livekit_mixin.dart';\nclass DebateScreen extends StatefulWidget {}\nclass _DebateState extends State<DebateScreen> with ExerciseLiveKitMixin {}\n",
    )
    .unwrap();
    watcher.flush(Duration::from_secs(20));
    let orphans: Vec<String> = watcher
        .analysis()
        .orphans
        .into_iter()
        .map(|o| o.class_name)
        .collect();
    assert!(orphans.contains(&"DebateScreen".to_owned()), "{orphans:?}");
}
