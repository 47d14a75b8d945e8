//! The layer rules of `ARCHITECTURE.md`, checked on the source: which top-level modules of the
//! crate each module may name, and which crates. A wrong-way import fails here with the file,
//! the line and the rule it breaks.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each layer, and the modules of the crate it must not name. The HTTP layer (`api`), the
/// composition root (`startup`, `openapi`, `cli`) and the data tools (`demo`, `bench_seed`)
/// may name anything.
const FORBIDDEN_MODULES: &[(&str, &[&str])] = &[
    (
        "domain",
        &[
            "api",
            "services",
            "db",
            "auth",
            "startup",
            "openapi",
            "cli",
            "demo",
            "bench_seed",
        ],
    ),
    (
        "services",
        &["api", "startup", "openapi", "cli", "demo", "bench_seed"],
    ),
    (
        "auth",
        &[
            "api",
            "services",
            "startup",
            "openapi",
            "cli",
            "demo",
            "bench_seed",
        ],
    ),
    (
        "db",
        &[
            "api",
            "services",
            "auth",
            "startup",
            "openapi",
            "cli",
            "demo",
            "bench_seed",
        ],
    ),
    (
        "error",
        &[
            "api",
            "services",
            "startup",
            "openapi",
            "cli",
            "demo",
            "bench_seed",
        ],
    ),
    (
        "telemetry",
        &[
            "api",
            "services",
            "auth",
            "startup",
            "openapi",
            "cli",
            "demo",
            "bench_seed",
        ],
    ),
    (
        "config",
        &[
            "api",
            "services",
            "auth",
            "db",
            "startup",
            "openapi",
            "cli",
            "demo",
            "bench_seed",
        ],
    ),
    (
        "clock",
        &[
            "api",
            "services",
            "auth",
            "db",
            "startup",
            "openapi",
            "cli",
            "demo",
            "bench_seed",
        ],
    ),
];

/// Crates each layer must not name: pure rules know neither HTTP nor the database.
const FORBIDDEN_CRATES: &[(&str, &[&str])] = &[
    ("domain", &["actix_web", "sea_orm", "entity"]),
    ("auth", &["actix_web", "sea_orm", "entity"]),
    ("services", &["actix_web"]),
];

/// Names a layer must not use: `ApiError` is an HTTP response, which pure rules never make.
const FORBIDDEN_NAMES: &[(&str, &[&str])] = &[("domain", &["ApiError"])];

/// Only the data layer reads and writes rows: these may name `entity`.
const ENTITY_USERS: &[&str] = &["services", "db", "demo", "bench_seed"];

fn sources(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source directory") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            sources(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// The top-level module a source file belongs to: `src/api/contacts.rs` → `api`.
fn layer_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).expect("under src");
    let first = relative.components().next().expect("a component");
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_owned()
}

/// The crate modules a line names: `crate::x::…` and each item of `crate::{x, y::z}`.
fn crate_modules(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // The first identifier of each top-level item of the group.
            let mut depth = 0;
            let mut item = String::new();
            let mut taking = true;
            for c in group.chars() {
                let ends_item = match c {
                    '{' => {
                        depth += 1;
                        false
                    }
                    '}' if depth == 0 => true,
                    '}' => {
                        depth -= 1;
                        false
                    }
                    ',' => depth == 0,
                    _ => false,
                };
                if taking && depth == 0 && (c.is_alphanumeric() || c == '_') {
                    item.push(c);
                    continue;
                }
                if taking && !item.is_empty() {
                    names.insert(std::mem::take(&mut item));
                    taking = false;
                }
                if ends_item {
                    if c == '}' {
                        break;
                    }
                    taking = true;
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

/// Whether `code` names the crate `krate` as a path (`krate::…`), not as part of another name.
fn names_crate(code: &str, krate: &str) -> bool {
    let needle = format!("{krate}::");
    code.match_indices(&needle).any(|(at, _)| {
        at == 0
            || !code[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
    })
}

/// Whether `code` holds `word` as a whole identifier.
fn names_word(code: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    code.match_indices(word).any(|(at, _)| {
        !code[..at].chars().next_back().is_some_and(is_ident)
            && !code[at + word.len()..].chars().next().is_some_and(is_ident)
    })
}

/// Every broken rule in the tree under `src`, one line each.
fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    sources(src, &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let layer = layer_of(src, &file);
        let text = std::fs::read_to_string(&file).expect("a readable source");
        // `use` statements span lines: join each statement before reading it.
        let mut statement = String::new();
        for (number, line) in text.lines().enumerate() {
            let code = line.trim();
            if code.starts_with("//") {
                continue;
            }
            let code = match code.find(" //") {
                Some(comment) => &code[..comment],
                None => code,
            };
            statement.push_str(code);
            statement.push(' ');
            if code.starts_with("use ") && !code.ends_with(';') {
                continue;
            }
            if statement.trim_start().starts_with("use ") && !code.ends_with(';') {
                continue;
            }
            let here = format!("{}:{}", file.display(), number + 1);
            let named = crate_modules(&statement);
            if let Some((_, forbidden)) = FORBIDDEN_MODULES.iter().find(|(l, _)| *l == layer) {
                for module in named.iter().filter(|m| forbidden.contains(&m.as_str())) {
                    found.push(format!("{here}: `{layer}` names `crate::{module}`"));
                }
            }
            if let Some((_, crates)) = FORBIDDEN_CRATES.iter().find(|(l, _)| *l == layer) {
                for krate in crates.iter().filter(|k| names_crate(&statement, k)) {
                    found.push(format!("{here}: `{layer}` names the crate `{krate}`"));
                }
            }
            if let Some((_, names)) = FORBIDDEN_NAMES.iter().find(|(l, _)| *l == layer) {
                for name in names.iter().filter(|n| names_word(&statement, n)) {
                    found.push(format!("{here}: `{layer}` names `{name}`"));
                }
            }
            if !ENTITY_USERS.contains(&layer.as_str()) && names_crate(&statement, "entity") {
                found.push(format!("{here}: only {ENTITY_USERS:?} may name `entity`"));
            }
            statement.clear();
        }
    }
    found
}

#[test]
fn every_import_points_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(
        found.is_empty(),
        "{} wrong-way imports:\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn the_check_sees_grouped_inline_and_multi_line_imports() {
    assert_eq!(
        crate_modules("use crate::{api::x, services, db::{a, b}};"),
        BTreeSet::from(["api".into(), "db".into(), "services".into()])
    );
    assert_eq!(
        crate_modules("let x = crate::api::pagination::PageRequest::new();"),
        BTreeSet::from(["api".into()])
    );
    assert!(names_crate("use sea_orm::DbErr;", "sea_orm"));
    assert!(!names_crate("use my_sea_orm::DbErr;", "sea_orm"));
    assert!(!names_crate("use crate::entity::x;", "entity"));

    let dir = tempfile::tempdir().unwrap();
    let domain = dir.path().join("domain");
    std::fs::create_dir(&domain).unwrap();
    std::fs::write(
        domain.join("rules.rs"),
        "//! crate::api in a comment is fine\nuse crate::{\n    clock,\n    services::x,\n};\nfn f() -> sea_orm::DbErr { todo!() }\n",
    )
    .unwrap();
    let found = violations(dir.path());
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found[0].contains("`domain` names `crate::services`"),
        "{found:?}"
    );
    assert!(found[1].contains("the crate `sea_orm`"), "{found:?}");
}
