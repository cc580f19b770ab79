//! The analysis on the Eloquence team's own repository as of 2025-08-04
//! (`../shared/eloquence-2025-08-04`, next to this checkout): real code nobody here wrote.
//! What is asserted is what a designer reading that app agrees with (see the closing note of
//! issue 12 for the exercise table).

use greenroom_exercises::analysis::{Analysis, Exercise, StackContext, analyse};
use greenroom_exercises::rules::Compiled;
use std::path::{Path, PathBuf};

fn snapshot() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/eloquence-2025-08-04");
    assert!(
        root.join("frontend/flutter_app/lib").is_dir(),
        "the team's repository snapshot is missing at {}: it sits next to this checkout (../shared/eloquence-2025-08-04)",
        root.display()
    );
    root
}

fn run() -> Analysis {
    let root = snapshot();
    let rules = Compiled::for_project(&root).unwrap();
    let project = greenroom_exercises::project::read_project(&root, &rules.rules.agent.paths);
    let imported = greenroom_stack::compose::import(&greenroom_stack::compose::ComposeOptions {
        files: vec![root.join("docker-compose.yml")],
        // A checkout has no .env (its env_file): reading its ports does not need it.
        missing_env_files_are_notes: true,
        ..Default::default()
    })
    .unwrap();
    let published_ports = imported.manifest.published_tcp_ports();
    analyse(
        &project,
        &rules,
        &StackContext {
            published_ports: Some(published_ports),
            healthy: None,
        },
    )
}

fn exercise<'a>(a: &'a Analysis, class: &str) -> &'a Exercise {
    a.exercises
        .iter()
        .find(|e| e.class_name == class)
        .unwrap_or_else(|| panic!("{class} is not an exercise"))
}

fn verdict(e: &Exercise, id: &str) -> (Option<bool>, Vec<String>) {
    let c = e.criteria.iter().find(|c| c.id == id).unwrap();
    (
        c.passed,
        c.findings
            .iter()
            .map(|f| {
                let file = f.file.rsplit('/').next().unwrap();
                format!("{file}:{} {}", f.line, f.message)
            })
            .collect(),
    )
}

#[test]
fn finds_the_four_exercises_learners_practise_and_nothing_else() {
    let a = run();
    let found: Vec<(&str, &[String])> = a
        .exercises
        .iter()
        .map(|e| (e.class_name.as_str(), e.routes.as_slice()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "ConfidenceBoostLiveKitScreen",
                &[
                    "/confidence_boost".to_owned(),
                    "/exercise_active/confidence_boost".to_owned()
                ][..]
            ),
            (
                "DragonBreathScreen",
                &[
                    "/dragon_breath".to_owned(),
                    "/exercise_active/dragon_breath".to_owned()
                ][..]
            ),
            (
                "StoryGeneratorHomeScreen",
                &[
                    "/story_generator".to_owned(),
                    "/exercise_active/story_generator".to_owned()
                ][..]
            ),
            (
                "VirelangueRouletteScreen",
                &[
                    "/virelangue_roulette".to_owned(),
                    "/exercise_active/virelangue_roulette".to_owned()
                ][..]
            ),
        ]
    );
    // The story is one exercise of five screens.
    let story = exercise(&a, "StoryGeneratorHomeScreen");
    let flow: Vec<&str> = story.flow.iter().map(|f| f.class_name.as_str()).collect();
    assert_eq!(
        flow,
        [
            "StoryElementSelectionScreen",
            "StoryNarrationScreen",
            "StoryLibraryScreen",
            "StoryResultsScreen"
        ]
    );
    // What the old detection called exercises, and the shell, each with the reason.
    let reason = |class: &str| {
        a.screens
            .iter()
            .find(|s| s.class_name == class)
            .map(|s| s.reason.clone())
            .unwrap_or_else(|| panic!("{class} is not among the screens: {:#?}", a.screens))
    };
    assert!(reason("ExercisesScreen").starts_with("an exercise list: it opens ConfidenceBoostLiveKitScreen, DragonBreathScreen, StoryGeneratorHomeScreen, VirelangueRouletteScreen"));
    assert!(reason("ExerciseDetailScreen").starts_with("a generic page"));
    assert!(reason("ExerciseActiveScreen").starts_with("a generic page"));
    assert!(reason("MainScreen").starts_with("a shell"));
    for other in ["LoginScreen", "SignUpScreen", "HomeScreen", "ProfileScreen"] {
        assert!(reason(other).contains("by its name"), "{other}");
    }
    assert!(reason("ScenarioScreen").starts_with("not on an exercise route"));
    // Two files declare a HomeScreen and two a ProfileScreen: each is the one the router
    // imports.
    let file = |class: &str| {
        let s = a.screens.iter().find(|s| s.class_name == class).unwrap();
        s.file.replace('\\', "/")
    };
    assert!(file("HomeScreen").ends_with("flutter_app/lib/screens/home_screen.dart"));
    assert!(
        file("ProfileScreen").ends_with("lib/presentation/screens/profile/profile_screen.dart")
    );
    // A results screen nothing shows.
    assert!(
        a.orphans
            .iter()
            .any(|o| o.class_name == "DragonBreathResultsScreen"
                && o.reason.starts_with("nothing shows it")),
        "{:#?}",
        a.orphans
    );
    assert_eq!(a.agent_types, ["confidence_boost", "job_interview"]);
}

