//! `greenroom exercises` on the fixture Flutter project.

use std::process::Command;

fn greenroom() -> Command {
    let home = std::env::temp_dir().join(format!("greenroom-ex-cli-{}", std::process::id()));
    let mut c = Command::new(env!("CARGO_BIN_EXE_greenroom"));
    c.env("GREENROOM_HOME", home);
    c
}

fn fixture() -> String {
    greenroom_test_support::workspace()
        .join("tests/fixtures/flutter/eloquence")
        .display()
        .to_string()
}

#[test]
fn scan_json_has_the_documented_fields_and_strict_fails_on_invalid_exercises() {
    let out = greenroom()
        .args(["exercises", "scan", "--json", "--project", &fixture()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = &json["exercises"][0];
    for field in [
        "id",
        "class_name",
        "file",
        "line",
        "route",
        "required_services",
        "score",
        "valid",
        "criteria",
    ] {
        assert!(!first[field].is_null(), "missing {field}: {first}");
    }
    assert!(first["criteria"][0]["findings"].is_array());
    assert_eq!(json["orphans"][0]["class_name"], "ImpromptuSpeechScreen");
    assert_eq!(json["drift"][0]["port"], 8005);

    let strict = greenroom()
        .args([
            "exercises",
            "validate-all",
            "--strict",
            "--project",
            &fixture(),
        ])
        .output()
        .unwrap();
    assert_eq!(strict.status.code(), Some(1));
    let one = greenroom()
        .args([
            "exercises",
            "validate",
            "articulation_screen",
            "--strict",
            "--project",
            &fixture(),
        ])
        .output()
        .unwrap();
    assert!(
        one.status.success(),
        "{}",
        String::from_utf8_lossy(&one.stdout)
    );
    let unknown = greenroom()
        .args(["exercises", "validate", "nope", "--project", &fixture()])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("cosmic_voice_screen"));
}

#[test]
fn a_project_without_a_flutter_app_is_a_clear_error() {
    let empty = tempfile::tempdir().unwrap();
    let out = greenroom()
        .args(["exercises", "scan", "--project"])
        .arg(empty.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no Flutter app (pubspec.yaml)"));
}

/// On the team's real repository (`../shared/eloquence-2025-08-04`, next to this checkout):
/// the four exercises learners practise, the stack read from its own compose file.
#[test]
fn scan_on_the_team_app_finds_the_four_exercises() {
    let snapshot = greenroom_test_support::workspace().join("../shared/eloquence-2025-08-04");
    assert!(
        snapshot.join("frontend/flutter_app").is_dir(),
        "the team's repository snapshot is missing at {}",
        snapshot.display()
    );
    let out = greenroom()
        .args(["exercises", "scan", "--json", "--project"])
        .arg(&snapshot)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let classes: Vec<&str> = json["exercises"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["class_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        classes,
        [
            "ConfidenceBoostLiveKitScreen",
            "DragonBreathScreen",
            "StoryGeneratorHomeScreen",
            "VirelangueRouletteScreen"
        ]
    );
    // The ports come from the snapshot's own compose file: 2700 (Vosk) is not published.
    assert!(
        json["drift"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["port"] == 2700),
        "{}",
        json["drift"]
    );
    let human = greenroom()
        .args(["exercises", "scan", "--project"])
        .arg(&snapshot)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("ExercisesScreen (/exercises) at ")
            && text.contains("an exercise list: it opens"),
        "{text}"
    );
}
