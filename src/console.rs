//! `postkeeper console`: the bot's conversation in a terminal, no token
//! needed. Same core, same replies; HTML is shown as plain text and buttons
//! are numbered: typing a button's number presses it.

use std::io::{BufRead, Write};

use crate::chat::{self, ButtonKind, Ctx, Reply};
use crate::i18n::Lang;
use crate::render::html;
use crate::store::Archive;

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
            writeln!(out, "{}", html::to_text(&reply.html, true))?;
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