#[test]
fn scores_each_exercise_with_what_its_code_does() {
    let a = run();

    let confidence = exercise(&a, "ConfidenceBoostLiveKitScreen");
    assert_eq!(
        confidence.exercise_type.as_deref(),
        Some("confidence_boost")
    );
    assert_eq!(
        confidence.required_services,
        ["livekit-server", "token-service"]
    );
    let (passed, findings) = verdict(confidence, "audio_init");
    assert_eq!(passed, Some(true));
    assert_eq!(
        findings,
        [
            "confidence_boost_livekit_screen.dart:73 the audio session starts from initState: initState → _startLiveKitSession → confidenceLiveKitProvider.startSession"
        ]
    );
    let (passed, findings) = verdict(confidence, "dispose");
    assert_eq!(passed, Some(false));
    assert!(
        findings[0].contains("dispose() never ends")
            && findings[0].contains("`confidenceLiveKitProvider` is not autoDispose (confidence_livekit_provider.dart:199)"),
        "{findings:?}"
    );
    let (passed, findings) = verdict(confidence, "agent_routing");
    assert_eq!(passed, Some(false));
    assert!(
        findings[0].starts_with("main.py:558 ")
            && findings[0].contains("only in get_exercise_from_metadata(), which nothing calls"),
        "{findings:?}"
    );
    let (passed, findings) = verdict(confidence, "endpoint_drift");
    assert_eq!(passed, Some(false));
    assert!(
        findings
            .iter()
            .any(|f| f
                .starts_with("confidence_livekit_service.dart:574 the LAN address 192.168.1.44")),
        "{findings:?}"
    );
    assert!(!confidence.valid);

    let virelangue = exercise(&a, "VirelangueRouletteScreen");
    let (passed, findings) = verdict(virelangue, "audio_init");
    assert_eq!(passed, Some(false));
    assert!(
        findings[0]
            .starts_with("virelangue_roulette_screen.dart:98 the audio session starts in build"),
        "{findings:?}"
    );
    assert_eq!(virelangue.exercise_type, None, "it sends no exercise type");
    assert_eq!(
        verdict(virelangue, "agent_routing").0,
        None,
        "it does not reach the agent"
    );
    assert!(
        virelangue
            .required_services
            .contains(&"exercises-api".to_owned())
    );

    // Breathing with timers: no audio, and a session the provider keeps after the screen.
    let dragon = exercise(&a, "DragonBreathScreen");
    assert_eq!(verdict(dragon, "audio_init").0, None);
    let (passed, findings) = verdict(dragon, "dispose");
    assert_eq!(passed, Some(false));
    assert!(
        findings[0].starts_with(
            "dragon_breath_screen.dart:728 _startExercise → dragonBreathProvider.startExercise"
        ),
        "{findings:?}"
    );
    assert!(
        dragon.required_services.is_empty(),
        "{:?}",
        dragon.required_services
    );

    // The story never opens the microphone; its recording lives in a flow screen.
    let story = exercise(&a, "StoryGeneratorHomeScreen");
    assert_eq!(verdict(story, "audio_init").0, None);
    let (passed, findings) = verdict(story, "dispose");
    assert_eq!(passed, Some(false));
    assert!(
        findings[0].starts_with("story_narration_screen.dart:"),
        "{findings:?}"
    );

    // Every finding cites a file and a line.
    for e in &a.exercises {
        for c in &e.criteria {
            for f in &c.findings {
                assert!(f.line > 0 && !f.file.is_empty(), "{}: {f:?}", e.id);
            }
        }
    }
}
