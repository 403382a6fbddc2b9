//! `postkeeper console`: the bot's conversation in a terminal, no token
//! needed. Same core, same replies; HTML is shown as plain text and buttons
//! are numbered: typing a button's number presses it. A line of digits is always a
//! button's number (a number that is no button of the last reply says so), since a
//! search for it would answer a press that missed with unrelated posts; `/search 2`
//! searches for a number.

use std::io::{BufRead, Write};

use crate::chat::{self, ButtonKind, Ctx, Reply};
use crate::i18n::Lang;
use crate::render::html;
use crate::store::Archive;

/// The post a reply shows in full, told by its footer's `#id` (lists and search pages
/// name posts as `/post_ID`, never so).
fn shown_post(text: &str) -> Option<i64> {
    let footer = text.lines().rev().find(|l| !l.trim().is_empty())?;
    footer.split(" · ").find_map(|part| part.trim().strip_prefix('#')?.parse().ok())
}

/// The chat loop over `input` until its end (or `/quit`). A post shown in full is
/// followed by a line per media item (`[📷 media/ab12….jpg 1280×720]`), `media_dir`
/// naming the folder.
pub fn run(
    archive: &mut Archive,
    mut ctx: Ctx,
    input: impl BufRead,
    out: &mut impl Write,
    prompt: bool,
    media_dir: &str,
) -> anyhow::Result<()> {
    let mut buttons: Vec<String> = Vec::new();
    let lang = ctx.lang;
    // The buttons of the last reply shown (none when it had none), numbered from 1.
    let show =
        |archive: &Archive, out: &mut dyn Write, replies: &[Reply], buttons: &mut Vec<String>| -> anyhow::Result<()> {
            if !replies.is_empty() {
                buttons.clear();
            }
            for reply in replies {
                let text = html::to_text(&reply.html, true);
                writeln!(out, "{text}")?;
                if let Some(id) = shown_post(&text) {
                    for m in archive.post_media(id)? {
                        writeln!(out, "{}", crate::render::post::media_line(&m, media_dir, lang))?;
                    }
                }
                if reply.keyboard.is_empty() {
                    continue;
                }
                buttons.clear();
                for row in &reply.keyboard {
                    let mut line = Vec::new();
                    for b in row {
                        match &b.kind {
                            ButtonKind::Callback(action) => {
                                buttons.push(action.encode());
                                line.push(format!("[{}] {}", buttons.len(), b.label));
                            }
                            ButtonKind::Url(url) => line.push(format!("{} <{url}>", b.label)),
                        }
                    }
                    writeln!(out, "{}", line.join("   "))?;
                }
            }
            writeln!(out)?;
            Ok(())
        };
    let help = chat::on_command(archive, &ctx, chat::Command::Help)?;
    show(archive, out, &help, &mut buttons)?;
    let mut lines = input.lines();
    loop {
        if prompt {
            write!(out, "> ")?;
            out.flush()?;
        }
        let Some(line) = lines.next() else { break };
        let line = line?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if matches!(line, "/quit" | "/exit") {
            break;
        }
        ctx.now = chrono::Utc::now();
        if line.chars().all(|c| c.is_ascii_digit()) {
            let pressed = line.parse::<usize>().ok().filter(|&n| n >= 1 && n <= buttons.len());
            let Some(n) = pressed else {
                writeln!(out, "{}\n", no_button(lang, line, buttons.len()))?;
                continue;
            };
            let data = buttons[n - 1].clone();
            let outcome = chat::on_callback(archive, &ctx, &data)?;
            if let Some(toast) = outcome.toast {
                writeln!(out, "({toast})")?;
            }
            if let Some(edit) = outcome.edit {
                show(archive, out, &[edit], &mut buttons)?;
            }
            show(archive, out, &outcome.send, &mut buttons)?;
            continue;
        }
        let replies = if line.starts_with('/') {
            match chat::command::parse(line, &ctx.bot_username) {
                Some(command) => chat::on_command(archive, &ctx, command)?,
                None => vec![Reply::text(ctx.lang.texts().unknown_command)],
            }
        } else {
            chat::on_text(archive, &ctx, line)?
        };
        show(archive, out, &replies, &mut buttons)?;
    }
    Ok(())
}

/// What a number that is no button of the last reply gets (`buttons`: how many it had).
fn no_button(lang: Lang, n: &str, buttons: usize) -> String {
    let t = lang.texts();
    let n = n.trim_start_matches('0');
    let n = if n.is_empty() { "0" } else { n };
    let text = match buttons {
        0 => crate::i18n::fill(t.no_buttons, &[("n", n)]),
        1 => crate::i18n::fill(t.no_button, &[("n", n), ("range", "1")]),
        k => crate::i18n::fill(t.no_button, &[("n", n), ("range", &format!("1–{k}"))]),
    };
    html::to_text(&text, true)
}

