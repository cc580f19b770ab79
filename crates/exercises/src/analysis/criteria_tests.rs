//! Each criterion on a small in-memory app with a known answer: one that passes, one that
//! fails (and, where it can, one where it does not apply).

use super::*;
use crate::analysis::registry;
use crate::project::{Project, SourceFile};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The router registering `XScreen` at `/exercise/x`.
const ROUTER: &str = "import 'x.dart';\n\
final routes = [GoRoute(path: '/exercise/x', builder: (c, s) => XScreen())];\n";

/// An exercise that passes every criterion that does not need the stack or the agent.
const GOOD: &str = r#"import 'api.dart';
class XScreen extends StatefulWidget {}
class _XState extends State<XScreen> with ExerciseLiveKitMixin {
  Timer? _cycle; final client = ExercisesApiClient();
  @override
  void initState() {
    super.initState();
    initAudio(exerciseType: 'cosmic_voice');
  }
  void onTranscript(String t) {}
  void onAgentState(String s) {}
  Future<void> load() async {
    try {
      await client.get('/x');
    } catch (e) {}
  }
  @override
  void dispose() {
    _cycle?.cancel();
    super.dispose();
  }
}
"#;

/// A config file declaring a URL on port 8005, used by `api.dart`'s `ApiConfig.url`.
const CONFIG: &str = "class ApiConfig {\n  static const url = 'http://localhost:8005';\n}\n";
const API: &str =
    "import 'app_config.dart';\nclass ExercisesApiClient { final u = ApiConfig.url; }\n";

fn project(files: &[(&str, &str)]) -> Project {
    let root = PathBuf::from("/p");
    let files = files
        .iter()
        .map(|(rel, text)| {
            let rel = format!("lib/{rel}");
            let file = SourceFile {
                path: root.join(&rel),
                rel: rel.clone(),
                hash: crate::project::hash(text.as_bytes()),
                bytes: text.len() as u64,
                dart: crate::dart::read(text),
            };
            (rel, file)
        })
        .collect();
    Project {
        packages: vec![Package {
            root: root.clone(),
            name: "app".into(),
            files,
        }],
        root,
        ..Default::default()
    }
}

/// The verdict of `id` on `XScreen` in an app of `router.dart` and `x.dart` = `screen` (and
/// `app_config.dart`, `api.dart`), in `stack`, with an agent routing `routed`.
fn judged(id: CriterionId, screen: &str, stack: StackContext, routed: &[&str]) -> Judgement {
    let project = project(&[
        ("router.dart", ROUTER),
        ("x.dart", screen),
        ("app_config.dart", CONFIG),
        ("api.dart", API),
    ]);
    let rules = Compiled::default_rules();
    let index = Index::new(&project, &rules);
    let routing = registry::routing(&project, &index, &rules);
    let regs = &routing.by_widget["XScreen"];
    let located = &index.classes["XScreen"];
    let subject = Subject::new(located, regs, &[], &index, &rules);
    let drifts = super::super::drift::drift(&project, &rules, &stack);
    let routed: BTreeSet<String> = routed.iter().map(|t| (*t).to_owned()).collect();
    let unreached = Default::default();
    let around = Surroundings {
        stack: &stack,
        routed: &routed,
        unreached: &unreached,
        drifts: &drifts,
    };
    judge(id, &subject, &around)
}

fn good(id: CriterionId) -> Judgement {
    judged(id, GOOD, StackContext::default(), &["cosmic_voice"])
}

/// `GOOD` with `from` replaced by `to` (which must be there).
fn edited(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "{from}");
    GOOD.replacen(from, to, 1)
}

fn messages(j: &Judgement) -> Vec<(&str, u32)> {
    j.findings
        .iter()
        .map(|f| (f.message.as_str(), f.line))
        .collect()
}

#[test]
fn registered_says_where() {
    let j = good(CriterionId::Registered);
    assert_eq!(j.passed, Some(true));
    assert_eq!(messages(&j), [("registered at /exercise/x", 2)]);
    assert_eq!(j.findings[0].file, "/p/lib/router.dart");
}

