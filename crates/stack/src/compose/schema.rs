//! The shape compose's schema gives a compose file, checked on each file as it is read
//! (before interpolation: `${…}` only changes a string's text, never its type).
//!
//! Compose refuses a file its schema rejects, so Greenroom does too, with the line:
//! - **keys**: at the top (`version`, `name`, `include`, `services`, `networks`, `volumes`,
//!   `secrets`, `configs`, `models`), in a service ([`SERVICE_FIELDS`]), in a `depends_on`
//!   entry, a `healthcheck`, a long-syntax port, a long-syntax `env_file` and an `include`
//!   entry. Keys starting with `x-` are allowed everywhere; a key that is not a string
//!   (`12:`) is refused.
//! - **types**: each field's value must be of a type the schema allows (`ports` a list,
//!   `environment` a list or a mapping, `command` null, a string or a list, `image` a
//!   string…), and so must the items of lists whose items the schema types (`profiles`,
//!   `links`, the list form of `environment`…). Values are typed as compose's YAML reader
//!   types them ([`kind`]): `yes` and `on` are strings, `12`, `0x1F`, `1_000` and `1.5`
//!   are numbers, `2001-12-14` is a date. Where compose casts a string (`required:
//!   "false"`), a string is allowed.
//! - a `depends_on` condition is one of `service_started`, `service_healthy`,
//!   `service_completed_successfully` (a `${…}` one is checked once interpolated); a
//!   long-syntax `env_file` and a mapping `include` entry have a `path`.
//!
//! The fields' list is written from compose-spec's schema (compose-go v2.9.1); deeper
//! structures Greenroom does not read (`deploy`, `build`, `networks` entries…) are not checked.

use super::error_at;
use crate::manifest::DefinitionError;
use crate::yaml::{YamlNode, YamlValue};
use std::path::Path;
use std::sync::OnceLock;

/// What a YAML value is, typed as compose's YAML reader (YAML 1.2's core schema) types it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Bool,
    Number,
    Date,
    Str,
    List,
    Map,
}

const NULL: u8 = 1;
const BOOL: u8 = 2;
const NUM: u8 = 4;
/// No field takes a date (`2001-12-14` unquoted): compose wants a string.
const DATE: u8 = 8;
const STR: u8 = 16;
const LIST: u8 = 32;
const MAP: u8 = 64;
/// A mapping's value in `environment`, `labels`…: a string, a number, a boolean or null.
const SCALAR: u8 = STR | NUM | BOOL | NULL;

impl Kind {
    fn bit(self) -> u8 {
        match self {
            Kind::Null => NULL,
            Kind::Bool => BOOL,
            Kind::Number => NUM,
            Kind::Date => DATE,
            Kind::Str => STR,
            Kind::List => LIST,
            Kind::Map => MAP,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "a boolean",
            Kind::Number => "a number",
            Kind::Date => "a date",
            Kind::Str => "a string",
            Kind::List => "a list",
            Kind::Map => "a mapping",
        }
    }
}