/// A console context: a private chat with a fixed id, the given language.
pub fn context(lang: Lang, config: &crate::config::Config) -> Ctx {
    Ctx {
        chat_id: 1,
        lang,
        private: true,
        bot_username: "console".into(),
        tz: config.timezone,
        now: chrono::Utc::now(),
        user_id: None,
        access: crate::replay::commands::Access::for_operator(config),
        searcher: crate::search::Searcher::default(),
        media_dir: config.media_dir.clone(),
        public_url: config.public_url.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a Russian console session with `input` typed prints (media under `media/`).
    fn session(archive: &mut Archive, input: &str) -> anyhow::Result<String> {
        let mut out = Vec::new();
        let ctx = context(Lang::Ru, &crate::config::Config::default());
        run(archive, ctx, input.as_bytes(), &mut out, false, "media")?;
        Ok(String::from_utf8(out)?)
    }

    #[test]
    fn a_session_pages_and_presses_buttons() {
        let mut archive = Archive::open_in_memory().expect("store");
        crate::ingest::seed_if_empty(&mut archive).expect("seed");
        let input = "/search обучение\n2\n/post 1\n/topic\n1\n/nonsense\nэкзопланетты\n1\n";
        let out = session(&mut archive, input).expect("runs");
        assert!(out.contains("стр. 1/"), "{out}");
        assert!(out.contains("стр. 2/"), "pressing ▶ pages: {out}");
        assert!(out.contains("Повторение – мать ученья"), "{out}");
        assert!(out.contains("Не знаю такой команды"), "{out}");
        assert!(out.contains("Возможно, вы искали: экзопланеты"), "{out}");
        assert!(out.contains("Как DL открывает новые экзопланеты"), "the suggestion button searches: {out}");
        assert!(!out.contains("[📷"), "the seed has no media: {out}");
    }

    #[test]
    fn a_post_shown_in_full_is_followed_by_a_line_per_media_item() -> anyhow::Result<()> {
        use crate::model::{Media, MediaKind, NewChannel, NewPost};
        let mut archive = Archive::open_in_memory()?;
        let media = vec![
            Media {
                kind: MediaKind::Photo,
                file: Some("ab12.jpg".into()),
                width: Some(1280),
                height: Some(720),
                ..Media::default()
            },
            Media { kind: MediaKind::Photo, missing: true, ..Media::default() },
        ];
        let mut id = 0;
        archive.import(|sink| -> crate::store::Result<()> {
            sink.channel(&NewChannel::telegram(-1001, "T"))?;
            id = sink
                .post(NewPost {
                    message_id: Some(1),
                    seq: 1,
                    text: "Альбом\nдва фото".into(),
                    media,
                    ..NewPost::default()
                })?
                .0;
            Ok(())
        })?;
        let out = session(&mut archive, &format!("/post {id}\n"))?;
        let lines: Vec<&str> = out.lines().collect();
        let at = lines.iter().position(|l| *l == "[📷 media/ab12.jpg 1280×720]").unwrap_or_else(|| panic!("{out}"));
        assert_eq!(lines.get(at + 1), Some(&"[📷 нет файла: не выгружен]"), "in the console's language: {out}");
        assert!(lines[..at].iter().any(|l| l.contains(&format!("#{id}"))), "after the post's footer: {out}");
        Ok(())
    }

    #[test]
    fn a_number_that_is_no_button_says_so_instead_of_searching() -> anyhow::Result<()> {
        let mut archive = Archive::open_in_memory()?;
        crate::ingest::seed_if_empty(&mut archive)?;
        // The help has no buttons; a search that finds one page has one (the sort).
        let out = session(&mut archive, "1\n/search экзопланеты\n2\n0\n99999999999999999999999\n")?;
        assert!(out.contains("Здесь нет кнопок. Чтобы искать число, напишите /search 1"), "{out}");
        assert!(out.contains("Кнопки 2 здесь нет: можно нажать 1. Чтобы искать число, напишите /search 2"), "{out}");
        assert!(out.contains("Кнопки 0 здесь нет"), "{out}");
        assert!(out.contains("Кнопки 99999999999999999999999 здесь нет"), "{out}");
        assert_eq!(out.matches("Найдено").count(), 1, "no number was searched: {out}");
        Ok(())
    }

    #[test]
    fn the_help_names_no_bot_the_console_does_not_have() -> anyhow::Result<()> {
        let mut archive = Archive::open_in_memory()?;
        crate::ingest::seed_if_empty(&mut archive)?;
        let out = session(&mut archive, "/help\n")?;
        assert!(!out.contains('@'), "{out}");
        assert!(out.contains("Можно просто написать мне слова"), "{out}");
        Ok(())
    }

    #[test]
    fn a_greeting_gets_a_greeting_with_searches_of_this_archive() -> anyhow::Result<()> {
        let mut archive = Archive::open_in_memory()?;
        crate::ingest::seed_if_empty(&mut archive)?;
        let out = session(&mut archive, "Привет!\nспасибо\n")?;
        assert!(out.contains("Здравствуйте!") && out.contains("Пожалуйста!"), "{out}");
        assert!(!out.contains("приведет") && !out.contains("Найдено") && !out.contains("Ничего"), "{out}");
        // Each example is a search that finds posts here.
        let examples = greeting_examples(&out);
        assert_eq!(examples.len(), 2, "{out}");
        for example in examples {
            let found = session(&mut archive, &format!("{example}\n"))?;
            assert!(found.contains("Найдено") && !found.contains("Показаны результаты"), "{example}: {found}");
        }
        Ok(())
    }

    /// The two searches of the first `Например: a или b` line.
    fn greeting_examples(out: &str) -> Vec<String> {
        let Some(line) = out.lines().find_map(|l| l.strip_prefix("Например: ")) else { return Vec::new() };
        line.split(" или ").map(str::to_string).collect()
    }

    #[test]
    fn only_a_footer_names_the_post_shown() {
        assert_eq!(shown_post("Title\nbody\n\n📅 12 October 2021 · #7 · 🔗 post in the channel"), Some(7));
        assert_eq!(shown_post("Title\n\n#12"), Some(12));
        assert_eq!(shown_post("1. Title\n→ /post_7"), None);
        assert_eq!(shown_post("text with #hashtag"), None);
    }
}
