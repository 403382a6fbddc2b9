//! `postkeeper console`: the bot's conversation in a terminal, no token
//! needed. Same core, same replies; HTML is shown as plain text and buttons
//! are numbered: typing a button's number presses it.

use std::io::{BufRead, Write};

use crate::chat::{self, ButtonKind, Ctx, Reply};
use crate::i18n::Lang;
use crate::store::Archive;

/// Telegram HTML as readable text: tags dropped (a link's URL shown after
/// its text), entities decoded.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    let mut hrefs: Vec<String> = Vec::new();
    while let Some(i) = rest.find(['<', '&']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if rest.starts_with('<') {
            let Some(end) = rest.find('>') else { break };
            let tag = &rest[1..end];
            if let Some(attrs) = tag.strip_prefix("a ") {
                let href = attrs.split('"').nth(1).unwrap_or("").to_string();
                hrefs.push(unescape(&href));
            } else if tag == "/a"
                && let Some(href) = hrefs.pop()
                && !href.is_empty()
            {
                out.push_str(&format!(" <{href}>"));
            }
            rest = &rest[end + 1..];
        } else {
            let end = rest.find(';').filter(|&e| e <= 8).unwrap_or(0);
            out.push_str(&unescape(&rest[..=end]));
            rest = &rest[end + 1..];
        }
    }
    out.push_str(rest);
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&")
}

/// The chat loop over `input` until its end (or `/quit`).
pub fn run(
    archive: &mut Archive,
    mut ctx: Ctx,
    input: impl BufRead,
    out: &mut impl Write,
    prompt: bool,
) -> anyhow::Result<()> {
    let mut buttons: Vec<String> = Vec::new();
    let show = |out: &mut dyn Write, replies: &[Reply], buttons: &mut Vec<String>| -> std::io::Result<()> {
        for reply in replies {
            writeln!(out, "{}", html_to_text(&reply.html))?;
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
        writeln!(out)
    };
    show(out, &chat::on_command(archive, &ctx, chat::Command::Help)?, &mut buttons)?;
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
        if let Ok(n) = line.parse::<usize>()
            && n >= 1
            && n <= buttons.len()
        {
            let data = buttons[n - 1].clone();
            let outcome = chat::on_callback(archive, &ctx, &data)?;
            if let Some(toast) = outcome.toast {
                writeln!(out, "({toast})")?;
            }
            if let Some(edit) = outcome.edit {
                show(out, &[edit], &mut buttons)?;
            }
            show(out, &outcome.send, &mut buttons)?;
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
        show(out, &replies, &mut buttons)?;
    }
    Ok(())
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_text() {
        assert_eq!(
            html_to_text("<b>a &lt;b&gt;</b> &amp; <a href=\"https://x.y/?a=1&amp;b\">link</a>"),
            "a <b> & link <https://x.y/?a=1&b>"
        );
        assert_eq!(html_to_text("AT&T"), "AT&T");
    }

    #[test]
    fn a_session_pages_and_presses_buttons() {
        let mut archive = Archive::open_in_memory().expect("store");
        crate::ingest::seed_if_empty(&mut archive).expect("seed");
        let input = "/search обучение\n2\n/post 1\n/topic\n1\n/nonsense\nэкзопланетты\n1\n";
        let mut out = Vec::new();
        run(&mut archive, context(Lang::Ru, &crate::config::Config::default()), input.as_bytes(), &mut out, false)
            .expect("runs");
        let out = String::from_utf8(out).expect("utf8");
        assert!(out.contains("стр. 1/"), "{out}");
        assert!(out.contains("стр. 2/"), "pressing ▶ pages: {out}");
        assert!(out.contains("Повторение – мать ученья"), "{out}");
        assert!(out.contains("Не знаю такой команды"), "{out}");
        assert!(out.contains("Возможно, вы искали: экзопланеты"), "{out}");
        assert!(out.contains("Как DL открывает новые экзопланеты"), "the suggestion button searches: {out}");
    }
}