/// `a string or a list`, from a set of kinds.
fn describe(kinds: u8) -> String {
    let names: Vec<&str> = [
        (STR, "a string"),
        (NUM, "a number"),
        (BOOL, "a boolean"),
        (LIST, "a list"),
        (MAP, "a mapping"),
        (NULL, "null"),
    ]
    .iter()
    .filter(|(bit, _)| kinds & bit != 0)
    .map(|(_, name)| *name)
    .collect();
    match names.as_slice() {
        [] => "nothing".into(),
        [one] => (*one).into(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// The type compose's YAML reader gives a node.
fn kind(node: &YamlNode) -> Kind {
    match &node.value {
        YamlValue::Null => Kind::Null,
        YamlValue::Seq(_) => Kind::List,
        YamlValue::Map(_) => Kind::Map,
        YamlValue::Scalar { plain: false, .. } => Kind::Str,
        YamlValue::Scalar { text, plain: true } => plain_kind(text),
    }
}

fn plain_kind(text: &str) -> Kind {
    match text {
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => return Kind::Bool,
        "~" | "null" | "Null" | "NULL" | "" => return Kind::Null,
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => return Kind::Number,
        _ => {}
    }
    // Numbers start with a sign, a digit or a dot; underscores are ignored inside.
    if text.starts_with([
        '+', '-', '.', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9',
    ]) {
        let digits = text.replace('_', "");
        let unsigned = digits.trim_start_matches(['+', '-']);
        let radix = |prefix: &str, radix: u32| {
            unsigned
                .strip_prefix(prefix)
                .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_digit(radix)))
        };
        if digits.len() - unsigned.len() <= 1
            && (radix("0x", 16) || radix("0o", 8) || radix("0b", 2))
        {
            return Kind::Number;
        }
        static FLOAT: OnceLock<regex::Regex> = OnceLock::new();
        let float = FLOAT.get_or_init(|| {
            regex::Regex::new(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
                .expect("a valid regex")
        });
        if float.is_match(&digits) {
            return Kind::Number;
        }
    }
    static DATE: OnceLock<regex::Regex> = OnceLock::new();
    let date = DATE.get_or_init(|| {
        regex::Regex::new(
            r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\.[0-9]*)?(Z|[-+][0-9]{1,2}(:[0-9]{2})?)?)?$",
        )
        .expect("a valid regex")
    });
    if date.is_match(text) {
        Kind::Date
    } else {
        Kind::Str
    }
}

/// One key compose knows, and what its value may be.
#[derive(Debug, Clone, Copy)]
struct Field {
    name: &'static str,
    /// The kinds the value may be.
    may_be: u8,
    /// When the value is a list: the kinds its items may be (0: not checked).
    items: u8,
    /// When the value is a mapping: the kinds its values may be (0: not checked).
    values: u8,
    /// An example for the hint (empty: none).
    example: &'static str,
}

const fn f(name: &'static str, may_be: u8) -> Field {
    Field {
        name,
        may_be,
        items: 0,
        values: 0,
        example: "",
    }
}

const fn list(name: &'static str, may_be: u8, items: u8) -> Field {
    Field {
        name,
        may_be,
        items,
        values: 0,
        example: "",
    }
}

const fn list_or_map(name: &'static str, values: u8) -> Field {
    Field {
        name,
        may_be: LIST | MAP,
        items: STR,
        values,
        example: "",
    }
}

const fn eg(field: Field, example: &'static str) -> Field {
    Field { example, ..field }
}

