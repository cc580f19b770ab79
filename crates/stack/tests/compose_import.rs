//! The compose importer on compose files written for it (tests/fixtures/compose).

use greenroom_stack::compose::{ComposeOptions, import};
use greenroom_stack::manifest::{Condition, Group, ProbeCheck, RestartPolicy, ServiceKind};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/compose")
}

fn eloquence(profiles: &[&str], env: &[(&str, &str)]) -> greenroom_stack::compose::ComposeImport {
    let dir = fixtures().join("eloquence");
    import(&ComposeOptions {
        files: vec![
            dir.join("docker-compose.yml"),
            dir.join("docker-compose.override.yml"),
        ],
        profiles: profiles.iter().map(|p| p.to_string()).collect(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<_, _>>(),
    })
    .unwrap_or_else(|errors| panic!("{errors:#?}"))
}

#[test]
fn imports_every_service_with_its_ports_probes_and_dependencies() {
    let imported = eloquence(&[], &[]);
    let m = &imported.manifest;
    assert_eq!(m.name.as_deref(), Some("eloquence"));
    let names: Vec<&str> = m.services.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["api", "db", "livekit", "migrate", "redis", "tts", "vosk"]
    );
    assert!(m.services.values().all(|s| s.kind == ServiceKind::Compose));

    // Anchors and merge keys; labels.
    let redis = &m.services["redis"];
    assert_eq!(redis.restart.policy, RestartPolicy::UnlessStopped);
    assert!(redis.critical);
    assert_eq!(redis.ports[0].to_string(), "127.0.0.1:6379");
    // redis-cli ping → a Redis probe of the published port; retries/timeout carried over.
    let probe = redis.probe.as_ref().unwrap();
    assert_eq!(
        probe.check,
        ProbeCheck::Redis {
            port: 6379,
            host: "127.0.0.1".into()
        }
    );
    assert_eq!((probe.failure_threshold, probe.timeout_ms), (5, 3000));

    // ${VAR} from .env, ranges and UDP, conditions, on-failure:N, list labels.
    let livekit = &m.services["livekit"];
    let ports: Vec<String> = livekit.ports.iter().map(|p| p.to_string()).collect();
    assert_eq!(ports, ["7880", "7881", "50000-50010/udp"]);
    assert_eq!(
        livekit.depends_on.entries(),
        vec![("redis".to_owned(), Condition::Healthy)]
    );
    assert_eq!(
        (livekit.restart.policy, livekit.restart.max_restarts),
        (RestartPolicy::OnFailure, 3)
    );
    assert!(livekit.critical);
    assert_eq!(
        livekit.probe.as_ref().unwrap().check,
        ProbeCheck::Tcp {
            port: 7880,
            host: "127.0.0.1".into()
        }
    );

    // Long port syntax with a default, overlay merge (ports appended, restart replaced),
    // curl healthcheck → HTTP probe on the published port, start_period extends the start timeout.
    let api = &m.services["api"];
    let ports: Vec<String> = api.ports.iter().map(|p| p.to_string()).collect();
    assert_eq!(ports, ["8000", "9229"]);
    assert_eq!(api.restart.policy, RestartPolicy::Always);
    let probe = api.probe.as_ref().unwrap();
    match &probe.check {
        ProbeCheck::Http { url, .. } => assert_eq!(url, "http://127.0.0.1:8000/health"),
        other => panic!("{other:?}"),
    }
    assert!(probe.start_timeout_ms >= 20_000);
    assert_eq!(
        api.depends_on.entries(),
        vec![
            ("livekit".to_owned(), Condition::Started),
            ("redis".to_owned(), Condition::Started)
        ]
    );

    // include: + wget healthcheck + overlay of an included service + group label.
    let tts = &m.services["tts"];
    assert_eq!(tts.group, Group::Fallback);
    let probe = tts.probe.as_ref().unwrap();
    assert!(
        matches!(&probe.check, ProbeCheck::Http { url, .. } if url == "http://127.0.0.1:5002/health")
    );
    assert_eq!((probe.failure_threshold, probe.timeout_ms), (2, 2000));
    assert_eq!(m.services["vosk"].ports[0].to_string(), "2700");

    // Profiles: off unless active; a healthcheck that cannot run from the host stays docker's.
    assert!(!m.services["db"].enabled);
    assert_eq!(
        m.services["db"].probe.as_ref().unwrap().check,
        ProbeCheck::Compose {}
    );
    assert!(
        imported.notes.iter().any(|n| n.contains("pg_isready")),
        "{:?}",
        imported.notes
    );
    // required: false dependencies are dropped.
    assert!(m.services["migrate"].depends_on.entries().is_empty());

    // Provenance: file:line of what was imported.
    assert!(
        api.provenance["ports"].ends_with("docker-compose.override.yml:6"),
        "{:?}",
        api.provenance
    );
    assert!(
        livekit.provenance["service"].ends_with("docker-compose.yml:23"),
        "{:?}",
        livekit.provenance
    );
    assert!(
        tts.provenance["service"].contains("speech.yml"),
        "{:?}",
        tts.provenance
    );
}

