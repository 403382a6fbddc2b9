//! One endpoint per update kind. Each turns the update into a call of the
//! core and the result into requests; a failure is logged and, where a
//! person is waiting, answered with "something went wrong".

use std::sync::Arc;

use teloxide::ApiError;
use teloxide::RequestError;
use teloxide::prelude::*;
use teloxide::types::{
    ChatKind, FileId, InlineKeyboardMarkup, InlineQueryResult, InlineQueryResultArticle, InlineQueryResultCachedPhoto,
    InputMessageContent, InputMessageContentText, Me, ParseMode,
};

use super::BotState;
use super::media::Uploads;
use super::send::{deliver, keyboard, no_preview, retry};
use crate::chat::{self, Command, Ctx, Reply};
use crate::i18n::Lang;
use crate::render::html;
use crate::replay::commands::Access;

type HandlerResult = anyhow::Result<()>;

fn ctx(state: &BotState, me: &Me, chat_id: i64, user_id: i64, lang: Lang, private: bool) -> Ctx {
    Ctx {
        chat_id,
        lang,
        private,
        bot_username: me.username().to_string(),
        tz: state.config.timezone,
        now: state.clock.now(),
        user_id: Some(user_id),
        access: Access::for_user(&state.config, user_id),
        searcher: state.searcher.clone(),
        media_dir: state.config.media_dir.clone(),
        public_url: state.config.public_url.clone(),
    }
}

/// How this bot sends the posts' media: from the media folder, by its own file_ids.
fn uploads(state: &BotState, me: &Me) -> Uploads {
    Uploads { dir: state.config.media_dir.clone(), bot_id: me.id.0 as i64, archive: state.archive.clone() }
}

fn lang_of(user: Option<&teloxide::types::User>) -> Lang {
    Lang::from_code(user.and_then(|u| u.language_code.as_deref()))
}

#[tracing::instrument(name = "update", skip_all, fields(kind = "message", chat = msg.chat.id.0, command = tracing::field::Empty))]
pub async fn on_message(bot: Bot, msg: Message, me: Me, state: Arc<BotState>) -> HandlerResult {
    // A channel's post forwarded to the bot in private: the admin wants the channel's id.
    if matches!(msg.chat.kind, ChatKind::Private(_))
        && let Some(teloxide::types::MessageOrigin::Channel { chat, .. }) = msg.forward_origin()
    {
        let reply = chat::forwarded_channel(lang_of(msg.from.as_ref()), chat.id.0, chat.title().unwrap_or(""));
        if let Err(e) = deliver(&bot, msg.chat.id, &reply, &uploads(&state, &me)).await {
            tracing::warn!(chat = msg.chat.id.0, "cannot send a reply: {e}");
        }
        return Ok(());
    }
    let Some(text) = msg.text() else {
        tracing::debug!(chat = msg.chat.id.0, "message without text ignored");
        return Ok(());
    };
    let lang = lang_of(msg.from.as_ref());
    let private = matches!(msg.chat.kind, ChatKind::Private(_));
    let user_id = msg.from.as_ref().map_or(0, |u| u.id.0 as i64);
    let ctx = ctx(&state, &me, msg.chat.id.0, user_id, lang, private);
    let command = if text.trim_start().starts_with('/') {
        match chat::command::parse(text, me.username()) {
            Some(c) => Some(c),
            None => return Ok(()), // a command for another bot
        }
    } else {
        None
    };
    tracing::debug!(chat = msg.chat.id.0, ?command, "message");
    let started = std::time::Instant::now();
    let label = command.as_ref().map_or("text", Command::name);
    tracing::Span::current().record("command", label);
    let wakes_worker = matches!(command, Some(Command::Replay(_) | Command::Schedule(_) | Command::Cancel(_)));
    let text = text.to_string();
    // An admin's language, for the replay worker's alerts (sent when no message is answered).
    let admin = state.config.admins.contains(&user_id);
    let replies = state
        .archive
        .try_call(move |archive| {
            if admin && let Err(e) = archive.remember_lang(user_id, lang, ctx.now.timestamp()) {
                tracing::warn!(user_id, "cannot remember an admin's language: {e}");
            }
            match command {
                Some(c) => chat::on_command(archive, &ctx, c),
                None => chat::on_text(archive, &ctx, &text),
            }
        })
        .await;
    let replies = match replies {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(chat = msg.chat.id.0, "handling a message failed: {e:#}");
            vec![Reply::text(lang.texts().went_wrong)]
        }
    };
    if wakes_worker {
        state.wake.notify_one();
    }
    let uploads = uploads(&state, &me);
    for reply in &replies {
        if let Err(e) = deliver(&bot, msg.chat.id, reply, &uploads).await {
            tracing::warn!(chat = msg.chat.id.0, "cannot send a reply: {e}");
            break;
        }
    }
    metrics::histogram!("postkeeper_handler_duration_seconds", "command" => label)
        .record(started.elapsed().as_secs_f64());
    Ok(())
}