/// Every key of a service in compose-spec's schema (compose-go v2.9.1), with the types it allows.
const SERVICE_FIELDS: &[Field] = &[
    list_or_map("annotations", SCALAR),
    f("attach", BOOL | STR),
    eg(
        f("build", STR | MAP),
        "build: ./api (or build: {context: ./api, dockerfile: Dockerfile})",
    ),
    f("blkio_config", MAP),
    list("cap_add", LIST, STR),
    list("cap_drop", LIST, STR),
    f("cgroup", STR),
    f("cgroup_parent", STR),
    eg(
        list("command", NULL | STR | LIST, STR),
        "command: [\"python\", \"app.py\"] (or one string, run by a shell)",
    ),
    list("configs", LIST, STR | MAP),
    f("container_name", STR),
    f("cpu_count", STR | NUM),
    f("cpu_percent", STR | NUM),
    f("cpu_shares", NUM | STR),
    f("cpu_quota", NUM | STR),
    f("cpu_period", NUM | STR),
    f("cpu_rt_period", NUM | STR),
    f("cpu_rt_runtime", NUM | STR),
    f("cpus", NUM | STR),
    f("cpuset", STR),
    f("credential_spec", MAP),
    eg(
        Field {
            name: "depends_on",
            may_be: LIST | MAP,
            items: STR,
            values: MAP,
            example: "",
        },
        "depends_on: [db] (or depends_on: {db: {condition: service_healthy}})",
    ),
    f("deploy", MAP | NULL),
    f("develop", MAP | NULL),
    list("device_cgroup_rules", LIST, STR),
    list("devices", LIST, STR | MAP),
    list("dns", STR | LIST, STR),
    list("dns_opt", LIST, STR),
    list("dns_search", STR | LIST, STR),
    f("domainname", STR),
    list("entrypoint", NULL | STR | LIST, STR),
    eg(
        list("env_file", STR | LIST, STR | MAP),
        "env_file: [.env] (or env_file: [{path: .env, required: false}])",
    ),
    eg(
        list_or_map("environment", SCALAR),
        "environment: {DEBUG: \"1\"} (or environment: [\"DEBUG=1\"])",
    ),
    list("expose", LIST, STR | NUM),
    f("extends", STR | MAP),
    list("external_links", LIST, STR),
    Field {
        name: "extra_hosts",
        may_be: LIST | MAP,
        items: STR,
        values: STR | LIST,
        example: "",
    },
    f("gpus", STR | LIST),
    list("group_add", LIST, STR | NUM),
    eg(
        f("healthcheck", MAP),
        "healthcheck: {test: [\"CMD\", \"curl\", \"-f\", \"http://localhost:8000/health\"]}",
    ),
    f("hostname", STR),
    eg(
        f("image", STR),
        "image: \"redis:7\" (quote a name YAML would read as a number)",
    ),
    f("init", BOOL | STR),
    f("ipc", STR),
    f("isolation", STR),
    list("label_file", STR | LIST, STR),
    eg(
        list_or_map("labels", SCALAR),
        "labels: {greenroom.critical: \"true\"} (or labels: [\"greenroom.critical=true\"])",
    ),
    eg(list("links", LIST, STR), "links: [db, \"cache:c\"]"),
    f("logging", MAP),
    f("mac_address", STR),
    f("mem_limit", NUM | STR),
    f("mem_reservation", STR | NUM),
    f("mem_swappiness", NUM | STR),
    f("memswap_limit", NUM | STR),
    f("models", LIST | MAP),
    f("network_mode", STR),
    f("networks", LIST | MAP),
    f("oom_kill_disable", BOOL | STR),
    f("oom_score_adj", STR | NUM),
    f("pid", STR | NULL),
    f("pids_limit", NUM | STR),
    f("platform", STR),
    eg(
        list("ports", LIST, NUM | STR | MAP),
        "ports: [\"8000:8000\"] (or the long syntax: [{target: 8000, published: \"8000\"}])",
    ),
    list("post_start", LIST, MAP),
    list("pre_stop", LIST, MAP),
    f("privileged", BOOL | STR),
    eg(list("profiles", LIST, STR), "profiles: [debug]"),
    f("provider", MAP),
    f("pull_policy", STR),
    f("pull_refresh_after", STR),
    f("read_only", BOOL | STR),
    eg(
        f("restart", STR),
        "restart: \"no\" (quoted: YAML reads a bare no as false)",
    ),
    f("runtime", STR),
    f("scale", NUM | STR),
    list("secrets", LIST, STR | MAP),
    list("security_opt", LIST, STR),
    f("shm_size", NUM | STR),
    f("stdin_open", BOOL | STR),
    f("stop_grace_period", STR),
    f("stop_signal", STR),
    f("storage_opt", MAP),
    list_or_map("sysctls", SCALAR),
    list("tmpfs", STR | LIST, STR),
    f("tty", BOOL | STR),
    f("ulimits", MAP),
    f("use_api_socket", BOOL | STR),
    f("user", STR),
    f("userns_mode", STR),
    f("uts", STR),
    list("volumes", LIST, STR | MAP),
    eg(
        list("volumes_from", LIST, STR),
        "volumes_from: [files, \"logs:ro\"]",
    ),
    f("working_dir", STR),
];

