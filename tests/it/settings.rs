//! Every setting through the built binary, given each of the three ways an operator
//! gives it (environment, `.env` in the working directory, flag), their precedence, and
//! bad values refused before anything happens.

use std::path::Path;
use std::process::{Command, Output};

/// The binary in `dir` with an empty environment: only what a test sets reaches it.
fn bin(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_postkeeper"));
    c.current_dir(dir).env_clear();
    c
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// `postkeeper config`'s line for `var`: (source, value).
fn shown(o: &Output, var: &str) -> (String, String) {
    assert!(o.status.success(), "config failed: {}", text(o));
    let out = String::from_utf8_lossy(&o.stdout);
    let line = out.lines().find(|l| l.split_whitespace().next() == Some(var)).unwrap_or_else(|| panic!("{out}"));
    let rest = line[var.len()..].trim_start();
    let (source, value) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    (source.to_string(), value.trim().to_string())
}

/// (variable, flag, a good value, how `config` shows it)
const GOOD: &[(&str, Option<&str>, &str, &str)] = &[
    ("TELOXIDE_TOKEN", Some("--token"), "4242:SECRETsecret_part-1", "4242:<redacted>"),
    ("TELOXIDE_API_URL", Some("--api-url"), "http://127.0.0.1:8081/", "http://127.0.0.1:8081/"),
    ("POSTKEEPER_DB", Some("--db"), "other.db", "other.db"),
    ("POSTKEEPER_MEDIA_DIR", Some("--media-dir"), "pictures", "pictures"),
    ("POSTKEEPER_ADMINS", Some("--admins"), "1001, 1002", "1001,1002"),
    ("POSTKEEPER_REPLAY_CHAT", Some("--replay-chat"), "@replay_chan", "@replay_chan"),
    ("POSTKEEPER_SOURCE_CHAT", Some("--source-chat"), "-1001234567890", "-1001234567890"),
    ("POSTKEEPER_TIMEZONE", Some("--timezone"), "Europe/Moscow", "Europe/Moscow"),
    ("POSTKEEPER_REPLAY_HEADER", Some("--replay-header"), "Из архива, {date}", "Из архива, {date}"),
    ("POSTKEEPER_REPLAY_GRACE", Some("--replay-grace"), "90m", "90m"),
    ("POSTKEEPER_REPLAY_PREVIEWS", Some("--replay-previews"), "false", "false"),
    ("POSTKEEPER_WEBHOOK_SECRET", Some("--webhook-secret"), "Hush_hush-42", "(set)"),
    ("RUST_LOG", None, "warn,postkeeper=debug", "warn,postkeeper=debug"),
];

#[test]
fn admins_from_every_source_no_longer_panic() {
    for how in ["env", ".env", "flag"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = bin(dir.path());
        match how {
            "env" => {
                c.env("POSTKEEPER_ADMINS", "1001");
            }
            ".env" => std::fs::write(dir.path().join(".env"), "POSTKEEPER_ADMINS=1001\n").expect("writes .env"),
            _ => {
                c.args(["--admins", "1001"]);
            }
        }
        let out = c.arg("stats").output().expect("runs");
        assert!(out.status.success(), "{how}: {}", text(&out));
        assert!(!text(&out).contains("panicked"), "{how}: {}", text(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("posts:    20"), "{how}: {}", text(&out));
    }
}

#[test]
fn every_setting_is_read_from_each_of_its_sources() {
    for &(var, flag, value, show) in GOOD {
        let mut ways = vec!["env", ".env"];
        if flag.is_some() {
            ways.push("flag");
        }
        for how in ways {
            let dir = tempfile::tempdir().expect("tempdir");
            let mut c = bin(dir.path());
            match how {
                "env" => {
                    c.env(var, value);
                }
                ".env" => std::fs::write(dir.path().join(".env"), format!("{var}=\"{value}\"\n")).expect("writes"),
                _ => {
                    c.args([flag.unwrap_or_default(), value]);
                }
            }
            let out = c.arg("config").output().expect("runs");
            assert_eq!(shown(&out, var), (how.to_string(), show.to_string()), "{var} from {how}");
            // Nothing else came from anywhere but the defaults.
            for &(other, ..) in GOOD.iter().filter(|(v, ..)| *v != var) {
                assert_eq!(shown(&out, other).0, "default", "{other} while testing {var} from {how}");
            }
            assert!(!text(&out).contains("SECRETsecret"), "the token leaked: {}", text(&out));
            assert!(!text(&out).contains("Hush_hush"), "the webhook secret leaked: {}", text(&out));
            assert!(!dir.path().join("postkeeper.db").exists(), "`config` touched no store");
        }
    }
}

#[test]
fn a_flag_beats_the_environment_which_beats_dotenv() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(".env"), "POSTKEEPER_TIMEZONE=Asia/Tokyo\nPOSTKEEPER_DB=from-dotenv.db\n")
        .expect("writes");
    let config = |flag: Option<&str>, env: Option<&str>| {
        let mut c = bin(dir.path());
        if let Some(zone) = env {
            c.env("POSTKEEPER_TIMEZONE", zone);
        }
        if let Some(zone) = flag {
            c.args(["--timezone", zone]);
        }
        c.arg("config").output().expect("runs")
    };
    let all = config(Some("America/New_York"), Some("Europe/Paris"));
    assert_eq!(shown(&all, "POSTKEEPER_TIMEZONE"), ("flag".into(), "America/New_York".into()));
    let env = config(None, Some("Europe/Paris"));
    assert_eq!(shown(&env, "POSTKEEPER_TIMEZONE"), ("env".into(), "Europe/Paris".into()));
    let dotenv = config(None, None);
    assert_eq!(shown(&dotenv, "POSTKEEPER_TIMEZONE"), (".env".into(), "Asia/Tokyo".into()));
    // A flag after the subcommand counts as well.
    let after = bin(dir.path()).args(["config", "--timezone", "UTC"]).output().expect("runs");
    assert_eq!(shown(&after, "POSTKEEPER_TIMEZONE"), ("flag".into(), "UTC".into()));

    // The value in effect, not only shown: the store named in .env is the one used.
    let stats = bin(dir.path()).arg("stats").output().expect("runs");
    assert!(stats.status.success(), "{}", text(&stats));
    assert!(dir.path().join("from-dotenv.db").exists() && !dir.path().join("postkeeper.db").exists());
    let flag_db = bin(dir.path()).args(["--db", "from-flag.db", "stats"]).output().expect("runs");
    assert!(flag_db.status.success(), "{}", text(&flag_db));
    assert!(dir.path().join("from-flag.db").exists());
}