#[test]
fn mixin_callbacks_must_all_be_implemented() {
    assert_eq!(
        good(CriterionId::MixinCallbacks),
        Judgement::unless_found(vec![])
    );
    let screen = edited("  void onAgentState(String s) {}\n", "");
    let j = judged(
        CriterionId::MixinCallbacks,
        &screen,
        StackContext::default(),
        &[],
    );
    assert_eq!(j.passed, Some(false));
    assert_eq!(
        messages(&j),
        [("`onAgentState` of the exercise mixin is not implemented", 3)]
    );
    let no_mixin = edited(" with ExerciseLiveKitMixin", "");
    let j = judged(
        CriterionId::MixinCallbacks,
        &no_mixin,
        StackContext::default(),
        &[],
    );
    assert_eq!(j, Judgement::not_applicable());
}

#[test]
fn audio_init_needs_a_real_type() {
    let j = good(CriterionId::AudioInit);
    assert_eq!(j.passed, Some(true));
    assert_eq!(messages(&j), [("audio initialised as `cosmic_voice`", 8)]);

    let placeholder = edited("'cosmic_voice'", "'TEMPLATE_EXERCISE_TYPE'");
    let j = judged(
        CriterionId::AudioInit,
        &placeholder,
        StackContext::default(),
        &[],
    );
    assert_eq!(j.passed, Some(false));
    assert_eq!(
        messages(&j),
        [(
            "the exercise type `TEMPLATE_EXERCISE_TYPE` is a placeholder, not a real type",
            8
        )]
    );

    let no_call = edited("    initAudio(exerciseType: 'cosmic_voice');\n", "");
    let j = judged(
        CriterionId::AudioInit,
        &no_call,
        StackContext::default(),
        &[],
    );
    assert_eq!(
        (j.passed, messages(&j)),
        (
            Some(false),
            vec![(
                "initState does not start the audio: it calls none of initAudio, initializeAudio, directly or through the screen's own methods",
                6
            )]
        )
    );
}

#[test]
fn dispose_must_release_every_releasable_field() {
    assert_eq!(good(CriterionId::Dispose), Judgement::unless_found(vec![]));
    let leaks = edited("    _cycle?.cancel();\n", "");
    let j = judged(CriterionId::Dispose, &leaks, StackContext::default(), &[]);
    assert_eq!(j.passed, Some(false));
    assert_eq!(
        messages(&j),
        [(
            "`_cycle` (Timer) is not released in dispose (call _cycle.cancel() on it)",
            4
        )]
    );
    let nothing = edited("  Timer? _cycle;", "");
    let j = judged(CriterionId::Dispose, &nothing, StackContext::default(), &[]);
    assert_eq!(j, Judgement::not_applicable());
}

#[test]
fn agent_routing_needs_the_type_routed() {
    let j = good(CriterionId::AgentRouting);
    assert_eq!(j.passed, Some(true));
    assert_eq!(
        messages(&j),
        [(
            "the agent routes `cosmic_voice`, the type this exercise sends",
            8
        )]
    );

    let j = judged(
        CriterionId::AgentRouting,
        GOOD,
        StackContext::default(),
        &["breathing", "debate"],
    );
    assert_eq!(j.passed, Some(false));
    assert_eq!(
        messages(&j),
        [(
            "the agent does not route `cosmic_voice`: it will silently fall back to another exercise (it routes: breathing, debate)",
            8
        )]
    );

    let j = judged(
        CriterionId::AgentRouting,
        GOOD,
        StackContext::default(),
        &[],
    );
    assert_eq!(j.passed, None, "no agent source: does not apply");
    assert!(
        j.findings[0]
            .message
            .starts_with("no agent source found under agent, ")
    );
}