const TOP_FIELDS: &[Field] = &[
    f("version", STR),
    f("name", STR),
    eg(
        list("include", LIST, STR | MAP),
        "include: [other/compose.yml] (or include: [{path: other/compose.yml}])",
    ),
    f("services", MAP),
    f("models", MAP),
    f("networks", MAP),
    f("volumes", MAP),
    f("secrets", MAP),
    f("configs", MAP),
];

const INCLUDE_FIELDS: &[Field] = &[
    list("path", STR | LIST, STR),
    list("env_file", STR | LIST, STR),
    f("project_directory", STR),
];

const DEPENDS_ON_FIELDS: &[Field] = &[
    f("condition", STR),
    f("required", BOOL | STR),
    f("restart", BOOL | STR),
];

const HEALTHCHECK_FIELDS: &[Field] = &[
    f("disable", BOOL | STR),
    f("interval", STR),
    f("retries", NUM | STR),
    list("test", STR | LIST, STR),
    f("timeout", STR),
    f("start_period", STR),
    f("start_interval", STR),
];

const PORT_FIELDS: &[Field] = &[
    f("name", STR),
    f("mode", STR),
    f("host_ip", STR),
    f("target", NUM | STR),
    f("published", STR | NUM),
    f("protocol", STR),
    f("app_protocol", STR),
];

const ENV_FILE_FIELDS: &[Field] = &[f("path", STR), f("format", STR), f("required", BOOL | STR)];

const CONDITIONS: [&str; 3] = [
    "service_started",
    "service_healthy",
    "service_completed_successfully",
];

struct Checker<'a> {
    file: &'a Path,
    errors: Vec<DefinitionError>,
}

/// Checks one compose file's root mapping; every problem found, each with its line.
pub(super) fn check_file(file: &Path, root: &YamlNode) -> Vec<DefinitionError> {
    let mut checker = Checker {
        file,
        errors: Vec::new(),
    };
    checker.mapping("", root, TOP_FIELDS);
    if let Some(include) = root.get("include") {
        for (i, entry) in include.as_seq().unwrap_or_default().iter().enumerate() {
            if entry.as_map().is_some() {
                checker.mapping(&format!("include[{i}]"), entry, INCLUDE_FIELDS);
                if entry.get("path").is_none() {
                    checker.error(
                        entry,
                        format!("include[{i}] has no `path`"),
                        Some("name the file to include: `- path: other/compose.yml`"),
                    );
                }
            }
        }
    }
    if let Some(services) = root.get("services").and_then(YamlNode::as_map) {
        for (key, service) in services {
            let Some(name) = key.as_str() else { continue };
            let at = format!("services.{name}");
            if kind(service) != Kind::Map {
                checker.error(
                    if service.is_null() { key } else { service },
                    format!("{at} must be a mapping, this is {}", kind(service).name()),
                    Some("give the service its keys (image, ports…) indented under its name"),
                );
                continue;
            }
            checker.service(&at, service);
        }
    }
    checker.errors
}