fn not_modified(e: &RequestError) -> bool {
    matches!(e, RequestError::Api(ApiError::MessageNotModified))
}

#[tracing::instrument(name = "update", skip_all, fields(kind = "callback_query", user = q.from.id.0))]
pub async fn on_callback(bot: Bot, q: CallbackQuery, me: Me, state: Arc<BotState>) -> HandlerResult {
    let lang = lang_of(Some(&q.from));
    let target = q.message.as_ref().map(|m| (m.chat().id, m.id()));
    let chat_id = target.map_or(q.from.id.0 as i64, |(c, _)| c.0);
    let private = q.message.as_ref().is_none_or(|m| m.chat().is_private());
    let ctx = ctx(&state, &me, chat_id, q.from.id.0 as i64, lang, private);
    let data = q.data.clone().unwrap_or_default();
    tracing::debug!(chat = chat_id, data, "callback");
    let outcome = state.archive.try_call(move |archive| chat::on_callback(archive, &ctx, &data)).await;
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(chat = chat_id, "handling a button failed: {e:#}");
            chat::CallbackReply { toast: Some(lang.texts().went_wrong.to_string()), ..Default::default() }
        }
    };
    // Answer first and exactly once, so the client's spinner stops.
    let toast = outcome.toast.clone();
    let answered = retry("answerCallbackQuery", || {
        let mut request = bot.answer_callback_query(q.id.clone());
        if let Some(t) = &toast {
            request = request.text(t.clone());
        }
        request.send()
    })
    .await;
    if let Err(e) = answered {
        tracing::warn!(chat = chat_id, "cannot answer a callback: {e}");
    }
    let current = q.message.as_ref().and_then(|m| m.regular_message());
    if let (Some(reply), Some((chat, message_id))) = (&outcome.edit, target) {
        let markup = keyboard(reply);
        // The page already shown (a double tap, the current-page button, an old button):
        // Telegram would refuse the identical edit, so there is nothing to send.
        if current.is_some_and(|m| same_content(m, reply, markup.as_ref())) {
            tracing::debug!(chat = chat_id, "the message already shows this page");
            return send_all(&bot, chat_id, &outcome.send, &uploads(&state, &me)).await;
        }
        let edited = retry("editMessageText", || {
            let mut request = bot
                .edit_message_text(chat, message_id, reply.html.clone())
                .parse_mode(ParseMode::Html)
                .link_preview_options(no_preview());
            if let Some(m) = &markup {
                request = request.reply_markup(m.clone());
            }
            request.send()
        })
        .await;
        match edited {
            Err(e) if not_modified(&e) => tracing::debug!("the message already shows this"),
            Err(e) => tracing::warn!(chat = chat_id, "cannot edit a message: {e}"),
            Ok(_) => {}
        }
    }
    send_all(&bot, chat_id, &outcome.send, &uploads(&state, &me)).await
}

async fn send_all(bot: &Bot, chat_id: i64, replies: &[Reply], uploads: &Uploads) -> HandlerResult {
    for reply in replies {
        if let Err(e) = deliver(bot, ChatId(chat_id), reply, uploads).await {
            tracing::warn!(chat = chat_id, "cannot send a reply: {e}");
            break;
        }
    }
    Ok(())
}

/// Does a message already show this reply (same text, same buttons)?
fn same_content(message: &Message, reply: &Reply, markup: Option<&InlineKeyboardMarkup>) -> bool {
    let shown = message.text().unwrap_or("").trim();
    shown == html::plain(&reply.html).trim() && message.reply_markup() == markup
}

