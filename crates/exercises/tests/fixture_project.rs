//! The analysis on a synthetic Flutter project written to exercise every rule
//! (tests/fixtures/flutter/eloquence), and the team's regex baseline on the same project.

use greenroom_exercises::analysis::{Analysis, StackContext, analyse};
use greenroom_exercises::rules::Compiled;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/flutter/eloquence")
}

fn published_ports(root: &Path) -> BTreeSet<u16> {
    let imported = greenroom_stack::compose::import(&greenroom_stack::compose::ComposeOptions {
        files: vec![root.join("docker-compose.yml")],
        // A checkout has no .env (its env_file): reading its ports does not need it.
        missing_env_files_are_notes: true,
        ..Default::default()
    })
    .unwrap();
    imported.manifest.published_tcp_ports()
}

fn run() -> Analysis {
    let root = fixture();
    let rules = Compiled::for_project(&root).unwrap();
    let project = greenroom_exercises::project::read_project(&root, &rules.rules.agent.paths);
    analyse(
        &project,
        &rules,
        &StackContext {
            published_ports: Some(published_ports(&root)),
            healthy: None,
        },
    )
}

/// What the app really registers as exercises, and its orphans.
const TRUTH: [&str; 5] = [
    "ArticulationScreen",
    "BreathingExerciseScreen",
    "ConversationExerciseScreen",
    "CosmicVoiceScreen",
    "NewExerciseScreen",
];

#[test]
fn finds_exactly_the_registered_exercises_and_the_orphan() {
    let a = run();
    let found: Vec<&str> = a.exercises.iter().map(|e| e.class_name.as_str()).collect();
    assert_eq!(found, TRUTH);
    let routes: Vec<(&str, &str)> = a
        .exercises
        .iter()
        .map(|e| (e.id.as_str(), e.route.as_str()))
        .collect();
    assert_eq!(
        routes,
        [
            ("articulation_screen", "registry:articulation"),
            ("breathing_exercise_screen", "/exercise/breathing"),
            ("conversation_exercise_screen", "/exercise/conversation"),
            ("cosmic_voice_screen", "/exercise/cosmic"),
            ("new_exercise_screen", "registry:new_exercise"),
        ]
    );
    assert_eq!(a.orphans.len(), 1);
    assert_eq!(a.orphans[0].class_name, "ImpromptuSpeechScreen");
    assert!(
        a.orphans[0]
            .reason
            .contains("no route or exercise list registers it")
    );
    assert_eq!(a.packages, ["eloquence_app"]);
    assert_eq!(
        a.agent_types,
        [
            "articulation",
            "breathing",
            "conversation",
            "cosmic_voice",
            "impromptu"
        ]
    );
}

fn exercise<'a>(a: &'a Analysis, id: &str) -> &'a greenroom_exercises::analysis::Exercise {
    a.exercises.iter().find(|e| e.id == id).unwrap()
}

fn failed(e: &greenroom_exercises::analysis::Exercise) -> Vec<&str> {
    e.criteria
        .iter()
        .filter(|c| c.passed == Some(false))
        .map(|c| c.id.as_str())
        .collect()
}

#[test]
fn scores_each_exercise_with_evidence() {
    let a = run();
    let articulation = exercise(&a, "articulation_screen");
    assert_eq!((articulation.score, articulation.valid), (100, true));
    assert_eq!(
        articulation.required_services,
        ["livekit-server", "token-service"]
    );

    let cosmic = exercise(&a, "cosmic_voice_screen");
    assert_eq!(failed(cosmic), ["endpoint_drift"], "{:#?}", cosmic.criteria);
    assert!(cosmic.valid && cosmic.score >= 80);
    assert_eq!(
        cosmic.required_services,
        ["livekit-server", "token-service", "exercises-api"]
    );
    let drift = &cosmic
        .criteria
        .iter()
        .find(|c| c.id == "endpoint_drift")
        .unwrap()
        .findings[0];
    assert!(
        drift.message.contains("calls port 8005")
            && drift.message.contains("publishes no port 8005"),
        "{}",
        drift.message
    );
    assert!(
        drift.file.ends_with("app_config.dart") && drift.line == 6,
        "{drift:?}"
    );

    let breathing = exercise(&a, "breathing_exercise_screen");
    assert_eq!(failed(breathing), ["dispose"]);
    let timer = &breathing
        .criteria
        .iter()
        .find(|c| c.id == "dispose")
        .unwrap()
        .findings[0];
    assert!(
        timer.message.contains("`_cycle` (Timer) is not released")
            && timer.message.contains("_cycle.cancel()"),
        "{}",
        timer.message
    );
    assert_eq!(breathing.exercise_type.as_deref(), Some("breathing"));
    assert!(breathing.required_services.contains(&"stt".to_owned()));

    let conversation = exercise(&a, "conversation_exercise_screen");
    assert_eq!(
        failed(conversation),
        ["agent_routing", "endpoint_drift", "error_handling"]
    );
    assert!(!conversation.valid, "an unknown type blocks");
    let routing = &conversation
        .criteria
        .iter()
        .find(|c| c.id == "agent_routing")
        .unwrap()
        .findings[0];
    assert!(
        routing.message.contains("does not route `dialogue_libre`")
            && routing.message.contains("silently fall back"),
        "{}",
        routing.message
    );
    assert!(
        conversation
            .required_services
            .contains(&"mistral".to_owned())
    );

    let copy = exercise(&a, "new_exercise_screen");
    assert_eq!(
        failed(copy),
        ["audio_init", "agent_routing", "template_changed"]
    );
    assert!(!copy.valid);
    assert!(
        copy.fix_minutes >= 120,
        "a template copy is long to fix: {}",
        copy.fix_minutes
    );
    assert!(
        copy.recommendations
            .iter()
            .any(|r| r.contains("placeholder"))
    );
}

#[test]
fn detection_precision_and_recall_against_the_regex_baseline() {
    let truth: BTreeSet<&str> = TRUTH.into_iter().collect();
    let ours: BTreeSet<String> = run().exercises.into_iter().map(|e| e.class_name).collect();
    let baseline: BTreeSet<String> = greenroom_exercises::baseline::detect(&fixture())
        .into_iter()
        .map(|(name, _, _)| name)
        .collect();
    let score = |found: &BTreeSet<String>| {
        let tp = found.iter().filter(|f| truth.contains(f.as_str())).count() as f64;
        (tp / found.len().max(1) as f64, tp / truth.len() as f64)
    };
    let (p, r) = score(&ours);
    let (bp, br) = score(&baseline);
    println!(
        "detection on the fixture: greenroom precision {p:.2} recall {r:.2}; regex baseline precision {bp:.2} recall {br:.2} ({baseline:?})"
    );
    assert_eq!((p, r), (1.0, 1.0));
    // The baseline reports login/home/splash/settings screens and classes in comments and
    // strings, and misses ConsumerStatefulWidget screens and template-based ones.
    assert!(
        baseline.contains("LoginScreen")
            && baseline.contains("FakeExerciseScreen")
            && !baseline.contains("CosmicVoiceScreen")
    );
    assert!(bp < 0.5 && br < 1.0, "baseline precision {bp}, recall {br}");
}