impl Checker<'_> {
    fn error(&mut self, node: &YamlNode, message: String, hint: Option<&str>) {
        self.errors
            .push(error_at(self.file, Some(node), message, hint));
    }

    /// The keys of a mapping (`fields`, and `x-` ones), and the types of their values.
    fn mapping(&mut self, at: &str, node: &YamlNode, fields: &[Field]) {
        let Some(entries) = node.as_map() else {
            return;
        };
        let path = |key: &str| {
            if at.is_empty() {
                key.to_owned()
            } else {
                format!("{at}.{key}")
            }
        };
        for (key, value) in entries {
            let name = match (kind(key), key.as_str()) {
                (Kind::Str, Some(name)) => name,
                _ => {
                    self.error(
                        key,
                        format!(
                            "{}: the key `{}` is {}, compose wants a string",
                            if at.is_empty() { "the file" } else { at },
                            key.as_str().unwrap_or("?"),
                            kind(key).name()
                        ),
                        Some("quote it, or fix the indentation"),
                    );
                    continue;
                }
            };
            if name.starts_with("x-") {
                continue;
            }
            let Some(field) = fields.iter().find(|f| f.name == name) else {
                let hint = match suggest(name, fields) {
                    Some(near) => format!(
                        "did you mean `{near}`? A key of your own must start with x- (compose refuses any other)"
                    ),
                    None => {
                        "remove it, or start it with x- to keep it as an extension (compose refuses any other)".to_owned()
                    }
                };
                self.error(
                    key,
                    format!(
                        "{}: unknown key `{name}`",
                        if at.is_empty() { "the file" } else { at }
                    ),
                    Some(&hint),
                );
                continue;
            };
            self.value(&path(name), key, value, field);
        }
    }

    /// The value of `key`: its type, and its items' or values' types.
    fn value(&mut self, at: &str, key: &YamlNode, value: &YamlNode, field: &Field) {
        let k = kind(value);
        let hint = if field.example.is_empty() {
            "compose refuses any other type".to_owned()
        } else {
            format!(
                "for example {}; compose refuses any other type",
                field.example
            )
        };
        // A number, a boolean or a date where a string is wanted: quoting is the fix.
        let quote = |k: Kind, may_be: u8| {
            matches!(k, Kind::Number | Kind::Bool | Kind::Date) && may_be & STR != 0
        };
        if k.bit() & field.may_be == 0 {
            // A null value has no place of its own: its key's.
            self.error(
                if value.is_null() { key } else { value },
                format!(
                    "{at} must be {}, this is {}",
                    describe(field.may_be),
                    k.name()
                ),
                Some(if quote(k, field.may_be) {
                    "quote it (\"…\"): YAML reads it as another type"
                } else {
                    &hint
                }),
            );
            return;
        }
        match &value.value {
            YamlValue::Seq(items) if field.items != 0 => {
                for (i, item) in items.iter().enumerate() {
                    let ik = kind(item);
                    if ik.bit() & field.items == 0 {
                        self.error(
                            item,
                            format!(
                                "{at}[{i}] must be {}, this is {}",
                                describe(field.items),
                                ik.name()
                            ),
                            Some(if quote(ik, field.items) {
                                "quote it (\"…\"): YAML reads it as another type"
                            } else {
                                &hint
                            }),
                        );
                    }
                }
            }
            YamlValue::Map(entries) if field.values != 0 => {
                for (key, v) in entries {
                    let vk = kind(v);
                    if vk.bit() & field.values == 0 {
                        self.error(
                            if v.is_null() { key } else { v },
                            format!(
                                "{at}.{} must be {}, this is {}",
                                key.as_str().unwrap_or("?"),
                                describe(field.values),
                                vk.name()
                            ),
                            Some(&hint),
                        );
                    }
                }
            }
            _ => {}
        }
    }

    /// A service's keys and types, and the nested mappings Greenroom reads.
    fn service(&mut self, at: &str, service: &YamlNode) {
        self.mapping(at, service, SERVICE_FIELDS);
        if let Some(deps) = service.get("depends_on").and_then(YamlNode::as_map) {
            for (key, entry) in deps {
                let dep = format!("{at}.depends_on.{}", key.as_str().unwrap_or("?"));
                if entry.as_map().is_none() {
                    continue; // already said: must be a mapping
                }
                self.mapping(&dep, entry, DEPENDS_ON_FIELDS);
                if let Some(condition) = entry.get("condition")
                    && let Some(text) = condition.as_str()
                    && !CONDITIONS.contains(&text)
                    // `${…}` is checked by what it becomes: not here.
                    && !text.contains('$')
                {
                    self.error(
                        condition,
                        format!("{dep}.condition `{text}` is not one compose knows"),
                        Some("use service_started, service_healthy or service_completed_successfully"),
                    );
                }
            }
        }
        if let Some(healthcheck) = service.get("healthcheck") {
            self.mapping(
                &format!("{at}.healthcheck"),
                healthcheck,
                HEALTHCHECK_FIELDS,
            );
        }
        if let Some(ports) = service.get("ports").and_then(YamlNode::as_seq) {
            for (i, port) in ports.iter().enumerate() {
                self.mapping(&format!("{at}.ports[{i}]"), port, PORT_FIELDS);
            }
        }
        if let Some(files) = service.get("env_file").and_then(YamlNode::as_seq) {
            for (i, entry) in files.iter().enumerate() {
                if entry.as_map().is_none() {
                    continue;
                }
                let here = format!("{at}.env_file[{i}]");
                self.mapping(&here, entry, ENV_FILE_FIELDS);
                if entry.get("path").is_none() {
                    self.error(
                        entry,
                        format!("{here} has no `path`"),
                        Some("name the file: `- path: .env`"),
                    );
                }
            }
        }
    }
}