#[test]
fn endpoint_drift_counts_only_entries_it_uses() {
    let published = |ports: &[u16]| StackContext {
        published_ports: Some(ports.iter().copied().collect()),
        healthy: None,
    };
    assert_eq!(
        good(CriterionId::EndpointDrift),
        Judgement::not_applicable()
    );
    let j = judged(CriterionId::EndpointDrift, GOOD, published(&[8005]), &[]);
    assert_eq!(j, Judgement::unless_found(vec![]));

    let j = judged(CriterionId::EndpointDrift, GOOD, published(&[7880]), &[]);
    assert_eq!(j.passed, Some(false));
    assert_eq!(
        messages(&j),
        [(
            "the app calls port 8005 (http://localhost:8005) but the stack publishes no port 8005; it publishes 7880",
            2
        )]
    );
    assert_eq!(j.findings[0].file, "/p/lib/app_config.dart");

    // Importing the config without naming `url` is not affected.
    let unused = edited("import 'api.dart';", "import 'app_config.dart';");
    let j = judged(CriterionId::EndpointDrift, &unused, published(&[7880]), &[]);
    assert_eq!(j, Judgement::unless_found(vec![]));
}

#[test]
fn services_healthy_needs_every_required_service_up() {
    let running = |health: &[(&str, bool)]| StackContext {
        published_ports: None,
        healthy: Some(health.iter().map(|(n, h)| ((*n).to_owned(), *h)).collect()),
    };
    assert_eq!(
        good(CriterionId::ServicesHealthy),
        Judgement::not_applicable()
    );
    // The mixin needs livekit-server and token-service; `ExercisesApiClient` the API.
    let all = [("livekit", true), ("token-service", true), ("api", true)];
    let j = judged(CriterionId::ServicesHealthy, GOOD, running(&all), &[]);
    assert_eq!(j, Judgement::unless_found(vec![]));

    let j = judged(
        CriterionId::ServicesHealthy,
        GOOD,
        running(&[("livekit", false), ("token-service", true)]),
        &[],
    );
    assert_eq!(j.passed, Some(false));
    assert_eq!(
        messages(&j),
        [
            ("`livekit` (livekit-server) is not healthy", 2),
            (
                "the stack has no service for exercises-api (looked for exercises-api, eloquence-exercises-api, eloquence_exercises_api, api)",
                2
            )
        ]
    );
}

#[test]
fn error_handling_wants_network_calls_guarded() {
    assert_eq!(
        good(CriterionId::ErrorHandling),
        Judgement::unless_found(vec![])
    );
    let bare = edited(
        "    try {\n      await client.get('/x');\n    } catch (e) {}\n",
        "    await client.get('/x');\n",
    );
    let j = judged(
        CriterionId::ErrorHandling,
        &bare,
        StackContext::default(),
        &[],
    );
    assert_eq!(j.passed, Some(false));
    assert_eq!(
        messages(&j),
        [(
            "`client.get(…)` is not in a try block and has no .catchError",
            13
        )]
    );
}

#[test]
fn template_changed_wants_no_placeholder_left() {
    assert_eq!(
        good(CriterionId::TemplateChanged),
        Judgement::not_applicable()
    );
    let copy = |title: &str| {
        edited(
            "class XScreen extends StatefulWidget {}",
            &format!(
                "class XScreen extends ExerciseTemplateScreen {{ final t = \"{title}\"; }}\n\
                 class ExerciseTemplateScreen extends StatefulWidget {{}}"
            ),
        )
    };
    let j = judged(
        CriterionId::TemplateChanged,
        &copy("Cosmic voice"),
        StackContext::default(),
        &[],
    );
    assert_eq!(j, Judgement::unless_found(vec![]));
    let j = judged(
        CriterionId::TemplateChanged,
        &copy("Titre de l'exercice"),
        StackContext::default(),
        &[],
    );
    assert_eq!(j.passed, Some(false));
    assert_eq!(
        messages(&j),
        [(
            "still the template's placeholder: \"Titre de l'exercice\"",
            2
        )]
    );
}

#[test]
fn no_criterion_fails_the_good_exercise() {
    let verdicts: BTreeMap<CriterionId, Option<bool>> = CriterionId::ALL
        .into_iter()
        .map(|id| (id, good(id).passed))
        .collect();
    assert!(verdicts.values().all(|p| *p != Some(false)), "{verdicts:?}");
}