#[test]
fn a_replay_header_longer_than_two_hundred_units_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 😀 is two UTF-16 units, as Telegram counts them: 100 fit, 101 do not.
    let fits = bin(dir.path()).env("POSTKEEPER_REPLAY_HEADER", "😀".repeat(100)).arg("config").output().expect("runs");
    assert!(fits.status.success(), "{}", text(&fits));
    assert_eq!(shown(&fits, "POSTKEEPER_REPLAY_HEADER"), ("env".into(), "😀".repeat(100)));
    for command in ["config", "stats", "run"] {
        let out =
            bin(dir.path()).env("POSTKEEPER_REPLAY_HEADER", "😀".repeat(101)).arg(command).output().expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {}", text(&out));
        assert!(err.contains("POSTKEEPER_REPLAY_HEADER") && err.contains("202 characters"), "{err}");
        assert!(err.contains("at most 200") && err.contains("Example: "), "{err}");
        assert_eq!(err.lines().count(), 1, "one message: {err}");
        assert!(!dir.path().join("postkeeper.db").exists(), "{command}: a store was created");
    }
}

#[test]
fn bad_values_are_refused_before_anything_happens() {
    // (how it is given, the setting, the value, what a good one looks like)
    let cases: &[(&str, &str, &str, &str)] = &[
        ("env", "POSTKEEPER_ADMINS", "1001,abc", "POSTKEEPER_ADMINS=123456789"),
        (".env", "POSTKEEPER_TIMEZONE", "Moscow", "POSTKEEPER_TIMEZONE=Europe/Moscow"),
        ("flag", "POSTKEEPER_REPLAY_GRACE", "soon", "POSTKEEPER_REPLAY_GRACE=24h"),
        ("env", "POSTKEEPER_REPLAY_CHAT", "channel name with spaces", "POSTKEEPER_REPLAY_CHAT=@my_channel"),
        (".env", "POSTKEEPER_SOURCE_CHAT", "@no", "POSTKEEPER_SOURCE_CHAT=@my_channel"),
        ("env", "TELOXIDE_API_URL", "not a url", "TELOXIDE_API_URL=http://127.0.0.1:8081/"),
        ("flag", "TELOXIDE_API_URL", "localhost:8081", "TELOXIDE_API_URL=http://127.0.0.1:8081/"),
        ("env", "POSTKEEPER_REPLAY_PREVIEWS", "maybe", "POSTKEEPER_REPLAY_PREVIEWS=false"),
        (".env", "RUST_LOG", "info,postkeeper=loud", "RUST_LOG=info,postkeeper=debug"),
        // A file where the media folder should be.
        (
            "flag",
            "POSTKEEPER_MEDIA_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
            "POSTKEEPER_MEDIA_DIR=/var/lib/postkeeper/media",
        ),
    ];
    let flag_of = |var: &str| GOOD.iter().find(|(v, ..)| *v == var).and_then(|(_, f, ..)| *f).expect("has a flag");
    for &(how, var, value, example) in cases {
        for command in ["stats", "import", "run"] {
            let dir = tempfile::tempdir().expect("tempdir");
            let mut c = bin(dir.path());
            match how {
                "env" => {
                    c.env(var, value);
                }
                ".env" => std::fs::write(dir.path().join(".env"), format!("{var}={value}\n")).expect("writes"),
                _ => {
                    c.args([flag_of(var), value]);
                }
            }
            c.arg(command);
            if command == "import" {
                c.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/export_single"));
            }
            let out = c.output().expect("runs");
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{var}={value} ({how}, {command}): {}", text(&out));
            assert!(err.contains(var) || err.contains(flag_of(var)), "names the setting: {err}");
            assert!(err.contains(&format!("{value:?}")), "names the value: {err}");
            assert!(err.contains(&format!("Example: {example}")), "gives a good one: {err}");
            assert_eq!(err.lines().count(), 1, "one message: {err}");
            assert!(!err.contains("panicked"), "{err}");
            assert!(!dir.path().join("postkeeper.db").exists(), "{var}: a store was created");
        }
    }
}

