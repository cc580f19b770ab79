//! Exercise scan benchmark: `cargo bench -p greenroom-exercises --bench scan`.
//!
//! Generates a 5,000-file Flutter tree (a router registering 500 exercise screens, each
//! with its state class, plus models, services and widgets), then times a cold scan
//! (read + lex + structure + detect + score) and the team's regex baseline on the same
//! tree, in the same process. Figures are printed; nothing is asserted.

use greenroom_exercises::analysis::{StackContext, analyse};
use greenroom_exercises::rules::Compiled;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

const FILES: usize = 5000;
const SCREENS: usize = 500;

fn screen(i: usize) -> String {
    format!(
        r#"import 'dart:async';
import 'package:flutter/material.dart';
import '../core/mixin.dart';
import '../services/service_{s}.dart';

/// Exercise {i}: generated for the benchmark.
class Exercise{i}Screen extends StatefulWidget {{
  const Exercise{i}Screen({{super.key}});
  @override
  State<Exercise{i}Screen> createState() => _Exercise{i}ScreenState();
}}

class _Exercise{i}ScreenState extends State<Exercise{i}Screen> with ExerciseLiveKitMixin {{
  late AnimationController _controller;
  StreamSubscription<String>? _sub;
  final service = Service{s}();

  @override
  void initState() {{
    super.initState();
    initAudio(exerciseType: 'type_{t}');
  }}

  Future<void> load() async {{
    try {{
      await service.fetch('https://example.invalid/{i}');
    }} catch (e) {{
      debugPrint('failed: $e');
    }}
  }}

  @override
  void onTranscript(String text) {{ setState(() {{}}); }}

  @override
  void onAgentState(String state) {{}}

  @override
  void dispose() {{
    _controller.dispose();
    _sub?.cancel();
    super.dispose();
  }}

  @override
  Widget build(BuildContext context) => Column(children: [Text('Exercise {i}'), const SizedBox(height: 8)]);
}}
"#,
        s = i % 50,
        t = i % 20
    )
}

