//! The tree kept tidy, in the spirit of rust-analyzer's `xtask/src/tidy.rs`: rules a
//! reviewer would otherwise have to remember, checked on every `cargo test`.
//!
//! - The layers of ARCHITECTURE.md: no module of `src` uses one above it, and the edges
//!   between peers are the ones listed here, each with its reason.
//! - A dependency in a platform-specific table of Cargo.toml is used only behind a `cfg`.
//! - No ms/µs figures in `src` comments: figures live in benches/README.md.
//! - No `allow(dead_code)` without a reason.
//! - No test that sleeps and then asserts that something did not happen: it passes whether
//!   or not the thing would have happened later; wait for a signal instead.

use std::path::{Path, PathBuf};

/// The layers of ARCHITECTURE.md, bottom (0) to top: a module may use the layers below.
const LAYERS: &[(&str, u8)] = &[
    ("text", 0),
    ("topics", 0),
    ("model", 0),
    ("i18n", 0),
    ("config", 0),
    ("store", 1),
    ("search", 2),
    ("ingest", 2),
    ("render", 3),
    ("replay", 4),
    ("chat", 5),
    ("console", 5),
    ("bot", 6),
    ("web", 6),
    ("settings", 6),
    ("cli", 7),
    ("main", 7),
    ("lib", 7),
];

/// The edges between modules of one layer, and why each is there.
const PEERS: &[(&str, &str, &str)] = &[
    ("console", "chat", "the console is a shell of the chat, as bot/ is: it shows chat's replies"),
    ("topics", "text", "topics are tagged over the stems text/ makes"),
    ("bot", "settings", "run and doctor read the settings they were started with"),
    ("bot", "web", "run serves the web archive on its one HTTP server, beside the webhook"),
];

/// The tree checked: this one, or another checkout named by `POSTKEEPER_TIDY_ROOT` (to
/// see the rules fail on an older tree).
fn root() -> PathBuf {
    std::env::var_os("POSTKEEPER_TIDY_ROOT").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("reads a folder of the tree") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A file's code before its first `#[cfg(test)]`: what the product is built from (tests
/// may reach across layers for their fixtures).
fn product_code(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |at| &text[..at])
}

/// The top module a file of `src` belongs to (`src/bot/mod.rs` → `bot`).
fn module_of(relative: &Path) -> String {
    let first = relative.components().next().map(|c| c.as_os_str().to_string_lossy().into_owned()).unwrap_or_default();
    first.trim_end_matches(".rs").to_string()
}