#[test]
fn an_unreadable_dotenv_is_refused_and_an_existing_store_is_left_as_it_was() {
    let dir = tempfile::tempdir().expect("tempdir");
    let made = bin(dir.path()).arg("stats").output().expect("runs");
    assert!(made.status.success(), "{}", text(&made));
    let db = dir.path().join("postkeeper.db");
    let before = std::fs::read(&db).expect("reads the store");

    type Make<'a> = &'a dyn Fn(&Path);
    let broken: &[(&str, Make)] = &[
        ("a line that is not NAME=value", &|d| {
            std::fs::write(d.join(".env"), "POSTKEEPER_TIMEZONE=UTC\nthis is not a setting\n").expect("writes")
        }),
        ("a folder named .env", &|d| std::fs::create_dir(d.join(".env")).expect("mkdir")),
        ("bytes that are not UTF-8", &|d| std::fs::write(d.join(".env"), b"RUST_LOG=\xff\xfe\n").expect("writes")),
    ];
    for (what, make) in broken {
        make(dir.path());
        let out = bin(dir.path())
            .arg("import")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/export_single"))
            .output()
            .expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {}", text(&out));
        assert!(err.contains(".env") && err.contains("cannot be read"), "{what}: {err}");
        assert!(!err.contains("panicked"), "{what}: {err}");
        assert_eq!(std::fs::read(&db).expect("reads the store"), before, "{what}: the store changed");
        let env = dir.path().join(".env");
        if env.is_dir() {
            std::fs::remove_dir(&env).expect("rmdir");
        } else {
            std::fs::remove_file(&env).expect("rm");
        }
    }
}

