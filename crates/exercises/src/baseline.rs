//! The Eloquence team's current detection, implemented faithfully as a baseline.
//!
//! Their `exercise_validator.py` walks the project and matches each `.dart` file's raw text
//! against the `exercise_patterns.flutter` of its config
//! (`class\s+(\w+)Screen\s*extends\s*StatefulWidget` and
//! `class\s+(\w+)Exercise\s*extends\s*StatefulWidget`): comments and strings included,
//! `ConsumerStatefulWidget` and project base classes missed. Used by the tests and the
//! benchmark to compare precision, recall and speed.

use std::path::Path;

pub const PATTERNS: [&str; 2] = [
    r"class\s+(\w+)Screen\s*extends\s*StatefulWidget",
    r"class\s+(\w+)Exercise\s*extends\s*StatefulWidget",
];

/// (class name, file, line) of every match.
pub fn detect(root: &Path) -> Vec<(String, String, u32)> {
    let patterns: Vec<regex::Regex> = PATTERNS
        .iter()
        .map(|p| regex::Regex::new(p).expect("valid"))
        .collect();
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "dart")
                && let Ok(text) = std::fs::read_to_string(&path)
            {
                for (i, re) in patterns.iter().enumerate() {
                    for m in re.captures_iter(&text) {
                        let line = text[..m.get(0).map_or(0, |x| x.start())]
                            .matches('\n')
                            .count() as u32
                            + 1;
                        let suffix = if i == 0 { "Screen" } else { "Exercise" };
                        found.push((
                            format!("{}{suffix}", &m[1]),
                            path.display().to_string(),
                            line,
                        ));
                    }
                }
            }
        }
    }
    found.sort();
    found
}