#[test]
fn profiles_and_the_environment_take_part() {
    let imported = eloquence(&["db"], &[("API_PORT", "8100"), ("MOCK_PORT", "9999")]);
    let m = &imported.manifest;
    assert!(m.services["db"].enabled && m.services["migrate"].enabled);
    // The process environment wins over .env.
    assert_eq!(m.services["api"].ports[0].to_string(), "8100");
    let via_env = eloquence(&[], &[("COMPOSE_PROFILES", "db")]);
    assert!(via_env.manifest.services["db"].enabled);
    // MODE is referenced without a value: a note, not an error.
    assert!(
        imported.notes.iter().all(|n| !n.contains("MISTRAL_URL")),
        "{:?}",
        imported.notes
    );
}

#[test]
fn the_manifest_written_from_an_import_reads_back_the_same() {
    let imported = eloquence(&[], &[]);
    let text = greenroom_stack::compose::to_toml(&imported, &[PathBuf::from("docker-compose.yml")])
        .unwrap();
    let back = greenroom_stack::manifest::parse(&text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    assert_eq!(back, imported.manifest);
}

fn broken(name: &str) -> String {
    let errors = import(&ComposeOptions {
        files: vec![fixtures().join("broken").join(name)],
        ..Default::default()
    })
    .err()
    .unwrap_or_else(|| panic!("{name} must not import"));
    errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn broken_files_are_errors_with_file_and_line() {
    let cases = [
        ("bad-yaml.yml", "bad-yaml.yml:", "not valid YAML"),
        (
            "missing-required.yml",
            "missing-required.yml:5:",
            "required variable REQUIRED is missing a value: set REQUIRED in .env",
        ),
        (
            "unknown-dependency.yml",
            "unknown-dependency.yml:4",
            "`ghost`, which is not a service",
        ),
        ("bad-port.yml", "bad-port.yml:5:", "not a port"),
        ("loop.yml", "loop.yml", "includes itself"),
        (
            "not-a-mapping.yml",
            "not-a-mapping.yml:1:",
            "a compose file is a mapping",
        ),
        ("cycle.yml", "cycle.yml:", "dependency cycle"),
    ];
    for (file, location, message) in cases {
        let text = broken(file);
        assert!(
            text.contains(location) && text.contains(message),
            "{file}:\n{text}"
        );
    }
}

#[test]
fn a_missing_file_says_so() {
    let text = broken("does-not-exist.yml");
    assert!(text.contains("cannot read"), "{text}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
    /// Whatever a compose file holds, importing it never panics.
    #[test]
    fn importing_arbitrary_compose_text_never_panics(
        body in "(services:\n(  [a-c]:\n(    (image|ports|depends_on|healthcheck|restart|profiles|environment|labels|test|condition): ?(\\[|\\{)?[\"a-z0-9:$\\{\\}\\-/_., ]{0,20}(\\]|\\})?\n){0,4}){0,3}){0,1}"
    ) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("docker-compose.yml");
        std::fs::write(&file, &body).unwrap();
        let _ = import(&ComposeOptions { files: vec![file], ..Default::default() });
    }
}
