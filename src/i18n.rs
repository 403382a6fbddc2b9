//! Every user-visible string, one table per language. Russian is the
//! default; English for users whose Telegram language starts with `en`.

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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

/// Fixed strings; HTML-safe as written (no user text in them).
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
    pub open_post: &'static str,
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
    open_post: "открыть",
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
    open_post: "open",
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
