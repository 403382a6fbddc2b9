//! Commands as typed values. Parsed by hand rather than by
//! `#[derive(BotCommands)]`: `/post_12` (tappable in lists), a newline right
//! after the command, any case, and `/cmd@otherbot` all need care.

/// What a message asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Start,
    Help,
    Search(String),
    Random,
    Topic(String),
    /// `/post 12`, `/post_12`; the raw argument, checked when handled.
    Post(String),
    /// `/similar 12`, `/similar_12`: posts like a post; the raw argument.
    Similar(String),
    Replay(String),
    Schedule(String),
    Queue,
    Cancel(String),
    /// `/id`: the sender's numeric id (and a group's), for `.env`.
    Id,
    /// A command this bot does not know (the name, without `/`).
    Unknown(String),
}

impl Command {
    /// The command's name, for logs and metrics labels (`search`, `post`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Start => "start",
            Command::Help => "help",
            Command::Search(_) => "search",
            Command::Random => "random",
            Command::Topic(_) => "topic",
            Command::Post(_) => "post",
            Command::Similar(_) => "similar",
            Command::Replay(_) => "replay",
            Command::Schedule(_) => "schedule",
            Command::Queue => "queue",
            Command::Cancel(_) => "cancel",
            Command::Id => "id",
            Command::Unknown(_) => "unknown",
        }
    }
}

/// Parses a message text. `None`: not a command, or a command for another bot.
pub fn parse(text: &str, bot_username: &str) -> Option<Command> {
    let text = text.trim_start();
    let rest = text.strip_prefix('/')?;
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let (head, args) = rest.split_at(end);
    let args = args.trim().to_string();
    let name = match head.split_once('@') {
        Some((name, to)) if to.eq_ignore_ascii_case(bot_username) => name,
        Some(_) => return None,
        None => head,
    };
    if name.is_empty() {
        return None;
    }
    let name = name.to_lowercase();
    if let Some(id) = name.strip_prefix("post_") {
        return Some(Command::Post(id.to_string()));
    }
    if let Some(id) = name.strip_prefix("similar_") {
        return Some(Command::Similar(id.to_string()));
    }
    Some(match name.as_str() {
        "start" => Command::Start,
        "help" => Command::Help,
        "search" | "s" | "find" => Command::Search(args),
        "random" => Command::Random,
        "topic" | "topics" => Command::Topic(args),
        "post" => Command::Post(args),
        "similar" | "like" | "похожие" => Command::Similar(args),
        "replay" => Command::Replay(args),
        "schedule" => Command::Schedule(args),
        "queue" => Command::Queue,
        "cancel" => Command::Cancel(args),
        "id" | "myid" => Command::Id,
        _ => Command::Unknown(name),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_arguments() {
        assert_eq!(parse("/search   робот  собака ", "bot"), Some(Command::Search("робот  собака".into())));
        assert_eq!(parse("/search\nробот", "bot"), Some(Command::Search("робот".into())));
        assert_eq!(parse("/search@Bot робот", "bot"), Some(Command::Search("робот".into())));
        assert_eq!(parse("/search@other робот", "bot"), None);
        assert_eq!(parse("/SEARCH x", "bot"), Some(Command::Search("x".into())));
        assert_eq!(parse("/post_12", "bot"), Some(Command::Post("12".into())));
        assert_eq!(parse("/post_12@bot", "bot"), Some(Command::Post("12".into())));
        assert_eq!(parse("/similar 12", "bot"), Some(Command::Similar("12".into())));
        assert_eq!(parse("/similar_12", "bot"), Some(Command::Similar("12".into())));
        assert_eq!(parse("/frobnicate", "bot"), Some(Command::Unknown("frobnicate".into())));
        assert_eq!(parse("/id", "bot"), Some(Command::Id));
        assert_eq!(parse("/id@bot", "bot"), Some(Command::Id));
        assert_eq!(parse("hello /search", "bot"), None);
        assert_eq!(parse("/", "bot"), None);
        assert_eq!(parse("/ search", "bot"), None);
    }
}