/// The known key nearest to a misspelt one (at most two edits away).
fn suggest(name: &str, fields: &[Field]) -> Option<&'static str> {
    fields
        .iter()
        .map(|f| (distance(name, f.name), f.name))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

/// Levenshtein distance, with a transposition counted as one edit.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    d[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    fn errors(text: &str) -> Vec<String> {
        let root = yaml::parse(text).expect("valid YAML");
        check_file(Path::new("c.yml"), &root)
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn values_are_typed_as_compose_types_them() {
        let k = |t: &str| plain_kind(t);
        for number in [
            "12", "-3", "+12", "0x1F", "0o17", "0b101", "1_000", "1.5", "1.", ".5", "1e3", ".inf",
            "-.INF", ".nan", "017", "09",
        ] {
            assert_eq!(k(number), Kind::Number, "{number}");
        }
        for string in [
            "yes", "no", "on", "off", "redis:7", "1.2.3", "0x", "_1", "12abc", "8000:80", "1e",
            "+-1", "0xZ",
        ] {
            assert_eq!(k(string), Kind::Str, "{string}");
        }
        assert_eq!(k("true"), Kind::Bool);
        assert_eq!(k("FALSE"), Kind::Bool);
        assert_eq!(k("2001-12-14"), Kind::Date);
        assert_eq!(k("2001-12-14T21:59:43.10-05:00"), Kind::Date);
        let quoted = yaml::parse("\"12\"").unwrap();
        assert_eq!(kind(&quoted), Kind::Str);
    }

    #[test]
    fn unknown_keys_are_refused_with_their_line_and_a_suggestion() {
        let e = errors("services:\n  web:\n    imgae: nginx\n");
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("c.yml:3:5: services.web: unknown key `imgae`"),
            "{e:?}"
        );
        assert!(e[0].contains("did you mean `image`?"), "{e:?}");
        let e = errors("servics:\n  web: {image: x}\n");
        assert!(
            e[0].contains("the file: unknown key `servics`") && e[0].contains("`services`"),
            "{e:?}"
        );
        let e = errors("services:\n  web:\n    image: x\n    12: y\n");
        assert!(
            e[0].contains("c.yml:4:") && e[0].contains("the key `12` is a number"),
            "{e:?}"
        );
    }

    #[test]
    fn x_keys_are_allowed_everywhere() {
        let text = "x-a: 1\nservices:\n  web:\n    image: x\n    x-b: 2\n    healthcheck: {test: [\"CMD\", \"true\"], x-c: 3}\n    ports: [{target: 80, x-d: 4}]\n    depends_on: {db: {condition: service_started, x-e: 5}}\n";
        assert_eq!(errors(text), Vec::<String>::new());
    }

    #[test]
    fn wrong_types_are_refused() {
        let cases = [
            (
                "ports: \"8000:80\"",
                "services.web.ports must be a list, this is a string",
            ),
            (
                "environment: \"A=1\"",
                "services.web.environment must be a list or a mapping, this is a string",
            ),
            (
                "command: {run: now}",
                "services.web.command must be a string, a list or null, this is a mapping",
            ),
            (
                "image: 12",
                "services.web.image must be a string, this is a number",
            ),
            (
                "image:",
                "services.web.image must be a string, this is null",
            ),
            (
                "restart: no",
                "services.web.restart must be a string, this is a string",
            ),
            (
                "profiles: dev",
                "services.web.profiles must be a list, this is a string",
            ),
            (
                "environment: [1]",
                "services.web.environment[0] must be a string, this is a number",
            ),
            (
                "environment: {A: [1]}",
                "services.web.environment.A must be a string, a number, a boolean or null, this is a list",
            ),
            (
                "depends_on: {db: null}",
                "services.web.depends_on.db must be a mapping, this is null",
            ),
            (
                "depends_on: {db: {conditon: x}}",
                "services.web.depends_on.db: unknown key `conditon`",
            ),
            (
                "depends_on: {db: {condition: service_up}}",
                "condition `service_up` is not one compose knows",
            ),
            (
                "healthcheck: {tset: x}",
                "services.web.healthcheck: unknown key `tset`",
            ),
            (
                "ports: [{target: 80, publishd: 80}]",
                "services.web.ports[0]: unknown key `publishd`",
            ),
            (
                "env_file: [{required: false}]",
                "services.web.env_file[0] has no `path`",
            ),
        ];
        for (line, message) in cases {
            let e = errors(&format!("services:\n  web:\n    {line}\n"));
            if line == "restart: no" {
                // `no` is a string in YAML 1.2, as compose reads it.
                assert!(e.is_empty(), "{line}: {e:?}");
                continue;
            }
            assert!(
                e.iter()
                    .any(|e| e.contains(message) && e.starts_with("c.yml:3:")),
                "{line}: {e:?}"
            );
        }
    }

    #[test]
    fn the_forms_compose_accepts_are_accepted() {
        let text = "services:\n  web:\n    image: \"12\"\n    command: null\n    entrypoint: [sh]\n    environment: {A: 1, B: true, C: null}\n    labels: [a=b]\n    ports: [8000, \"9000:90\", {target: 81, published: 9001}]\n    expose: [80, \"81\"]\n    dns: 1.1.1.1\n    tmpfs: /run\n    init: true\n    cpus: 0.5\n    pid:\n    deploy:\n    extends: base\n    env_file: [{path: a.env, required: \"false\"}]\n";
        assert_eq!(errors(text), Vec::<String>::new());
    }

    #[test]
    fn the_top_level_is_checked() {
        let e = errors("services:\n");
        assert!(
            e[0].contains("services must be a mapping, this is null"),
            "{e:?}"
        );
        let e = errors("networks:\nservices: {}\n");
        assert!(e[0].contains("networks must be a mapping"), "{e:?}");
        let e = errors("name: 12\n");
        assert!(
            e[0].contains("name must be a string, this is a number"),
            "{e:?}"
        );
        let e = errors("include: other.yml\n");
        assert!(
            e[0].contains("include must be a list, this is a string"),
            "{e:?}"
        );
        let e = errors("include:\n  - project_directory: x\n");
        assert!(e[0].contains("include[0] has no `path`"), "{e:?}");
        let e = errors("services:\n  web:\n  db:\n    image: x\n");
        assert!(
            e[0].starts_with("c.yml:2:3: services.web must be a mapping, this is null"),
            "{e:?}"
        );
    }

    #[test]
    fn suggestions_are_near_misses_only() {
        assert_eq!(suggest("imgae", SERVICE_FIELDS), Some("image"));
        assert_eq!(suggest("port", SERVICE_FIELDS), Some("ports"));
        assert_eq!(suggest("completely-else", SERVICE_FIELDS), None);
    }

    proptest::proptest! {
        #[test]
        fn typing_never_panics(s in "\\PC{0,20}") {
            let _ = plain_kind(&s);
        }
    }
}