/// What the README tells a new operator to do first: copy `.env.example` to `.env`. Every
/// command that needs no token works at once; `run` and `doctor` name the placeholder.
#[test]
fn a_copied_env_example_works_until_the_token_is_needed() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join(".env.example"), dir.path().join(".env"))
        .expect("copies .env.example");
    let config = bin(dir.path()).arg("config").output().expect("runs");
    assert_eq!(shown(&config, "POSTKEEPER_REPLAY_HEADER"), (".env".into(), "Из архива, {date}".into()));
    assert_eq!(shown(&config, "POSTKEEPER_ADMINS"), (".env".into(), "123456789".into()));
    assert_eq!(shown(&config, "TELOXIDE_TOKEN").0, ".env");

    let mut console = bin(dir.path())
        .arg("console")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starts");
    {
        use std::io::Write;
        let mut stdin = console.stdin.take().expect("stdin");
        stdin.write_all("/search робот\n".as_bytes()).expect("writes");
    }
    let out = console.wait_with_output().expect("runs");
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Найдено"), "{}", text(&out));
    let stats = bin(dir.path()).arg("stats").output().expect("runs");
    assert!(stats.status.success(), "{}", text(&stats));

    for command in ["run", "doctor"] {
        let out = bin(dir.path()).arg(command).output().expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {}", text(&out));
        assert!(err.contains("TELOXIDE_TOKEN (from .env)") && err.contains("placeholder"), "{command}: {err}");
        assert!(!err.contains("replace-with-your-token"), "{err}");
    }
}

/// docs/settings.md's table, `.env.example` and `--help` describe every setting as
/// `settings::ALL` does (the one description of each): its variable, flag and default.
#[test]
fn the_docs_the_env_example_and_help_describe_every_setting_as_the_code_does() {
    use postkeeper::settings::ALL;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = std::fs::read_to_string(root.join("docs/settings.md")).expect("reads docs/settings.md");
    let rows: Vec<Vec<&str>> = docs
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect();
    let vars: Vec<&str> = rows.iter().map(|r| r[0].trim_matches('`')).collect();
    assert_eq!(vars, ALL.iter().map(|s| s.var).collect::<Vec<_>>(), "the table's rows, in `config`'s order");
    for (row, spec) in rows.iter().zip(ALL) {
        let flag = spec.flag.map_or_else(|| "none".to_string(), |f| format!("`--{f}`"));
        assert_eq!((row[1], row[2]), (flag.as_str(), spec.default), "{}'s flag and default", spec.var);
    }
    let example = std::fs::read_to_string(root.join(".env.example")).expect("reads .env.example");
    for spec in ALL {
        let line = format!("{}=", spec.var);
        assert!(
            example.lines().any(|l| l.trim_start_matches(['#', ' ']).starts_with(&line)),
            "{} is not in .env.example",
            spec.var
        );
    }
    let help = bin(root).arg("--help").output().expect("runs");
    let help = String::from_utf8_lossy(&help.stdout);
    for spec in ALL {
        if let Some(flag) = spec.flag {
            assert!(help.contains(&format!("--{flag} <{}>", spec.value_name)), "--{flag} in --help:\n{help}");
            assert!(help.contains(&format!("[env: {}", spec.var)), "{} in --help:\n{help}", spec.var);
        }
    }
}