/// The modules of the crate a text names: `crate::x::…` and `crate::{x, y::…}`.
fn crate_uses(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item.trim().chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
                if !name.is_empty() {
                    out.push(name);
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

/// Every edge from a module to one of its layer or above that is not a listed peer edge.
fn layer_violations(src: &Path) -> Vec<String> {
    let layer = |m: &str| LAYERS.iter().find(|(n, _)| *n == m).map(|(_, l)| *l);
    let mut out = Vec::new();
    for file in rust_files(src) {
        let relative = file.strip_prefix(src).expect("under src");
        let from = module_of(relative);
        if relative.ends_with("store_tests.rs") {
            continue; // search's tests, kept in a file of their own
        }
        let Some(from_layer) = layer(&from) else {
            out.push(format!("{}: module `{from}` has no layer in tidy.rs (and ARCHITECTURE.md)", relative.display()));
            continue;
        };
        for to in crate_uses(product_code(&read(&file))) {
            let Some(to_layer) = layer(&to) else { continue };
            let allowed = to == from || to_layer < from_layer || PEERS.iter().any(|(a, b, _)| *a == from && *b == to);
            if !allowed {
                out.push(format!(
                    "{}: `{from}` (layer {from_layer}) uses `{to}` (layer {to_layer})",
                    relative.display()
                ));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The dependencies of `Cargo.toml`'s platform-specific tables (`[target.'cfg(…)'.dependencies]`).
fn platform_dependencies(manifest: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_target = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_target = line.starts_with("[target.") && line.ends_with(".dependencies]");
            continue;
        }
        if in_target && let Some((name, _)) = line.split_once('=') {
            let name = name.trim();
            if !name.is_empty() && !name.starts_with('#') {
                out.push(name.replace('-', "_"));
            }
        }
    }
    out
}

/// Uses of a platform-specific dependency with no `cfg` in the lines just above.
fn platform_violations(src: &Path, manifest: &str) -> Vec<String> {
    let deps = platform_dependencies(manifest);
    let mut out = Vec::new();
    for file in rust_files(src) {
        let text = read(&file);
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            for dep in &deps {
                if !line.contains(&format!("{dep}::")) || line.trim_start().starts_with("//") {
                    continue;
                }
                let gated = lines[i.saturating_sub(4)..i].iter().any(|l| l.contains("#[cfg(") || l.contains("cfg!("));
                if !gated {
                    out.push(format!(
                        "{}:{}: `{dep}` is in a platform table of Cargo.toml but used here with no cfg",
                        file.display(),
                        i + 1
                    ));
                }
            }
        }
    }
    out
}

/// A comment line with a figure in milliseconds or microseconds.
fn has_timing_figure(line: &str) -> bool {
    let t = line.trim_start();
    if !t.starts_with("//") {
        return false;
    }
    let bytes: Vec<char> = t.chars().collect();
    for (i, c) in bytes.iter().enumerate() {
        if !c.is_ascii_digit() {
            continue;
        }
        let mut j = i + 1;
        while j < bytes.len() && (bytes[j].is_ascii_digit() || bytes[j] == '.' || bytes[j] == ',') {
            j += 1;
        }
        if j < bytes.len() && bytes[j] == ' ' {
            j += 1;
        }
        let unit: String = bytes[j..].iter().take(3).collect();
        let word_end = |n: usize| bytes.get(j + n).is_none_or(|c| !c.is_alphanumeric());
        if (unit.starts_with("ms") && word_end(2)) || (unit.starts_with("µs") && word_end(2)) {
            return true;
        }
    }
    false
}

fn figure_violations(src: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for file in rust_files(src) {
        for (i, line) in read(&file).lines().enumerate() {
            if has_timing_figure(line) {
                out.push(format!(
                    "{}:{}: a timing figure in a comment (it belongs in benches/README.md)",
                    file.display(),
                    i + 1
                ));
            }
        }
    }
    out
}

fn dead_code_violations(dirs: &[PathBuf]) -> Vec<String> {
    let mut out = Vec::new();
    for dir in dirs {
        for file in rust_files(dir) {
            for (i, line) in read(&file).lines().enumerate() {
                if line.contains("allow(dead_code") && !line.contains("reason") {
                    out.push(format!("{}:{}: allow(dead_code) without a reason", file.display(), i + 1));
                }
            }
        }
    }
    out
}

/// A sleep outside any loop followed, in the next few lines, by an assertion that something
/// is absent (empty, zero, none, unchanged count).
fn sleep_then_absence(text: &str) -> Vec<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if !line.contains("sleep(") || line.trim_start().starts_with("//") {
            continue;
        }
        // Inside a loop, a sleep is the pause of a wait for something, not the test's pause.
        let indent = line.len() - line.trim_start().len();
        let in_loop = lines[..i].iter().rev().take(12).any(|l| {
            let t = l.trim_start();
            let l_indent = l.len() - t.len();
            l_indent < indent && (t.starts_with("loop") || t.starts_with("while ") || t.starts_with("for "))
        });
        if in_loop {
            continue;
        }
        let next = lines[i + 1..].iter().take(3).copied().collect::<Vec<_>>().join("\n");
        let absence = next.contains("assert")
            && (next.contains("is_empty()")
                || next.contains("is_none()")
                || next.contains(".len(), 0")
                || next.contains("== 0")
                || next.contains(".len(),")
                || next.contains("no request"));
        if absence {
            out.push(i + 1);
        }
    }
    out
}

fn sleep_violations(tests: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for file in rust_files(tests) {
        if file.ends_with("tidy.rs") {
            continue;
        }
        for line in sleep_then_absence(&read(&file)) {
            out.push(format!(
                "{}:{line}: sleeps, then asserts that nothing happened: wait for a signal",
                file.display()
            ));
        }
    }
    out
}

#[test]
fn the_tree_is_tidy() {
    let root = root();
    let src = root.join("src");
    let manifest = read(&root.join("Cargo.toml"));
    let mut problems = Vec::new();
    problems.extend(layer_violations(&src));
    problems.extend(platform_violations(&src, &manifest));
    problems.extend(figure_violations(&src));
    problems.extend(dead_code_violations(&[src.clone(), root.join("tests"), root.join("crates")]));
    problems.extend(sleep_violations(&root.join("tests")));
    assert!(problems.is_empty(), "the tree is not tidy:\n{}", problems.join("\n"));
}

/// Each rule finds what it is for (the tree as it was before these rules: b0b77b5).
#[test]
fn each_rule_catches_what_it_is_for() {
    assert_eq!(
        crate_uses("use crate::{model::Post, text};\nlet x = crate::search::Sort::Top;"),
        ["model", "text", "search"]
    );
    assert!(has_timing_figure("/// 20 ms by FTS5"));
    assert!(has_timing_figure("//! a row looked up for each candidate: 1.4 µs each"));
    assert!(has_timing_figure("// 3.2 → 4.2ms"));
    assert!(!has_timing_figure("/// in µs, as measured"));
    assert!(!has_timing_figure("let t = 5; // 5 msgs"));
    assert!(!has_timing_figure("let ms = 20;"));
    let manifest = "[dependencies]\nsha2 = \"0.10\"\n\n[target.'cfg(unix)'.dependencies]\nlibc = \"0.2\"\nsha2 = \"0.10\"\n\n[dev-dependencies]\nx = \"1\"\n";
    assert_eq!(platform_dependencies(manifest), ["libc", "sha2"]);
    let sleepy = "    tokio::time::sleep(Duration::from_millis(500)).await;\n    h.tg.wait_idle(QUIET).await;\n    assert!(h.tg.calls_to(\"sendMessage\").is_empty());\n";
    assert_eq!(sleep_then_absence(sleepy), [1]);
    let waiting = "    loop {\n        if done() { break; }\n        tokio::time::sleep(Duration::from_millis(50)).await;\n        assert!(late().is_empty());\n    }\n";
    assert!(sleep_then_absence(waiting).is_empty());
}
