//! Callback data: what a button does, in at most 64 bytes whatever the query.
//! Queries are never put in a button; a button carries the id of the query
//! stored in the archive (see `queries`), so it survives restarts.

/// Telegram's limit on `callback_data`.
pub const MAX_BYTES: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Page `page` (0-based) of the results of stored query `query`.
    Search { query: i64, page: usize },
    /// The topic list.
    Topics,
    /// Page of a topic's posts.
    Topic { slug: String, page: usize },
    /// Page of stored query `query` as typed: no typo correction (the "search for what I
    /// typed" button under corrected results).
    Exact { query: i64, page: usize },
    /// Page of the posts like post `post`, in place of the results shown.
    Similar { post: i64, page: usize },
    /// The posts like post `post`, as a new message (the button under a full post).
    MoreLike { post: i64 },
    /// Another random post.
    Random,
    /// The current-page label (`1/4`): says which page this is (1-based), in a toast.
    Page { page: usize, pages: usize },
    /// The current-page label of messages sent before it said the page: nothing to do.
    Noop,
}

impl Action {
    pub fn encode(&self) -> String {
        let data = match self {
            Action::Search { query, page } => format!("s:{query}:{page}"),
            Action::Exact { query, page } => format!("e:{query}:{page}"),
            Action::Similar { post, page } => format!("m:{post}:{page}"),
            Action::MoreLike { post } => format!("ml:{post}"),
            Action::Topics => "tl".to_string(),
            Action::Topic { slug, page } => format!("t:{slug}:{page}"),
            Action::Random => "r".to_string(),
            Action::Page { page, pages } => format!("p:{page}:{pages}"),
            Action::Noop => "x".to_string(),
        };
        debug_assert!(data.len() <= MAX_BYTES, "callback data too long: {data}");
        data
    }

    /// `None` for data this version does not understand (an old message's button).
    pub fn decode(data: &str) -> Option<Action> {
        let mut parts = data.split(':');
        let action = match parts.next()? {
            "s" => Action::Search { query: parts.next()?.parse().ok()?, page: parts.next()?.parse().ok()? },
            "e" => Action::Exact { query: parts.next()?.parse().ok()?, page: parts.next()?.parse().ok()? },
            "m" => Action::Similar { post: parts.next()?.parse().ok()?, page: parts.next()?.parse().ok()? },
            "ml" => Action::MoreLike { post: parts.next()?.parse().ok()? },
            "tl" => Action::Topics,
            "t" => Action::Topic { slug: parts.next()?.to_string(), page: parts.next()?.parse().ok()? },
            "r" => Action::Random,
            "p" => Action::Page { page: parts.next()?.parse().ok()?, pages: parts.next()?.parse().ok()? },
            "x" => Action::Noop,
            _ => return None,
        };
        parts.next().is_none().then_some(action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_size() {
        let actions = [
            Action::Search { query: i64::MAX, page: usize::MAX },
            Action::Search { query: i64::MIN, page: 0 },
            Action::Exact { query: i64::MIN, page: usize::MAX },
            Action::Similar { post: i64::MIN, page: usize::MAX },
            Action::MoreLike { post: i64::MIN },
            Action::Topics,
            Action::Topic { slug: "a".repeat(24), page: 1_000_000 },
            Action::Random,
            Action::Page { page: usize::MAX, pages: usize::MAX },
            Action::Noop,
        ];
        for a in actions {
            let data = a.encode();
            // Telegram's 64 bytes, written here and not taken from the code under test.
            assert!(data.len() <= 64, "{data}");
            assert_eq!(Action::decode(&data), Some(a));
        }
        assert_eq!(Action::decode("s:1"), None);
        assert_eq!(Action::decode("s:1:2:3"), None);
        assert_eq!(Action::decode("zzz"), None);
        assert_eq!(Action::decode("m:1"), None);
        assert_eq!(Action::decode("ml:x"), None);
        assert_eq!(Action::decode("e:1:2:3"), None);
        assert_eq!(Action::decode("p:1"), None);
    }
}