/// A screen that starts its session through a Riverpod provider, in `initState` through one
/// of its own methods, and never ends it.
const PROVIDED: &str = r#"import 'session.dart';
class XScreen extends ConsumerStatefulWidget {}
class _XState extends ConsumerState<XScreen> {
  @override
  void initState() {
    super.initState();
    WidgetsBinding.instance.addPostFrameCallback((_) => _begin());
  }
  Future<void> _begin() async {
    final notifier = ref.read(sessionProvider.notifier);
    await notifier.startSession(userId: 'u');
  }
  @override
  void dispose() {
    super.dispose();
  }
}
"#;

fn judged_with_provider(id: CriterionId, screen: &str, provider: &str) -> Judgement {
    let session = format!(
        "import 'package:livekit_client/livekit_client.dart';\nclass SessionNotifier {{}}\nfinal sessionProvider = {provider};\n"
    );
    let project = project(&[
        ("router.dart", ROUTER),
        ("x.dart", screen),
        ("session.dart", &session),
    ]);
    let rules = Compiled::default_rules();
    let index = Index::new(&project, &rules);
    let routing = registry::routing(&project, &index, &rules);
    let subject = Subject::new(
        &index.classes["XScreen"],
        &routing.by_widget["XScreen"],
        &[],
        &index,
        &rules,
    );
    let stack = StackContext::default();
    let (routed, unreached) = (BTreeSet::new(), Default::default());
    let around = Surroundings {
        stack: &stack,
        routed: &routed,
        unreached: &unreached,
        drifts: &[],
    };
    judge(id, &subject, &around)
}

#[test]
fn a_session_started_through_a_provider_counts_for_audio_and_must_end_in_dispose() {
    let plain = "StateNotifierProvider<SessionNotifier, int>((ref) => SessionNotifier())";
    let j = judged_with_provider(CriterionId::AudioInit, PROVIDED, plain);
    assert_eq!(
        (j.passed, messages(&j)),
        (
            Some(true),
            vec![(
                "the audio session starts from initState: initState → _begin → sessionProvider.startSession",
                11
            )]
        )
    );
    let j = judged_with_provider(CriterionId::Dispose, PROVIDED, plain);
    assert_eq!(j.passed, Some(false));
    assert_eq!(
        messages(&j),
        [(
            "initState → _begin → sessionProvider.startSession starts a session that dispose() never ends, and `sessionProvider` is not autoDispose (session.dart:3): leaving the screen keeps it running",
            11
        )]
    );
    // Ended in dispose, or a provider that ends with its last listener: passes.
    let ended = PROVIDED.replace(
        "    super.dispose();",
        "    ref.read(sessionProvider.notifier).endSession();\n    super.dispose();",
    );
    assert_eq!(
        judged_with_provider(CriterionId::Dispose, &ended, plain).passed,
        Some(true)
    );
    let auto =
        "StateNotifierProvider.autoDispose<SessionNotifier, int>((ref) => SessionNotifier())";
    assert_eq!(
        judged_with_provider(CriterionId::Dispose, PROVIDED, auto).passed,
        Some(true)
    );
    // Started from build instead: audio fails and says where.
    let in_build = PROVIDED
        .replace(
            "    WidgetsBinding.instance.addPostFrameCallback((_) => _begin());\n",
            "",
        )
        .replace(
            "  Future<void> _begin() async {",
            "  Widget build(BuildContext context) {",
        );
    let j = judged_with_provider(CriterionId::AudioInit, &in_build, plain);
    assert_eq!(j.passed, Some(false));
    assert!(
        j.findings[0].message.starts_with(
            "the audio session starts in build (build → sessionProvider.startSession)"
        ),
        "{:?}",
        j.findings
    );
}

#[test]
fn lan_addresses_but_not_the_emulators_host_aliases() {
    use super::super::registry::lan_address;
    assert_eq!(
        lan_address("http://192.168.1.44:8005"),
        Some("192.168.1.44")
    );
    assert_eq!(lan_address("ws://10.1.2.3"), Some("10.1.2.3"));
    assert_eq!(lan_address("172.20.0.5"), Some("172.20.0.5"));
    assert_eq!(lan_address("http://10.0.2.2:8000"), None);
    assert_eq!(lan_address("172.32.0.1 and 8.8.8.8 and v1.2.3.4"), None);
    assert_eq!(lan_address("192.168.1"), None);
}
