//! The web archive's words in Russian and English, and which a reader gets: `?lang=`,
//! else the first of Russian or English in `Accept-Language`, else Russian.

use crate::i18n::Lang;

pub struct WebTexts {
    pub archive: &'static str,
    pub search: &'static str,
    pub search_placeholder: &'static str,
    pub older: &'static str,
    pub newer: &'static str,
    pub next_page: &'static str,
    pub previous_page: &'static str,
    pub latest: &'static str,
    pub in_telegram: &'static str,
    pub similar: &'static str,
    pub understood: &'static str,
    pub showing_corrected: &'static str,
    pub search_instead: &'static str,
    pub did_you_mean: &'static str,
    pub nothing_found: &'static str,
    pub found: &'static str,
    pub sort: &'static str,
    pub sort_relevance: &'static str,
    pub sort_newest: &'static str,
    pub sort_top: &'static str,
    pub not_found_title: &'static str,
    pub not_found_text: &'static str,
    pub bad_request_title: &'static str,
    pub bad_request_text: &'static str,
    pub unavailable_title: &'static str,
    pub unavailable_text: &'static str,
    pub home: &'static str,
    pub no_date: &'static str,
    pub file_missing: &'static str,
    pub empty: &'static str,
    pub reactions: &'static str,
    pub topics: &'static str,
    pub other_language: &'static str,
    pub months_title: &'static str,
    /// Month names as a heading says them (January … December).
    pub month_names: [&'static str; 12],
}

const RU: WebTexts = WebTexts {
    archive: "Архив",
    search: "Найти",
    search_placeholder: "Поиск по архиву",
    older: "← Раньше",
    newer: "Позже →",
    next_page: "Дальше →",
    previous_page: "← Назад",
    latest: "Новые посты",
    in_telegram: "Открыть в Telegram",
    similar: "Похожие посты",
    understood: "Понял запрос как",
    showing_corrected: "Показаны результаты по запросу «{query}».",
    search_instead: "Искать «{query}»",
    did_you_mean: "Может быть, вы имели в виду",
    nothing_found: "Ничего не найдено.",
    found: "Найдено",
    sort: "Порядок",
    sort_relevance: "по смыслу",
    sort_newest: "новые",
    sort_top: "лучшие",
    not_found_title: "Нет такой страницы",
    not_found_text: "Такого поста или страницы в архиве нет.",
    bad_request_title: "Неверный запрос",
    bad_request_text: "Адрес страницы не разобрать.",
    unavailable_title: "Архив недоступен",
    unavailable_text: "Архив сейчас не отвечает. Попробуйте через минуту.",
    home: "На главную",
    no_date: "дата неизвестна",
    file_missing: "файла нет в архиве",
    empty: "В архиве пока нет постов.",
    reactions: "реакций",
    topics: "Темы",
    other_language: "English",
    months_title: "По месяцам",
    month_names: [
        "Январь",
        "Февраль",
        "Март",
        "Апрель",
        "Май",
        "Июнь",
        "Июль",
        "Август",
        "Сентябрь",
        "Октябрь",
        "Ноябрь",
        "Декабрь",
    ],
};

const EN: WebTexts = WebTexts {
    archive: "Archive",
    search: "Search",
    search_placeholder: "Search the archive",
    older: "← Older",
    newer: "Newer →",
    next_page: "Next →",
    previous_page: "← Back",
    latest: "Latest posts",
    in_telegram: "Open in Telegram",
    similar: "Similar posts",
    understood: "Understood as",
    showing_corrected: "Showing results for “{query}”.",
    search_instead: "Search for “{query}”",
    did_you_mean: "Did you mean",
    nothing_found: "Nothing found.",
    found: "Found",
    sort: "Order",
    sort_relevance: "relevance",
    sort_newest: "newest",
    sort_top: "most liked",
    not_found_title: "No such page",
    not_found_text: "The archive has no such post or page.",
    bad_request_title: "Bad request",
    bad_request_text: "The page's address cannot be read.",
    unavailable_title: "The archive is unavailable",
    unavailable_text: "The archive does not answer right now. Try again in a minute.",
    home: "Home",
    no_date: "date unknown",
    file_missing: "the file is not in the archive",
    empty: "The archive has no posts yet.",
    reactions: "reactions",
    topics: "Topics",
    other_language: "Русский",
    months_title: "By month",
    month_names: [
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
};

pub fn texts(lang: Lang) -> &'static WebTexts {
    match lang {
        Lang::Ru => &RU,
        Lang::En => &EN,
    }
}

/// The reader's language: `?lang=ru|en`, else `Accept-Language`'s first Russian or English
/// (in the order given, weights ignored but zero), else Russian.
pub fn reader_lang(param: Option<&str>, accept: Option<&str>) -> Lang {
    match param.map(str::to_ascii_lowercase).as_deref() {
        Some("en") => return Lang::En,
        Some("ru") => return Lang::Ru,
        _ => {}
    }
    for item in accept.unwrap_or("").split(',') {
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused =
            parts.any(|p| matches!(p.trim().strip_prefix("q=").map(str::trim), Some("0" | "0.0" | "0.00" | "0.000")));
        if refused {
            continue;
        }
        let primary = tag.split('-').next().unwrap_or("");
        match primary {
            "ru" | "uk" | "be" | "kk" => return Lang::Ru,
            "en" => return Lang::En,
            _ => {}
        }
    }
    Lang::Ru
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reader_gets_the_language_asked_for() {
        assert_eq!(reader_lang(Some("en"), Some("ru")), Lang::En);
        assert_eq!(reader_lang(None, Some("en-GB,en;q=0.9,ru;q=0.8")), Lang::En);
        assert_eq!(reader_lang(None, Some("de-DE,ru;q=0.5,en;q=0.3")), Lang::Ru);
        assert_eq!(reader_lang(None, Some("fr, en;q=0")), Lang::Ru);
        assert_eq!(reader_lang(None, None), Lang::Ru);
        assert_eq!(reader_lang(Some("xx"), Some("en")), Lang::En);
    }
}
