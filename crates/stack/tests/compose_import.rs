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
        missing_env_files_are_notes: false,
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

mod arbitrary_documents {
    use super::*;
    use proptest::prelude::*;

    /// A scalar as a compose file may hold one (plain, quoted, a reference, a path…).
    fn scalar() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z]{1,6}",
            prop::sample::select(vec![
                "12",
                "1.5",
                "true",
                "null",
                "~",
                "yes",
                "2001-12-14",
                "\"\"",
                "\"8000:80\"",
                "\"127.0.0.1:7000-7001:7000-7001/udp\"",
                "\"service:web\"",
                "\"service:ghost\"",
                "\"db:ro\"",
                "\"db:alias\"",
                "\"container:c\"",
                "\"${VAR:-x}\"",
                "\"${VAR:?no}\"",
                "\"oci://r/x\"",
                "\"git@h:x.git\"",
                "missing.env",
                "\"../x.yml\"",
                "service_healthy",
                "service_started",
                "\"false\"",
                "x-a",
            ])
            .prop_map(str::to_owned),
        ]
    }

    /// A key compose knows (or nearly: typos and extensions too).
    fn key() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "image",
            "build",
            "ports",
            "links",
            "depends_on",
            "network_mode",
            "volumes_from",
            "ipc",
            "pid",
            "env_file",
            "environment",
            "profiles",
            "healthcheck",
            "test",
            "condition",
            "required",
            "path",
            "published",
            "target",
            "extends",
            "networks",
            "restart",
            "labels",
            "command",
            "imgae",
            "x-a",
            "web",
            "db",
            "include",
            "services",
        ])
        .prop_map(str::to_owned)
    }

    fn value() -> impl Strategy<Value = String> {
        scalar().prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4)
                    .prop_map(|items| format!("[{}]", items.join(", "))),
                prop::collection::vec((key(), inner), 0..4).prop_map(|entries| {
                    let entries: Vec<String> =
                        entries.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                    format!("{{{}}}", entries.join(", "))
                }),
            ]
        })
    }

    /// A service name, or one that is not defined.
    fn reference() -> impl Strategy<Value = String> {
        prop::sample::select(vec!["web", "db", "cache", "ghost"]).prop_map(str::to_owned)
    }

    /// A service entry of the right shape (so that most documents reach the service rules).
    fn good_entry() -> impl Strategy<Value = String> {
        let refs = || prop::collection::vec(reference(), 0..3);
        prop_oneof![
            refs().prop_map(|r| format!("links: [{}]", r.join(", "))),
            refs().prop_map(|r| format!(
                "volumes_from: [{}]",
                r.iter()
                    .map(|n| format!("\"{n}:ro\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            (
                prop::sample::select(vec!["network_mode", "ipc", "pid", "uts"]),
                reference()
            )
                .prop_map(|(k, r)| format!("{k}: \"service:{r}\"")),
            refs().prop_map(|r| format!("depends_on: [{}]", r.join(", "))),
            (
                reference(),
                prop::sample::select(vec![
                    "service_started",
                    "service_healthy",
                    "service_completed_successfully"
                ]),
                any::<bool>()
            )
                .prop_map(|(r, c, req)| format!(
                    "depends_on: {{{r}: {{condition: {c}, required: {req}}}}}"
                )),
            prop::collection::vec(
                prop::sample::select(vec![
                    "\"8000:80\"",
                    "\"127.0.0.1:7000-7002:7000-7002/udp\"",
                    "80",
                    "{target: 80, published: \"8080\"}",
                    "\"99999:1\""
                ]),
                0..3
            )
            .prop_map(|p| format!("ports: [{}]", p.join(", "))),
            prop::sample::select(vec![
                "env_file: missing.env",
                "env_file: [{path: missing.env, required: false}]",
                "env_file: []"
            ])
            .prop_map(str::to_owned),
            prop::sample::select(vec![
                "profiles: [p]",
                "profiles: []",
                "environment: {A: 1}",
                "environment: [\"A=1\"]"
            ])
            .prop_map(str::to_owned),
            prop::sample::select(vec![
                "healthcheck: {test: [\"CMD\", \"curl\", \"http://localhost:80/\"]}",
                "healthcheck: {test: \"redis-cli ping\", retries: 2}",
                "restart: \"on-failure:3\"",
                "extends: web",
                "networks: [default]"
            ])
            .prop_map(str::to_owned),
        ]
    }

    /// A small compose document: services of mostly the right shape with some arbitrary
    /// keys and values, and top-level keys.
    fn document() -> impl Strategy<Value = String> {
        let service = (
            any::<bool>(),
            prop::collection::vec(good_entry(), 0..5),
            prop::option::weighted(0.2, (key(), value())),
        )
            .prop_map(|(image, good, random)| {
                let mut entries: Vec<String> = Vec::new();
                if image {
                    entries.push("image: x".into());
                }
                entries.extend(good);
                entries.extend(random.iter().map(|(k, v)| format!("{k}: {v}")));
                entries
            });
        let services = prop::collection::vec((reference(), service), 0..4);
        let top = prop::collection::vec(
            (
                prop::sample::select(vec!["name", "x-common", "include", "networks", "servics"]),
                value(),
            ),
            0..2,
        );
        (services, top, 0..8u8).prop_map(|(services, top, shape)| {
            let mut text = String::new();
            if shape > 0 && services.is_empty() {
                text.push_str("services: {}\n");
            } else if shape > 0 {
                text.push_str("services:\n");
                for (name, entries) in services {
                    text.push_str(&format!("  {name}: {{{}}}\n", entries.join(", ")));
                }
            }
            // Now and then, arbitrary top-level keys too.
            if shape < 3 {
                for (k, v) in top {
                    text.push_str(&format!("{k}: {v}\n"));
                }
            }
            text
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Whatever small YAML document a compose file is, importing it (alone, or after
        /// another file) never panics, and a refusal always says where.
        #[test]
        fn importing_arbitrary_yaml_documents_never_panics(body in document(), overlay in document()) {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("docker-compose.yml");
            let over = dir.path().join("override.yml");
            std::fs::write(&file, &body).unwrap();
            std::fs::write(&over, &overlay).unwrap();
            for files in [vec![file.clone()], vec![file.clone(), over.clone()]] {
                if let Err(errors) = import(&ComposeOptions { files, ..Default::default() }) {
                    prop_assert!(!errors.is_empty());
                    for e in errors {
                        prop_assert!(!e.location.file.as_os_str().is_empty(), "{e}");
                    }
                }
            }
        }
    }
}

#[test]
fn a_missing_env_file_with_a_template_beside_it_says_to_copy_the_template() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("compose.yml"),
        "services:\n  api:\n    image: x\n    env_file: .env\n",
    )
    .unwrap();
    std::fs::write(dir.path().join(".env.example"), "KEY=\n").unwrap();
    let errors = import(&ComposeOptions {
        files: vec![dir.path().join("compose.yml")],
        ..Default::default()
    })
    .expect_err("compose refuses a missing env_file");
    let told = errors[0].to_string();
    assert!(told.contains("compose.yml:4"), "{told}");
    assert!(told.contains("copy `.env.example` to `.env`"), "{told}");
}
