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
    /// The commands in /help: (example, what it does); a `{slot}` is filled from the
    /// archive (word, topic, post), the command shown bare when it has no value.
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
    /// Under a poll: its results are those the archive read, not live ones.
    pub poll_results_note: &'static str,
    /// A forwarded post's origin in its footer. Slot: from.
    pub forwarded_from: &'static str,
    /// `/id`. Slots: id (the user's), chat (a group's id).
    pub id_user: &'static str,
    pub id_admin_already: &'static str,
    pub id_chat: &'static str,
    pub id_console: &'static str,
    /// A channel post forwarded to the bot. Slots: title, id.
    pub id_forwarded_channel: &'static str,
    pub went_wrong: &'static str,
    pub open_in_channel: &'static str,
    pub no_title: &'static str,
    /// Under a post whose media cannot be sent: `{n}` items.
    pub media_not_kept: &'static str,
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
    pub alert_media_missing: &'static str,
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
    pub target_best: &'static str,
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
    /// The query language in /help, as `help_lines` (slots also topic_op, from, to, media,
    /// hashtag); a line with a slot this archive has no value for is left out.
    pub search_help_header: &'static str,
    pub search_help_lines: &'static [(&'static str, &'static str)],
    /// Understood line pieces. Slot: date.
    pub search_from: &'static str,
    pub search_to: &'static str,
    /// Month names after "to" (`по октябрь`); after "from" the genitive `months` (`с октября`).
    pub months_nominative: [&'static str; 12],
    pub search_has_photo: &'static str,
    pub search_has_video: &'static str,
    pub search_has_file: &'static str,
    pub search_sorted_newest: &'static str,
    pub search_sorted_top: &'static str,
    /// A part of a query not understood. Slots: token, why, example.
    pub problem_line: &'static str,
    pub problem_date: &'static str,
    pub example_date: &'static str,
    pub problem_range: &'static str,
    pub example_range: &'static str,
    pub problem_topic: &'static str,
    pub example_topic: &'static str,
    pub problem_media: &'static str,
    pub example_media: &'static str,
    pub problem_sort: &'static str,
    pub example_sort: &'static str,
    pub problem_phrase: &'static str,
    pub example_phrase: &'static str,
    pub problem_minus: &'static str,
    pub example_minus: &'static str,
    pub problem_empty_value: &'static str,
    pub problem_only_exclusions: &'static str,
    /// Slot: query (escaped by the caller).
    pub showing_corrected: &'static str,
    /// Slot: query.
    pub search_instead: &'static str,
    pub sort_newest_button: &'static str,
    pub sort_relevance_button: &'static str,
    pub sort_top_button: &'static str,
    pub similar_button: &'static str,
    /// The button to a post's page on the web archive.
    pub web_button: &'static str,
    /// Slots: id, title.
    pub similar_header: &'static str,
    pub similar_none: &'static str,
    pub similar_usage: &'static str,
    /// A greeting or thanks in a private chat, answered without a search.
    pub greeting_hello: &'static str,
    pub greeting_thanks: &'static str,
    pub greeting_help: &'static str,
    /// Searches to try, drawn from the archive. Slots: a, b (HTML, made by the caller).
    pub examples_two: &'static str,
    pub examples_one: &'static str,
    /// The toast of the current-page button. Slots: page, pages.
    pub page_toast: &'static str,
    /// The console, a number that is no button of the last reply. Slots: n, range.
    pub no_button: &'static str,
    /// The same when the last reply had no buttons. Slot: n.
    pub no_buttons: &'static str,
    /// A search with an operator nothing in this archive can match.
    pub no_dated_posts: &'static str,
    pub no_photo_posts: &'static str,
    pub no_video_posts: &'static str,
    pub no_file_posts: &'static str,
    /// Slot: tag (without `#`).
    pub no_hashtag_posts: &'static str,
    /// The media kinds as `есть:` / `has:` take them: photo, video, file.
    pub media_names: [&'static str; 3],
}

pub static RU: Texts = Texts {
    intro_fallback: "Я храню архив канала и нахожу в нём посты.",
    commands_header: "Что я умею:",
    help_lines: &[
        ("/search {word}", "поиск по архиву (слова в любой форме)"),
        ("/random", "случайный пост"),
        ("/topic {topic}", "темы и посты по теме"),
        ("/post {post}", "пост целиком"),
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
    poll_results_note: "📊 итоги опроса на момент архивации",
    forwarded_from: "↪ Переслано из {from}",
    id_user: "Ваш id в Telegram: <code>{id}</code>\nЧтобы повторять посты и ставить расписание, добавьте его в <code>.env</code>:\n<code>POSTKEEPER_ADMINS={id}</code>",
    id_admin_already: "Ваш id в Telegram: <code>{id}</code> — вы уже администратор этого бота.",
    id_chat: "id этого чата: <code>{chat}</code>",
    id_console: "В консоли нет пользователя Telegram: напишите /id самому боту в Telegram.",
    id_forwarded_channel: "Канал «{title}»: id <code>{id}</code>\nЧтобы архивировать его новые посты, добавьте в <code>.env</code>:\n<code>POSTKEEPER_SOURCE_CHAT={id}</code>",
    went_wrong: "Что-то пошло не так, попробуйте ещё раз чуть позже.",
    open_in_channel: "пост в канале",
    no_title: "Без названия",
    media_not_kept: "📎 Медиа этого поста ({n}) не сохранились в архиве: показан только текст.",
    media_missing: "нет файла: не выгружен",
    media_by_file_id: "в Telegram (file_id)",
    replay_not_admin: "Извините, повторять и планировать посты могут только администраторы канала.",
    alert_job_failed: "⚠️ Повтор по заданию #{job} не удался: {reason}",
    alert_run_failed: "⚠️ Повтор по заданию #{job} («{title}») в {chat} не удался: {reason}",
    alert_media_missing: "⚠️ Повтор по заданию #{job} («{title}») ушёл без медиа: их нельзя отправить — {files}. Текст поста отправлен.",
    alert_run_uncertain: "⚠️ Повтор по заданию #{job} («{title}») в {chat} был прерван: неизвестно, дошла ли часть {parts}. Чтобы не задвоить, она не отправлена повторно — проверьте канал.",
    replay_no_admins: "Повторы выключены: не задан POSTKEEPER_ADMINS (id администраторов через запятую).",
    replay_no_chat: "Повторы выключены: не задан POSTKEEPER_REPLAY_CHAT (id или @username канала для повторов).",
    replay_usage: "Укажите номер поста: <code>/replay 12</code>",
    schedule_usage: "Формат: <code>{schedule} ЧТО КОГДА</code>\nЧТО: номер поста, <code>random</code>, <code>next</code> или <code>best</code>\nКОГДА: <code>in 30s</code> · <code>in 10m</code> · <code>in 2h</code> · <code>in 1d</code> · <code>14:30</code> · <code>2026-12-01 10:00</code> · <code>daily 10:00</code> · <code>every 6h</code> · <code>{cron}</code>\nНапример: <code>{schedule} next daily 10:00</code>",
    schedule_what_unknown: "Не понимаю, что такое «{what}»: ЧТО — это номер поста, <code>random</code>, <code>next</code> или <code>best</code>.",
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
    target_best: "лучший пост (больше всего реакций, не повторялся 90 дней)",
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
        ("similar", "Похожие посты"),
        ("help", "Что умеет бот"),
    ],
    search_help_header: "Язык запросов (можно сочетать):",
    search_help_lines: &[
        ("\"робота собаку\"", "слова подряд, в любой форме"),
        ("-манипулятор", "без этого слова"),
        ("тема:{topic_op}", "только посты темы"),
        ("с:{from} до:{to}", "даты: год, месяц или день"),
        ("есть:{media}", "с фото, видео или файлом (фото / видео / файл)"),
        ("#{hashtag}", "пост с этим хештегом"),
        ("{word} порядок:новые", "сначала новые (по умолчанию — по релевантности)"),
        ("/similar {post}", "посты, похожие на пост {post}"),
    ],
    search_from: "с {date}",
    search_to: "по {date}",
    months_nominative: [
        "январь",
        "февраль",
        "март",
        "апрель",
        "май",
        "июнь",
        "июль",
        "август",
        "сентябрь",
        "октябрь",
        "ноябрь",
        "декабрь",
    ],
    search_has_photo: "📷 с фото",
    search_has_video: "🎬 с видео",
    search_has_file: "📎 с файлом",
    search_sorted_newest: "🕒 сначала новые",
    search_sorted_top: "❤ сначала лучшие (по реакциям)",
    problem_line: "⚠️ Не понял «{token}»: {why}. Например: {example}",
    problem_date: "дата пишется как год, месяц или день",
    example_date: "с:2021-10 до:2021-12-31",
    problem_range: "начало позже конца",
    example_range: "с:2021-01 до:2021-06",
    problem_topic: "такой темы нет (все темы: /topic)",
    example_topic: "тема:робототехника",
    problem_media: "бывает фото, видео или файл",
    example_media: "есть:фото",
    problem_sort: "порядок бывает «новые» или «релевантность»",
    example_sort: "порядок:новые",
    problem_phrase: "в кавычках нет слов",
    example_phrase: "\"обучение с подкреплением\"",
    problem_minus: "минус ставится прямо перед словом, которого не должно быть",
    example_minus: "робот -манипулятор",
    problem_empty_value: "после двоеточия ничего нет",
    problem_only_exclusions: "нужно и то, что искать",
    showing_corrected: "Показаны результаты по запросу «{query}».",
    search_instead: "Искать «{query}»",
    sort_newest_button: "🕒 Сначала новые",
    sort_relevance_button: "⭐ По релевантности",
    sort_top_button: "❤ Сначала лучшие",
    similar_button: "🔗 Похожие",
    web_button: "🌐 На сайте",
    similar_header: "🔗 Похожие на пост {id} «{title}»",
    similar_none: "Похожих постов не нашлось.",
    similar_usage: "Укажите номер поста, например: <code>/similar 3</code>",
    greeting_hello: "Здравствуйте! Я ищу посты в архиве канала: просто напишите, что найти.",
    greeting_thanks: "Пожалуйста! Если нужно найти что-то ещё, просто напишите слова.",
    greeting_help: "Что ещё я умею: /help",
    examples_two: "Например: {a} или {b}",
    examples_one: "Например: {a}",
    page_toast: "Страница {page} из {pages}",
    no_button: "Кнопки {n} здесь нет: можно нажать {range}. Чтобы искать число, напишите /search {n}",
    no_buttons: "Здесь нет кнопок. Чтобы искать число, напишите /search {n}",
    no_dated_posts: "В архиве нет постов с датами: по датам здесь ничего не найти.",
    no_photo_posts: "В архиве нет постов с фото.",
    no_video_posts: "В архиве нет постов с видео.",
    no_file_posts: "В архиве нет постов с файлами.",
    no_hashtag_posts: "Ни в одном посте архива нет хештега #{tag}.",
    media_names: ["фото", "видео", "файл"],
};

pub static EN: Texts = Texts {
    intro_fallback: "I keep a channel's archive and find posts in it.",
    commands_header: "What I can do:",
    help_lines: &[
        ("/search {word}", "search the archive (any word form)"),
        ("/random", "a random post"),
        ("/topic {topic}", "topics and their posts"),
        ("/post {post}", "a whole post"),
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
    poll_results_note: "📊 poll results as archived",
    forwarded_from: "↪ Forwarded from {from}",
    id_user: "Your Telegram id: <code>{id}</code>\nTo replay posts and set schedules, add it to <code>.env</code>:\n<code>POSTKEEPER_ADMINS={id}</code>",
    id_admin_already: "Your Telegram id: <code>{id}</code> — you are already an admin of this bot.",
    id_chat: "This chat's id: <code>{chat}</code>",
    id_console: "The console has no Telegram user: send /id to the bot in Telegram.",
    id_forwarded_channel: "Channel «{title}»: id <code>{id}</code>\nTo archive its new posts, add to <code>.env</code>:\n<code>POSTKEEPER_SOURCE_CHAT={id}</code>",
    went_wrong: "Something went wrong, please try again a bit later.",
    open_in_channel: "post in the channel",
    no_title: "Untitled",
    media_not_kept: "📎 This post's media ({n}) were not kept in the archive: only its text is shown.",
    media_missing: "missing: not exported",
    media_by_file_id: "in Telegram (file_id)",
    replay_not_admin: "Sorry, only the channel's admins can replay and schedule posts.",
    alert_job_failed: "⚠️ The replay of job #{job} failed: {reason}",
    alert_run_failed: "⚠️ The replay of job #{job} («{title}») to {chat} failed: {reason}",
    alert_media_missing: "⚠️ The replay of job #{job} («{title}») went out without its media, which cannot be sent: {files}. The post's text was sent.",
    alert_run_uncertain: "⚠️ The replay of job #{job} («{title}») to {chat} was interrupted: part {parts} may or may not have arrived. It was not sent again, so as not to post it twice — please check the channel.",
    replay_no_admins: "Replays are off: POSTKEEPER_ADMINS (comma-separated admin ids) is not set.",
    replay_no_chat: "Replays are off: POSTKEEPER_REPLAY_CHAT (id or @username of the replay channel) is not set.",
    replay_usage: "Give a post number: <code>/replay 12</code>",
    schedule_usage: "Usage: <code>{schedule} WHAT WHEN</code>\nWHAT: a post id, <code>random</code>, <code>next</code> or <code>best</code>\nWHEN: <code>in 30s</code> · <code>in 10m</code> · <code>in 2h</code> · <code>in 1d</code> · <code>14:30</code> · <code>2026-12-01 10:00</code> · <code>daily 10:00</code> · <code>every 6h</code> · <code>{cron}</code>\nE.g. <code>{schedule} next daily 10:00</code>",
    schedule_what_unknown: "I can't tell what “{what}” is: WHAT is a post id, <code>random</code>, <code>next</code> or <code>best</code>.",
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
    target_best: "the best post (most reactions, not replayed for 90 days)",
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
        ("similar", "Posts like a post"),
        ("help", "What the bot does"),
    ],
    search_help_header: "Query language (combine freely):",
    search_help_lines: &[
        ("\"robot dog\"", "these words in this order, any form"),
        ("-manipulator", "without this word"),
        ("topic:{topic_op}", "only posts of a topic"),
        ("from:{from} to:{to}", "dates: a year, a month or a day"),
        ("has:{media}", "with a photo, video or file (photo / video / file)"),
        ("#{hashtag}", "posts with this hashtag"),
        ("{word} sort:new", "newest first (relevance by default)"),
        ("/similar {post}", "posts like post {post}"),
    ],
    search_from: "from {date}",
    search_to: "through {date}",
    months_nominative: [
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
    search_has_photo: "📷 with a photo",
    search_has_video: "🎬 with a video",
    search_has_file: "📎 with a file",
    search_sorted_newest: "🕒 newest first",
    search_sorted_top: "❤ most reactions first",
    problem_line: "⚠️ I didn't understand “{token}”: {why}. E.g. {example}",
    problem_date: "a date is a year, a month or a day",
    example_date: "from:2021-10 to:2021-12-31",
    problem_range: "the start is after the end",
    example_range: "from:2021-01 to:2021-06",
    problem_topic: "there is no such topic (all topics: /topic)",
    example_topic: "topic:robotics",
    problem_media: "media is photo, video or file",
    example_media: "has:photo",
    problem_sort: "the order is “new” or “relevance”",
    example_sort: "sort:new",
    problem_phrase: "there are no words in the quotes",
    example_phrase: "\"reinforcement learning\"",
    problem_minus: "a minus goes right before a word that must not be there",
    example_minus: "robot -manipulator",
    problem_empty_value: "there is nothing after the colon",
    problem_only_exclusions: "say what to look for too",
    showing_corrected: "Showing results for “{query}”.",
    search_instead: "Search for “{query}”",
    sort_newest_button: "🕒 Newest first",
    sort_relevance_button: "⭐ By relevance",
    sort_top_button: "❤ Most liked first",
    similar_button: "🔗 Similar",
    web_button: "🌐 On the web",
    similar_header: "🔗 Like post {id} “{title}”",
    similar_none: "No similar posts found.",
    similar_usage: "Give a post number, e.g. <code>/similar 3</code>",
    greeting_hello: "Hello! I find posts in the channel's archive: just write what to look for.",
    greeting_thanks: "You're welcome! To find something else, just write some words.",
    greeting_help: "All I can do: /help",
    examples_two: "For example: {a} or {b}",
    examples_one: "For example: {a}",
    page_toast: "Page {page} of {pages}",
    no_button: "There is no button {n} here: press {range}. To search for the number, write /search {n}",
    no_buttons: "There are no buttons here. To search for the number, write /search {n}",
    no_dated_posts: "The archive has no dated posts: a search by date finds nothing here.",
    no_photo_posts: "The archive has no posts with a photo.",
    no_video_posts: "The archive has no posts with a video.",
    no_file_posts: "The archive has no posts with a file.",
    no_hashtag_posts: "No post of the archive carries #{tag}.",
    media_names: ["photo", "video", "file"],
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