fn model(i: usize) -> String {
    let mut s = format!("/// Model {i}.\nclass Model{i} {{\n");
    for f in 0..12 {
        let _ = writeln!(s, "  final String field{f};");
    }
    let _ = writeln!(
        s,
        "  const Model{i}({{{}}});",
        (0..12)
            .map(|f| format!("required this.field{f}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        s,
        "  Map<String, dynamic> toJson() => {{{}}};\n}}",
        (0..12)
            .map(|f| format!("'field{f}': field{f}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    s
}

fn generate(root: &Path) -> u64 {
    let lib = root.join("app/lib");
    for dir in ["core", "services", "features", "models", "router"] {
        std::fs::create_dir_all(lib.join(dir)).unwrap();
    }
    std::fs::write(root.join("app/pubspec.yaml"), "name: bench_app\n").unwrap();
    std::fs::create_dir_all(root.join("agent")).unwrap();
    let routes: String = (0..20)
        .map(|t| format!("    \"type_{t}\": handler,\n"))
        .collect();
    std::fs::write(
        root.join("agent/agent.py"),
        format!("EXERCISE_ROUTES = {{\n{routes}}}\n"),
    )
    .unwrap();
    std::fs::write(
        lib.join("core/mixin.dart"),
        "mixin ExerciseLiveKitMixin<T extends StatefulWidget> on State<T> {\n  void initAudio({required String exerciseType}) {}\n}\n",
    )
    .unwrap();
    let mut bytes = 0u64;
    let mut write = |path: std::path::PathBuf, text: String| {
        bytes += text.len() as u64;
        std::fs::write(path, text).unwrap();
    };
    for s in 0..50 {
        write(
            lib.join(format!("services/service_{s}.dart")),
            format!("class Service{s} {{\n  Future<String> fetch(String url) async => url;\n}}\n"),
        );
    }
    let mut router = String::from("import 'package:go_router/go_router.dart';\n");
    for i in 0..SCREENS {
        let _ = writeln!(router, "import '../features/exercise_{i}.dart';");
        write(lib.join(format!("features/exercise_{i}.dart")), screen(i));
    }
    router.push_str("final router = GoRouter(routes: [\n");
    for i in 0..SCREENS {
        let _ = writeln!(
            router,
            "  GoRoute(path: '/exercise/{i}', builder: (c, s) => const Exercise{i}Screen()),"
        );
    }
    router.push_str("]);\n");
    write(lib.join("router/app_router.dart"), router);
    let generated = 50 + SCREENS + 2;
    for i in 0..(FILES - generated) {
        write(lib.join(format!("models/model_{i}.dart")), model(i));
    }
    bytes
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = generate(dir.path());
    let rules = Compiled::default_rules();
    // Warm the OS file cache once (a scan on save reads from memory too), then time.
    let _ = greenroom_exercises::project::read_project(dir.path(), &rules.rules.agent.paths);
    let mut ours = Vec::new();
    let mut found = 0;
    for _ in 0..3 {
        let started = Instant::now();
        let project =
            greenroom_exercises::project::read_project(dir.path(), &rules.rules.agent.paths);
        let analysis = analyse(&project, &rules, &StackContext::default());
        ours.push(started.elapsed().as_secs_f64());
        found = analysis.exercises.len();
    }
    let mut regex = Vec::new();
    let mut regex_found = 0;
    for _ in 0..3 {
        let started = Instant::now();
        regex_found = greenroom_exercises::baseline::detect(dir.path()).len();
        regex.push(started.elapsed().as_secs_f64());
    }
    ours.sort_by(f64::total_cmp);
    regex.sort_by(f64::total_cmp);
    let (t, b) = (ours[1], regex[1]);
    let mb = bytes as f64 / 1e6;
    println!(
        "greenroom exercise scan benchmark: {FILES} files, {mb:.1} MB, {SCREENS} registered exercises\n"
    );
    println!(
        "cold scan (read, lex, structure, detect, score), median of 3: {:.0} ms — {:.0} files/s, {:.1} MB/s; {found} exercises found",
        t * 1000.0,
        FILES as f64 / t,
        mb / t
    );
    println!(
        "regex baseline (detection only, no scoring), median of 3:  {:.0} ms — {:.0} files/s; {regex_found} classes matched",
        b * 1000.0,
        FILES as f64 / b
    );
    println!(
        "ratio greenroom / baseline: {:.2}× the time, for a full score instead of a name match",
        t / b
    );

    // Save → updated score, on the same tree, through the real watcher (50 ms quiet window;
    // a completed save is handled without waiting for it).
    let (tx, rx) = std::sync::mpsc::channel::<(Instant, Vec<String>)>();
    let (watcher, _) = greenroom_exercises::watch::ExerciseWatcher::start(
        dir.path(),
        Compiled::default_rules(),
        StackContext::default(),
        std::time::Duration::from_millis(50),
        move |u| {
            let _ = tx.send((Instant::now(), u.revalidated.clone()));
        },
    )
    .expect("the watcher starts");
    let file = dir.path().join("app/lib/features/exercise_7.dart");
    let original = std::fs::read_to_string(&file).unwrap();
    let mut delays = Vec::new();
    for round in 0..30 {
        let text = original.replace(
            "const SizedBox(height: 8)",
            &format!("const SizedBox(height: {})", 9 + round),
        );
        let tmp = file.with_extension("dart.tmp");
        std::fs::write(&tmp, text).unwrap();
        let written = Instant::now();
        std::fs::rename(&tmp, &file).unwrap();
        let (at, revalidated) = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("an update");
        assert_eq!(revalidated, ["exercise7_screen"]);
        delays.push((at - written).as_secs_f64() * 1000.0);
        watcher.flush(std::time::Duration::from_secs(10));
    }
    delays.sort_by(f64::total_cmp);
    let p = |q: f64| greenroom_test_support::percentile(&delays, q);
    println!("\nsave → updated score (atomic save of one screen, through the watcher), 30 saves:");
    println!(
        "p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms; only the saved exercise is scored again",
        p(0.5),
        p(0.95),
        delays[delays.len() - 1]
    );

    // Detection quality on the fixture project written for it (tests/fixtures/flutter).
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/flutter/eloquence");
    let truth = [
        "ArticulationScreen",
        "BreathingExerciseScreen",
        "ConversationExerciseScreen",
        "CosmicVoiceScreen",
        "NewExerciseScreen",
    ];
    let project = greenroom_exercises::project::read_project(&fixture, &rules.rules.agent.paths);
    let ours: Vec<String> = analyse(&project, &rules, &StackContext::default())
        .exercises
        .into_iter()
        .map(|e| e.class_name)
        .collect();
    let mut theirs: Vec<String> = greenroom_exercises::baseline::detect(&fixture)
        .into_iter()
        .map(|(n, _, _)| n)
        .collect();
    theirs.dedup();
    let pr = |found: &[String]| {
        let tp = found.iter().filter(|f| truth.contains(&f.as_str())).count() as f64;
        (tp / found.len().max(1) as f64, tp / truth.len() as f64)
    };
    let ((p1, r1), (p2, r2)) = (pr(&ours), pr(&theirs));
    println!(
        "\ndetection on the fixture project ({} exercises registered):",
        truth.len()
    );
    println!(
        "greenroom: precision {p1:.2}, recall {r1:.2}; regex baseline: precision {p2:.2}, recall {r2:.2}"
    );
}
