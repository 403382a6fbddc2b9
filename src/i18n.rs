//! Every user-visible string, one table per language. Russian is the
//! default; English for users whose Telegram language starts with `en`.

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;

/// The language of replies (`--lang ru|en` on the console).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Lang {
    #[default]
    Ru,
    En,
}

impl Lang {
    /// From Telegram's `language_code` (`en`, `en-US`, `ru`, ...).
    pub fn from_code(code: Option<&str>) -> Lang {
        match code {
            Some(c) if c.to_ascii_lowercase().starts_with("en") => Lang::En,
            _ => Lang::Ru,
        }
    }

    /// The code stored for a user's language (as `from_code` reads it back).
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::Ru => &RU,
            Lang::En => &EN,
        }
    }

    /// A topic's name in this language.
    pub fn pick<'a>(self, ru: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Ru => ru,
            Lang::En => en,
        }
    }
}

/// Fixed strings, HTML-safe as written. A `{slot}` is filled by the caller
/// (escaped, when it echoes what someone typed), so that one text serves the
/// chat and the command line.
pub struct Texts {
    pub intro_fallback: &'static str,
    pub commands_header: &'static str,
    pub help_lines: &'static [(&'static str, &'static str)],
    pub inline_hint: &'static str,
    pub plain_text_hint: &'static str,
    pub search_usage: &'static str,
    pub post_usage: &'static str,
    pub nothing_found: &'static str,
    pub did_you_mean: &'static str,
    pub found: &'static str,
    pub found_some_words: &'static str,
    pub page: &'static str,
    pub no_post: &'static str,
    pub empty_archive: &'static str,
    pub more_random: &'static str,
    pub topics_header: &'static str,
    pub no_topic: &'static str,
    pub back_to_topics: &'static str,
    pub topic_empty: &'static str,
    pub expired: &'static str,
    pub unknown_command: &'static str,
    pub went_wrong: &'static str,
    pub open_in_channel: &'static str,
    pub no_title: &'static str,
    /// A media item whose file the export did not include (console and `show` lines).
    pub media_missing: &'static str,
    /// A media item known by Telegram's file_id only (a live post).
    pub media_by_file_id: &'static str,
    pub replay_not_admin: &'static str,
    /// To admins: a due job sent nothing. Slots: job, reason.
    pub alert_job_failed: &'static str,
    /// To admins: a run failed. Slots: job, title, chat, reason.
    pub alert_run_failed: &'static str,
    /// To admins: a run was interrupted during a request. Slots: job, title, chat, parts.
    pub alert_run_uncertain: &'static str,
    pub replay_no_admins: &'static str,
    pub replay_no_chat: &'static str,
    pub replay_usage: &'static str,
    pub schedule_usage: &'static str,
    pub schedule_what_unknown: &'static str,
    pub schedule_no_post: &'static str,
    pub when_missing: &'static str,
    pub when_unreadable: &'static str,
    pub when_too_often: &'static str,
    pub when_not_time: &'static str,
    pub when_not_date: &'static str,
    pub when_past: &'static str,
    pub cron_bad: &'static str,
    pub cron_never: &'static str,
    pub cron_unquoted: &'static str,
    pub cancel_usage: &'static str,
    pub cancel_no_job: &'static str,
    pub unknown_post: &'static str,
    pub job_created: &'static str,
    pub job_now: &'static str,
    pub job_first_run: &'static str,
    pub job_repeats: &'static str,
    pub target_random: &'static str,
    pub target_next: &'static str,
    pub every: &'static str,
    pub daily_at: &'static str,
    pub cron: &'static str,
    pub queue_empty: &'static str,
    pub queue_pending: &'static str,
    pub queue_outcomes: &'static str,
    pub outcome_sent: &'static str,
    pub outcome_failed: &'static str,
    pub outcome_missed: &'static str,
    pub outcome_uncertain: &'static str,
    pub outcome_sending: &'static str,
    pub cancelled: &'static str,
    pub no_job: &'static str,
    pub months: [&'static str; 12],
    pub command_descriptions: &'static [(&'static str, &'static str)],
}

pub static RU: Texts = Texts {
    intro_fallback: "Я храню архив канала и нахожу в нём посты.",
    commands_header: "Что я умею:",
    help_lines: &[
        ("/search робот-собака", "поиск по архиву (слова в любой форме)"),
        ("/random", "случайный пост"),
        ("/topic робототехника", "темы и посты по теме"),
        ("/post 3", "пост целиком"),
    ],
    inline_hint: "В любом чате: напишите @{bot} и слова — я предложу посты.",
    plain_text_hint: "Можно просто написать мне слова — это тоже поиск.",
    search_usage: "Напишите, что искать, например: <code>/search торговая стратегия</code>",
    post_usage: "Укажите номер поста, например: <code>/post 3</code>",
    nothing_found: "Ничего не нашлось по запросу",
    did_you_mean: "Возможно, вы искали:",
    found: "Найдено",
    found_some_words: "совпали не все слова",
    page: "стр.",
    no_post: "Поста с таким номером нет. Посты по порядку: /topic, случайный: /random",
    empty_archive: "Архив пока пуст.",
    more_random: "🎲 ещё",
    topics_header: "Темы архива — выберите:",
    no_topic: "Такой темы нет. Вот все темы:",
    back_to_topics: "⬅ Темы",
    topic_empty: "В этой теме пока нет постов.",
    expired: "Эта кнопка устарела — повторите поиск.",
    unknown_command: "Не знаю такой команды. Список команд: /help",
    went_wrong: "Что-то пошло не так, попробуйте ещё раз чуть позже.",
    open_in_channel: "пост в канале",
    no_title: "Без названия",
    media_missing: "нет файла: не выгружен",
    media_by_file_id: "в Telegram (file_id)",
    replay_not_admin: "Извините, повторять и планировать посты могут только администраторы канала.",
    alert_job_failed: "⚠️ Повтор по заданию #{job} не удался: {reason}",
    alert_run_failed: "⚠️ Повтор по заданию #{job} («{title}») в {chat} не удался: {reason}",
    alert_run_uncertain: "⚠️ Повтор по заданию #{job} («{title}») в {chat} был прерван: неизвестно, дошла ли часть {parts}. Чтобы не задвоить, она не отправлена повторно — проверьте канал.",
    replay_no_admins: "Повторы выключены: не задан POSTKEEPER_ADMINS (id администраторов через запятую).",
    replay_no_chat: "Повторы выключены: не задан POSTKEEPER_REPLAY_CHAT (id или @username канала для повторов).",
    replay_usage: "Укажите номер поста: <code>/replay 12</code>",
    schedule_usage: "Формат: <code>{schedule} ЧТО КОГДА</code>\nЧТО: номер поста, <code>random</code> или <code>next</code>\nКОГДА: <code>in 30s</code> · <code>in 10m</code> · <code>in 2h</code> · <code>in 1d</code> · <code>14:30</code> · <code>2026-12-01 10:00</code> · <code>daily 10:00</code> · <code>every 6h</code> · <code>{cron}</code>\nНапример: <code>{schedule} next daily 10:00</code>",
    schedule_what_unknown: "Не понимаю, что такое «{what}»: ЧТО — это номер поста, <code>random</code> или <code>next</code>.",
    schedule_no_post: "Поста #{id} в архиве нет.",
    when_missing: "Не указано КОГДА: напишите, когда повторить.",
    when_unreadable: "Не понимаю время «{when}».",
    when_too_often: "Интервал — не меньше минуты (канал принимает 20 постов в минуту).",
    when_not_time: "{time} — не время суток (от 00:00 до 23:59).",
    when_not_date: "{date} — такой даты нет.",
    when_past: "Это время уже прошло: {at}.",
    cron_bad: "«{cron}» — не выражение cron: нужно пять полей (минута, час, день, месяц, день недели).",
    cron_never: "«{cron}» никогда не наступит: ни одна дата не подходит.",
    cron_unquoted: "Выражение cron пишется в кавычках: <code>{cron}</code>",
    cancel_usage: "Укажите номер задания: <code>{cancel} 3</code> (номера — в {queue})",
    cancel_no_job: "Нет активного задания #{id} (см. {queue}).",
    unknown_post: "Такого поста нет в архиве.",
    job_created: "Задание",
    job_now: "сейчас",
    job_first_run: "первый раз",
    job_repeats: "повтор",
    target_random: "случайный пост (давно не повторявшийся)",
    target_next: "следующий пост по порядку",
    every: "каждые",
    daily_at: "каждый день в",
    cron: "по расписанию cron",
    queue_empty: "Очередь пуста.",
    queue_pending: "Запланировано:",
    queue_outcomes: "Последние повторы:",
    outcome_sent: "отправлен",
    outcome_failed: "не удался",
    outcome_missed: "пропущен",
    outcome_uncertain: "прерван, проверьте канал",
    outcome_sending: "отправляется",
    cancelled: "отменено",
    no_job: "Нет активного задания с таким номером (см. /queue).",
    months: [
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    ],
    command_descriptions: &[
        ("search", "Поиск по архиву"),
        ("random", "Случайный пост"),
        ("topic", "Темы архива"),
        ("post", "Пост по номеру"),
        ("help", "Что умеет бот"),
    ],
};

pub static EN: Texts = Texts {
    intro_fallback: "I keep a channel's archive and find posts in it.",
    commands_header: "What I can do:",
    help_lines: &[
        ("/search robot dog", "search the archive (any word form)"),
        ("/random", "a random post"),
        ("/topic robotics", "topics and their posts"),
        ("/post 3", "a whole post"),
    ],
    inline_hint: "In any chat: type @{bot} and some words, and I will offer posts.",
    plain_text_hint: "You can also just send me words: that searches too.",
    search_usage: "Tell me what to look for, e.g. <code>/search trading strategy</code>",
    post_usage: "Give a post number, e.g. <code>/post 3</code>",
    nothing_found: "Nothing found for",
    did_you_mean: "Did you mean:",
    found: "Found",
    found_some_words: "not all words matched",
    page: "p.",
    no_post: "There is no post with that number. Browse: /topic, or try /random",
    empty_archive: "The archive is empty so far.",
    more_random: "🎲 more",
    topics_header: "Topics of the archive — pick one:",
    no_topic: "No such topic. Here are all topics:",
    back_to_topics: "⬅ Topics",
    topic_empty: "No posts in this topic yet.",
    expired: "This button has expired — please search again.",
    unknown_command: "I don't know that command. See /help",
    went_wrong: "Something went wrong, please try again a bit later.",
    open_in_channel: "post in the channel",
    no_title: "Untitled",
    media_missing: "missing: not exported",
    media_by_file_id: "in Telegram (file_id)",
    replay_not_admin: "Sorry, only the channel's admins can replay and schedule posts.",
    alert_job_failed: "⚠️ The replay of job #{job} failed: {reason}",
    alert_run_failed: "⚠️ The replay of job #{job} («{title}») to {chat} failed: {reason}",
    alert_run_uncertain: "⚠️ The replay of job #{job} («{title}») to {chat} was interrupted: part {parts} may or may not have arrived. It was not sent again, so as not to post it twice — please check the channel.",
    replay_no_admins: "Replays are off: POSTKEEPER_ADMINS (comma-separated admin ids) is not set.",
    replay_no_chat: "Replays are off: POSTKEEPER_REPLAY_CHAT (id or @username of the replay channel) is not set.",
    replay_usage: "Give a post number: <code>/replay 12</code>",
    schedule_usage: "Usage: <code>{schedule} WHAT WHEN</code>\nWHAT: a post id, <code>random</code> or <code>next</code>\nWHEN: <code>in 30s</code> · <code>in 10m</code> · <code>in 2h</code> · <code>in 1d</code> · <code>14:30</code> · <code>2026-12-01 10:00</code> · <code>daily 10:00</code> · <code>every 6h</code> · <code>{cron}</code>\nE.g. <code>{schedule} next daily 10:00</code>",
    schedule_what_unknown: "I can't tell what “{what}” is: WHAT is a post id, <code>random</code> or <code>next</code>.",
    schedule_no_post: "There is no post #{id} in the archive.",
    when_missing: "WHEN is missing: say when to replay it.",
    when_unreadable: "I can't read “{when}” as a time.",
    when_too_often: "The interval must be at least a minute (a channel takes 20 posts a minute).",
    when_not_time: "{time} is not a time of day (00:00 to 23:59).",
    when_not_date: "{date} is not a date.",
    when_past: "That time has passed: {at}.",
    cron_bad: "“{cron}” is not a cron expression: it takes five fields (minute, hour, day, month, weekday).",
    cron_never: "“{cron}” never comes round: no date matches it.",
    cron_unquoted: "A cron expression goes in quotes: <code>{cron}</code>",
    cancel_usage: "Give a job number: <code>{cancel} 3</code> (see {queue})",
    cancel_no_job: "No active job #{id} (see {queue}).",
    unknown_post: "There is no such post in the archive.",
    job_created: "Job",
    job_now: "now",
    job_first_run: "first run",
    job_repeats: "repeats",
    target_random: "a random post (least recently replayed)",
    target_next: "the next post in order",
    every: "every",
    daily_at: "daily at",
    cron: "cron",
    queue_empty: "The queue is empty.",
    queue_pending: "Scheduled:",
    queue_outcomes: "Latest replays:",
    outcome_sent: "sent",
    outcome_failed: "failed",
    outcome_missed: "missed",
    outcome_uncertain: "interrupted, check the channel",
    outcome_sending: "sending",
    cancelled: "cancelled",
    no_job: "No active job with that number (see /queue).",
    months: [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    command_descriptions: &[
        ("search", "Search the archive"),
        ("random", "A random post"),
        ("topic", "Topics of the archive"),
        ("post", "A post by number"),
        ("help", "What the bot does"),
    ],
};

impl Lang {
    /// `12 октября 2021` / `12 October 2021`, in the given zone.
    pub fn date(self, d: DateTime<Utc>, tz: Tz) -> String {
        let d = d.with_timezone(&tz);
        let month = self.texts().months[d.month0() as usize];
        match self {
            Lang::Ru => format!("{} {month} {}", d.day(), d.year()),
            Lang::En => format!("{} {month} {}", d.day(), d.year()),
        }
    }

    /// `12 октября 2021, 10:00` in the given zone, with the zone's abbreviation.
    pub fn date_time(self, d: DateTime<Utc>, tz: Tz) -> String {
        let local = d.with_timezone(&tz);
        format!("{}, {} {}", self.date(d, tz), local.format("%H:%M"), local.format("%Z"))
    }
}

/// Fills a text's `{slot}`s in one pass, so that a value (which may echo what
/// was typed) is never itself filled.
pub fn fill(text: &str, slots: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let from = &rest[open..];
        let slot = from.find('}').and_then(|close| {
            let name = &from[1..close];
            slots.iter().find(|(k, _)| *k == name).map(|(_, v)| (close, *v))
        });
        match slot {
            Some((close, value)) => {
                out.push_str(value);
                rest = &from[close + 1..];
            }
            None => {
                out.push('{');
                rest = &from[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