#[tracing::instrument(name = "update", skip_all, fields(kind = "inline_query", user = q.from.id.0))]
pub async fn on_inline(bot: Bot, q: InlineQuery, state: Arc<BotState>) -> HandlerResult {
    let lang = lang_of(Some(&q.from));
    let tz = state.config.timezone;
    let (query, offset) = (q.query.clone(), q.offset.clone());
    tracing::debug!(user = q.from.id.0, query, offset, "inline query");
    let searcher = state.searcher.clone();
    let bot_id = super::media::bot_id(&bot);
    let page = state
        .archive
        .try_call(move |archive| chat::inline(archive, &searcher, lang, tz, &query, &offset, bot_id))
        .await;
    let page = match page {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("inline query failed: {e:#}");
            chat::InlinePage { articles: Vec::new(), next_offset: String::new() }
        }
    };
    let results: Vec<InlineQueryResult> = page
        .articles
        .into_iter()
        .map(|a| match a.photo {
            Some(file_id) => {
                let photo = InlineQueryResultCachedPhoto::new(a.id, FileId(file_id))
                    .title(a.title)
                    .description(a.description)
                    .caption(a.html)
                    .parse_mode(ParseMode::Html);
                InlineQueryResult::CachedPhoto(photo)
            }
            None => {
                let content = InputMessageContent::Text(
                    InputMessageContentText::new(a.html).parse_mode(ParseMode::Html).link_preview_options(no_preview()),
                );
                let article = InlineQueryResultArticle::new(a.id, a.title, content).description(a.description);
                InlineQueryResult::Article(article)
            }
        })
        .collect();
    let next_offset = page.next_offset;
    let answered = retry("answerInlineQuery", || {
        bot.answer_inline_query(q.id.clone(), results.clone()).next_offset(next_offset.clone()).cache_time(30).send()
    })
    .await;
    if let Err(e) = answered {
        tracing::warn!("cannot answer an inline query: {e}");
    }
    Ok(())
}

#[tracing::instrument(name = "update", skip_all, fields(kind = "channel_post", chat = msg.chat.id.0, message = msg.id.0))]
pub async fn on_channel_post(update: Update, msg: Message, state: Arc<BotState>) -> HandlerResult {
    let Some(source) = &state.config.source_chat else {
        return Ok(());
    };
    if !source.matches(msg.chat.id.0, msg.chat.username()) {
        tracing::debug!(chat = msg.chat.id.0, "post of a channel that is not the source: ignored");
        return Ok(());
    }
    // The message as Telegram sent it (teloxide drops what it does not know); teloxide's
    // own reading only when this process did not receive the JSON itself.
    let json = match state.raw.take(update.id.0) {
        Some(json) => json,
        None => serde_json::to_value(&msg)?,
    };
    let reading = crate::ingest::bot_api::read(&json);
    for name in reading.unknown.iter().chain(&reading.unknown_entities) {
        warn_once(name);
    }
    let Some(post) = reading.post else {
        tracing::debug!(chat = msg.chat.id.0, message = msg.id.0, "a service message of the channel: not a post");
        return Ok(());
    };
    let channel = reading.channel;
    let message_id = msg.id.0;
    let stored = state
        .archive
        .try_call(move |archive| {
            archive.import(|sink| -> Result<(), crate::store::StoreError> {
                sink.channel(&channel)?;
                sink.post(post)?;
                Ok(())
            })
        })
        .await;
    match stored {
        Ok(summary) => tracing::info!(message = message_id, "live post archived: {summary}"),
        Err(e) => tracing::error!(message = message_id, "cannot archive a live post: {e:#}"),
    }
    Ok(())
}

/// Logs once per process that a channel post carried a part (or an entity type) this
/// build does not know: it is kept as it came, and a newer postkeeper may show it better.
fn warn_once(name: &str) {
    static WARNED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut warned = WARNED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if !warned.iter().any(|w| w == name) {
        tracing::warn!("a channel post has \"{name}\", which this postkeeper does not know: kept as it came");
        warned.push(name.to_string());
    }
}

/// New reaction counts of a post of the source channel (`message_reaction_count`, which
/// Telegram sends an admin bot only when asked for in `allowed_updates`).
pub async fn on_reaction_count(
    counts: teloxide::types::MessageReactionCountUpdated,
    state: Arc<BotState>,
) -> HandlerResult {
    let Some(source) = &state.config.source_chat else {
        return Ok(());
    };
    if !source.matches(counts.chat.id.0, counts.chat.username()) {
        return Ok(());
    }
    let json = serde_json::to_value(&counts.reactions)?;
    let reactions: Vec<crate::model::Reaction> = json
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let kind = r.get("type")?;
            let count = r.get("total_count")?.as_i64()?;
            Some(crate::model::Reaction {
                emoji: kind.get("emoji").and_then(|e| e.as_str()).map(str::to_string),
                custom_emoji_id: kind.get("custom_emoji_id").and_then(|e| e.as_str()).map(str::to_string),
                paid: kind.get("type").and_then(|t| t.as_str()) == Some("paid"),
                count,
            })
        })
        .collect();
    let (chat, message_id) = (counts.chat.id.0, i64::from(counts.message_id.0));
    let applied = state.archive.try_call(move |archive| archive.set_reactions(chat, message_id, &reactions)).await;
    match applied {
        Ok(true) => tracing::debug!(message = message_id, "reactions updated"),
        Ok(false) => tracing::debug!(message = message_id, "reactions of a post not in the archive"),
        Err(e) => tracing::error!(message = message_id, "cannot store reactions: {e:#}"),
    }
    Ok(())
}
