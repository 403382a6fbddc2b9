//! Scheduled replays through the real bot and worker against the fake
//! server, on a manual clock: each test asserts what reached the channel.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use fake_bot_api::{Fault, updates};
use postkeeper::config::{ChatRef, Config};
use postkeeper::model::{NewChannel, NewPost};
use postkeeper::replay::state::{PartState, RunState};
use postkeeper::replay::when::Schedule;
use postkeeper::replay::{Clock, ManualClock, Target};
use postkeeper::store::Archive;
use std::sync::Arc;

use crate::support::wait::eventually;

use crate::support::harness::Harness;

const ADMIN: i64 = 1001;
const STRANGER: i64 = 2002;
const CHANNEL: i64 = -1_002_000_000_001;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).single().expect("valid")
}

fn config() -> Config {
    Config { admins: vec![ADMIN], replay_chat: Some(ChatRef::Username("replay_chan".into())), ..Config::default() }
}

fn seeded() -> Archive {
    let mut a = Archive::open_in_memory().expect("store");
    postkeeper::ingest::import_seed(&mut a).expect("seed");
    a
}

async fn start(config: Config, archive: Archive) -> (Harness, Arc<ManualClock>) {
    let (clock, manual) = Clock::manual(t0());
    let h = Harness::with_clock(config, archive, clock, |tg| {
        tg.add_chat(updates::channel_chat(CHANNEL, Some("replay_chan")));
        tg.add_chat(updates::private_chat(ADMIN));
    })
    .await;
    (h, manual)
}

fn admin(text: &str) -> serde_json::Value {
    updates::text(ADMIN, ADMIN, Some("en"), text)
}

/// Texts that reached the channel, in order.
fn channel(h: &Harness) -> Vec<String> {
    h.tg.messages(CHANNEL).into_iter().map(|m| m.text).collect()
}

async fn titles(h: &Harness, ids: Vec<i64>) -> Vec<String> {
    h.archive
        .call(move |a| ids.iter().map(|id| a.post(*id).expect("reads").expect("exists").title).collect())
        .await
        .expect("runs")
}

/// Waits until the channel holds `n` messages.
async fn wait_channel(h: &Harness, n: usize) {
    let why = || format!("channel has {} of {n}: {}", h.tg.messages(CHANNEL).len(), h.tg.dump_calls());
    eventually(Duration::from_secs(20), why, || h.tg.messages(CHANNEL).len() >= n).await;
}

/// The channel holds `n` messages and the worker, having looked at everything, sends no more.
async fn stays(h: &Harness, n: usize) {
    h.replays_settled().await;
    assert_eq!(h.tg.messages(CHANNEL).len(), n, "{:?}", channel(h));
}

async fn job(h: &Harness, target: Target, schedule: Schedule, due: DateTime<Utc>) -> i64 {
    h.archive.call(move |a| a.create_job(target, &schedule, due, None, due)).await.expect("runs").expect("job")
}

async fn runs(h: &Harness) -> Vec<postkeeper::replay::jobs::Run> {
    h.archive.call(|a| a.recent_runs(100)).await.expect("runs").expect("runs")
}

fn dm_texts(h: &Harness) -> Vec<String> {
    h.tg.messages(ADMIN).into_iter().map(|m| m.text).collect()
}

#[tokio::test]
async fn refusals_change_nothing() {
    let (h, _) = start(config(), seeded()).await;
    for cmd in ["/replay 3", "/schedule 3 in 10m", "/queue", "/cancel 1"] {
        h.exchange(updates::text(STRANGER, STRANGER, Some("ru"), cmd), "sendMessage", 1).await;
        assert!(h.last(STRANGER).text.contains("только администраторы"), "{}", h.last(STRANGER).text);
    }
    assert!(h.archive.call(|a| a.active_jobs()).await.expect("runs").expect("jobs").is_empty());
    h.finish().await;

    let (h, _) = start(Config { admins: vec![], ..config() }, seeded()).await;
    h.exchange(admin("/replay 3"), "sendMessage", 1).await;
    assert!(h.last(ADMIN).text.contains("POSTKEEPER_ADMINS"));
    h.finish().await;
    let (h, _) = start(Config { replay_chat: None, ..config() }, seeded()).await;
    h.exchange(admin("/schedule next daily 10:00"), "sendMessage", 1).await;
    assert!(h.last(ADMIN).text.contains("POSTKEEPER_REPLAY_CHAT"));
    h.finish().await;
}

#[tokio::test]
async fn replay_now_reaches_the_channel_once() {
    let (h, _) = start(config(), seeded()).await;
    h.exchange(admin("/replay 3"), "sendMessage", 2).await;
    wait_channel(&h, 1).await;
    let title = titles(&h, vec![3]).await.remove(0);
    assert!(channel(&h)[0].starts_with(&title), "{:?}", channel(&h));
    let confirm = &h.tg.messages(ADMIN)[0].text;
    assert!(confirm.contains("Job #1") && confirm.contains("@replay_chan") && confirm.contains("now"), "{confirm}");
    stays(&h, 1).await;
    h.exchange(admin("/queue"), "sendMessage", 1).await;
    assert!(h.last(ADMIN).text.contains("✅ #1") && h.last(ADMIN).text.contains("sent"), "{}", h.last(ADMIN).text);
    h.exchange(admin("/replay 9999"), "sendMessage", 1).await;
    assert!(h.last(ADMIN).text.contains("no such post"));
    h.exchange(admin("/replay"), "sendMessage", 1).await;
    assert!(h.last(ADMIN).text.contains("/replay 12"));
    h.finish().await;
}

#[tokio::test]
async fn every_when_form_is_confirmed_and_bad_ones_refused() {
    let (h, clock) = start(Config { timezone: chrono_tz::Europe::Moscow, ..config() }, seeded()).await;
    let cases = [
        ("/schedule 3 in 30s", "27 November 2026, 15:00 MSK", None),
        ("/schedule 3 in 10m", "27 November 2026, 15:10 MSK", None),
        ("/schedule 3 in 2h", "27 November 2026, 17:00 MSK", None),
        ("/schedule 3 in 1d", "28 November 2026, 15:00 MSK", None),
        ("/schedule 3 14:30", "28 November 2026, 14:30 MSK", None),
        ("/schedule 3 2026-12-01 10:00", "1 December 2026, 10:00 MSK", None),
        ("/schedule next daily 10:00", "28 November 2026, 10:00 MSK", Some("daily at 10:00")),
        ("/schedule random every 6h", "27 November 2026, 21:00 MSK", Some("every 6h")),
        ("/schedule 3 \"0 10 * * 1-5\"", "30 November 2026, 10:00 MSK", Some("cron 0 10 * * 1-5")),
    ];
    for (i, (cmd, first, repeats)) in cases.iter().enumerate() {
        h.exchange(admin(cmd), "sendMessage", 1).await;
        let reply = h.last(ADMIN).text;
        assert!(reply.contains(&format!("Job #{}", i + 1)) && reply.contains(first), "{cmd}: {reply}");
        if let Some(r) = repeats {
            assert!(reply.contains(r), "{cmd}: {reply}");
        }
    }
    for bad in [
        "/schedule 3 2026-11-01 10:00",
        "/schedule 3 someday",
        "/schedule 9999 in 10m",
        "/schedule",
        "/schedule banana in 1h",
    ] {
        h.exchange(admin(bad), "sendMessage", 1).await;
        assert!(h.last(ADMIN).text.contains("Usage: /schedule WHAT WHEN"), "{bad}: {}", h.last(ADMIN).text);
    }
    let jobs = h.archive.call(|a| a.active_jobs()).await.expect("runs").expect("jobs");
    assert_eq!(jobs.len(), cases.len(), "refusals created nothing");
    // The 30 s job fires at its time, not before.
    clock.advance(Duration::from_secs(29));
    stays(&h, 0).await;
    clock.advance(Duration::from_secs(1));
    wait_channel(&h, 1).await;
    stays(&h, 1).await;
    h.finish().await;
}

/// Each bad `/schedule`, with the reason it is refused for in English and in Russian.
const REFUSALS: &[(&str, &str, &str)] = &[
    (
        "/schedule 3 every 3s",
        "The interval must be at least a minute (a channel takes 20 posts a minute).",
        "Интервал — не меньше минуты (канал принимает 20 постов в минуту).",
    ),
    (
        "/schedule 3 daily 25:00",
        "25:00 is not a time of day (00:00 to 23:59).",
        "25:00 — не время суток (от 00:00 до 23:59).",
    ),
    (
        "/schedule 3 14:61",
        "14:61 is not a time of day (00:00 to 23:59).",
        "14:61 — не время суток (от 00:00 до 23:59).",
    ),
    (
        "/schedule 3 daily 24:00",
        "24:00 is not a time of day (00:00 to 23:59).",
        "24:00 — не время суток (от 00:00 до 23:59).",
    ),
    (
        "/schedule 3 2020-01-01 10:00",
        "That time has passed: 1 January 2020, 10:00 MSK.",
        "Это время уже прошло: 1 января 2020, 10:00 MSK.",
    ),
    ("/schedule 3 2026-13-01 10:00", "2026-13-01 is not a date.", "2026-13-01 — такой даты нет."),
    ("/schedule 999999 in 2s", "There is no post #999999 in the archive.", "Поста #999999 в архиве нет."),
    (
        "/schedule abc in 2s",
        "I can't tell what “abc” is: WHAT is a post id, random, next or best.",
        "Не понимаю, что такое «abc»: ЧТО — это номер поста, random, next или best.",
    ),
    ("/schedule 3", "WHEN is missing: say when to replay it.", "Не указано КОГДА: напишите, когда повторить."),
    ("/schedule 3 in soon", "I can't read “in soon” as a time.", "Не понимаю время «in soon»."),
    (
        "/schedule 3 \"0 10 * *\"",
        "“0 10 * *” is not a cron expression: it takes five fields (minute, hour, day, month, weekday).",
        "«0 10 * *» — не выражение cron: нужно пять полей (минута, час, день, месяц, день недели).",
    ),
    (
        "/schedule 3 \"0 0 31 2 *\"",
        "“0 0 31 2 *” never comes round: no date matches it.",
        "«0 0 31 2 *» никогда не наступит: ни одна дата не подходит.",
    ),
    (
        "/schedule 3 0 10 * * 1-5",
        "A cron expression goes in quotes: \"0 10 * * 1-5\"",
        "Выражение cron пишется в кавычках: \"0 10 * * 1-5\"",
    ),
];

#[tokio::test]
async fn each_refusal_says_why_in_the_users_language_and_schedules_nothing() {
    let (h, _) = start(Config { timezone: chrono_tz::Europe::Moscow, ..config() }, seeded()).await;
    let usage = [
        (
            "en",
            "Usage: /schedule WHAT WHEN\nWHAT: a post id, random, next or best\n",
            "E.g. /schedule next daily 10:00",
        ),
        (
            "ru",
            "Формат: /schedule ЧТО КОГДА\nЧТО: номер поста, random, next или best\n",
            "Например: /schedule next daily 10:00",
        ),
    ];
    for (cmd, en, ru) in REFUSALS {
        for ((lang, head, tail), reason) in usage.iter().zip([en, ru]) {
            h.exchange(updates::text(ADMIN, ADMIN, Some(lang), cmd), "sendMessage", 1).await;
            let reply = h.last(ADMIN).text;
            assert!(
                reply.starts_with(&format!("{reason}\n\n{head}")) && reply.ends_with(tail),
                "{cmd} ({lang}): {reply}"
            );
        }
    }
    // Nothing to say but how it is written.
    h.exchange(admin("/schedule"), "sendMessage", 1).await;
    assert!(h.last(ADMIN).text.starts_with("Usage: /schedule WHAT WHEN\n"), "{}", h.last(ADMIN).text);
    // What is typed comes back as text, however it is marked up and however long.
    h.exchange(admin("/schedule 3 <b>&amp;</i>"), "sendMessage", 1).await;
    assert!(h.last(ADMIN).text.starts_with("I can't read “<b>&amp;</i>” as a time.\n\n"), "{}", h.last(ADMIN).text);
    h.exchange(admin(&format!("/schedule {} in 2s", "<".repeat(4000))), "sendMessage", 1).await;
    let reply = h.last(ADMIN).text;
    assert!(reply.starts_with(&format!("I can't tell what “{}…” is", "<".repeat(59))), "{reply}");
    assert!(reply.ends_with("E.g. /schedule next daily 10:00"), "{reply}");

    assert!(h.archive.call(|a| a.active_jobs()).await.expect("runs").expect("jobs").is_empty(), "refusals scheduled");
    h.exchange(admin("/queue"), "sendMessage", 1).await;
    assert_eq!(h.last(ADMIN).text, "The queue is empty.");
    h.exchange(admin("/cancel 999"), "sendMessage", 1).await;
    assert_eq!(h.last(ADMIN).text, "No active job #999 (see /queue).");
    h.exchange(updates::text(ADMIN, ADMIN, Some("ru"), "/cancel abc"), "sendMessage", 1).await;
    assert_eq!(h.last(ADMIN).text, "Укажите номер задания: /cancel 3 (номера — в /queue)");
    // The same command, well formed, is taken.
    h.exchange(admin("/schedule 3 every 1m"), "sendMessage", 1).await;
    assert!(h.last(ADMIN).text.contains("Job #1") && h.last(ADMIN).text.contains("every 1m"), "{}", h.last(ADMIN).text);
    h.finish().await;
}

#[tokio::test]
async fn next_walks_the_archive_and_cancel_stops_it() {
    let (h, clock) = start(config(), seeded()).await;
    h.exchange(admin("/schedule next every 1h"), "sendMessage", 1).await;
    for n in 1..=3 {
        clock.advance(Duration::from_secs(3600));
        wait_channel(&h, n).await;
    }
    let expected = titles(&h, vec![1, 2, 3]).await;
    let got = channel(&h);
    for (text, title) in got.iter().zip(&expected) {
        assert!(text.starts_with(title), "{text} vs {title}");
    }
    h.exchange(admin("/cancel 1"), "sendMessage", 1).await;
    assert!(h.last(ADMIN).text.contains("#1 cancelled"));
    clock.advance(Duration::from_secs(3 * 3600));
    stays(&h, 3).await;
    h.exchange(admin("/cancel 1"), "sendMessage", 1).await;
    assert!(h.last(ADMIN).text.contains("No active job"));
    h.finish().await;
}

#[tokio::test]
async fn random_prefers_posts_not_replayed_yet() {
    let (h, clock) = start(config(), seeded()).await;
    h.exchange(admin("/schedule random every 10m"), "sendMessage", 1).await;
    for n in 1..=20 {
        clock.advance(Duration::from_secs(600));
        wait_channel(&h, n).await;
    }
    let got = channel(&h);
    let distinct: std::collections::HashSet<&String> = got.iter().collect();
    assert_eq!(distinct.len(), 20, "20 runs replayed 20 different posts");
    h.finish().await;
}

fn long_archive() -> (Archive, String) {
    let mut a = seeded();
    let paragraph = "Длинный абзац про архив, повторы и каналы; 😀 эмодзи считаются за два. ".repeat(25);
    let text = format!("Очень длинный пост\n{}", vec![paragraph; 6].join("\n\n"));
    a.import(|sink| -> Result<(), postkeeper::store::StoreError> {
        sink.channel(&NewChannel::telegram(-100_555, "Long"))?;
        sink.post(NewPost {
            message_id: Some(1),
            seq: 1,
            date: Some(1_634_000_000),
            edited: None,
            text: text.clone(),
            entities: vec![],
            ..Default::default()
        })?;
        Ok(())
    })
    .expect("import");
    (a, text)
}

#[tokio::test]
async fn a_long_post_arrives_in_parts_in_order_with_the_header() {
    let (archive, text) = long_archive();
    let config = Config { replay_header: Some("Из архива, {date}".into()), ..config() };
    let (h, _) = start(config, archive).await;
    h.exchange(admin("/replay 21"), "sendMessage", 1).await;
    wait_channel(&h, 3).await;
    stays(&h, h.tg.messages(CHANNEL).len()).await;
    let parts = channel(&h);
    assert!(parts.len() >= 3);
    assert!(parts[0].starts_with("Из архива, 12 октября 2021\n\nОчень длинный пост"), "{}", &parts[0][..80]);
    for p in &parts {
        assert!(p.encode_utf16().count() <= 4096);
    }
    let words = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    let joined = parts.join("\n\n");
    assert!(words(&joined)[5..] == words(&text)[..], "every word once, in order");
    h.finish().await;
}

#[tokio::test]
async fn a_429_is_waited_out_for_retry_after_then_resent() {
    let (h, clock) = start(config(), seeded()).await;
    h.tg.inject("sendMessage", Fault::RetryAfter(30));
    job(&h, Target::Post(5), Schedule::Once, t0()).await;
    // No command nudges the worker here: it finds the job on its rescan.
    eventually(Duration::from_secs(5), || h.tg.dump_calls(), || !h.tg.calls_to("sendMessage").is_empty()).await;
    stays(&h, 0).await;
    clock.advance(Duration::from_secs(29));
    stays(&h, 0).await;
    assert_eq!(h.tg.calls_to("sendMessage").len(), 1, "not resent before retry_after");
    clock.advance(Duration::from_secs(1));
    wait_channel(&h, 1).await;
    stays(&h, 1).await;
    h.finish().await;
}

/// Advances the clock in steps (backoff waits) until the channel holds `n` messages.
async fn push_until(h: &Harness, clock: &ManualClock, n: usize, real_limit: Duration) {
    eventually(
        real_limit,
        || h.tg.dump_calls(),
        || {
            let done = h.tg.messages(CHANNEL).len() >= n;
            if !done {
                clock.advance(Duration::from_secs(5));
            }
            done
        },
    )
    .await;
}

#[tokio::test]
async fn server_errors_and_dropped_connections_are_retried() {
    let (h, clock) = start(config(), seeded()).await;
    h.tg.inject("sendMessage", Fault::ServerError(502));
    h.tg.inject("sendMessage", Fault::Drop);
    h.tg.inject("sendMessage", Fault::ServerError(500));
    job(&h, Target::Post(7), Schedule::Once, t0()).await;
    push_until(&h, &clock, 1, Duration::from_secs(60)).await;
    stays(&h, 1).await;
    assert_eq!(h.tg.calls_to("sendMessage").len(), 4, "3 faults, then one delivery");
    h.finish().await;
}

#[tokio::test]
async fn five_failures_fail_the_job_and_tell_the_admins() {
    let (h, clock) = start(config(), seeded()).await;
    for _ in 0..5 {
        h.tg.inject("sendMessage", Fault::Drop);
    }
    job(&h, Target::Post(7), Schedule::Once, t0()).await;
    eventually(
        Duration::from_secs(20),
        || h.tg.dump_calls(),
        || {
            let done = !dm_texts(&h).is_empty();
            if !done {
                clock.advance(Duration::from_secs(5));
            }
            done
        },
    )
    .await;
    let dm = dm_texts(&h).remove(0);
    assert!(dm.contains("#1") && dm.contains("5 tries"), "{dm}");
    assert_eq!(channel(&h).len(), 0);
    assert_eq!(runs(&h).await[0].state, RunState::Failed);
    h.finish().await;
}

#[tokio::test]
async fn alerts_speak_each_admins_language() {
    const QUIET_ADMIN: i64 = 1003;
    let config = Config { admins: vec![ADMIN, QUIET_ADMIN], ..config() };
    let (clock, _) = Clock::manual(t0());
    let h = Harness::with_clock(config, seeded(), clock, |tg| {
        tg.add_chat(updates::channel_chat(CHANNEL, Some("replay_chan")));
        tg.add_chat(updates::private_chat(ADMIN));
        tg.add_chat(updates::private_chat(QUIET_ADMIN));
    })
    .await;
    // ADMIN writes in English; QUIET_ADMIN never wrote.
    h.exchange(admin("/queue"), "sendMessage", 1).await;
    h.tg.inject("sendMessage", Fault::Forbidden);
    job(&h, Target::Post(7), Schedule::Once, t0()).await;
    let alerted = || !h.tg.messages(QUIET_ADMIN).is_empty() && dm_texts(&h).len() >= 2;
    eventually(Duration::from_secs(10), || h.tg.dump_calls(), alerted).await;
    let english = dm_texts(&h).pop().expect("an alert");
    assert!(english.starts_with("⚠️ The replay of job #1") && english.contains("not a member"), "{english}");
    let russian = h.tg.messages(QUIET_ADMIN).pop().expect("an alert").text;
    assert!(russian.starts_with("⚠️ Повтор по заданию #1") && russian.contains("not a member"), "{russian}");
    h.finish().await;
}

#[tokio::test]
async fn a_403_fails_at_once_with_the_reason() {
    let (h, _) = start(config(), seeded()).await;
    h.tg.inject("sendMessage", Fault::Forbidden);
    job(&h, Target::Post(7), Schedule::Once, t0()).await;
    eventually(Duration::from_secs(10), || h.tg.dump_calls(), || !dm_texts(&h).is_empty()).await;
    assert!(dm_texts(&h)[0].contains("not a member"), "{:?}", dm_texts(&h));
    assert_eq!(
        h.tg.calls_to("sendMessage").iter().filter(|c| c.params["chat_id"] == "@replay_chan").count(),
        1,
        "no retry"
    );
    h.exchange(admin("/queue"), "sendMessage", 1).await;
    assert!(
        h.last(ADMIN).text.contains("❌ #1") && h.last(ADMIN).text.contains("not a member"),
        "{}",
        h.last(ADMIN).text
    );
    h.finish().await;
}

#[tokio::test]
async fn thirty_due_jobs_respect_the_channel_cap_in_order() {
    let (h, clock) = start(config(), seeded()).await;
    let ids: Vec<i64> = (0..30).map(|i| i % 20 + 1).collect();
    h.archive
        .call({
            let ids = ids.clone();
            move |a| {
                for id in ids {
                    a.create_job(Target::Post(id), &Schedule::Once, t0(), None, t0()).expect("job");
                }
            }
        })
        .await
        .expect("runs");
    wait_channel(&h, 20).await;
    stays(&h, 20).await;
    clock.advance(Duration::from_secs(60));
    wait_channel(&h, 30).await;
    stays(&h, 30).await;
    let expected = titles(&h, ids).await;
    for (text, title) in channel(&h).iter().zip(&expected) {
        assert!(text.starts_with(title), "order: {text} vs {title}");
    }
    h.finish().await;
}

#[tokio::test]
async fn a_restart_delivers_overdue_jobs_within_grace_and_marks_the_rest_missed() {
    let archive = seeded();
    let hour = chrono::Duration::hours(1);
    let within = archive.create_job(Target::Post(2), &Schedule::Once, t0() - hour, None, t0() - hour * 2).expect("job");
    let beyond =
        archive.create_job(Target::Post(3), &Schedule::Once, t0() - hour * 30, None, t0() - hour * 31).expect("job");
    // Recurring every 6 h, last due 20 h ago: three periods were missed while down.
    let anchor = t0() - hour * 20;
    let recurring = archive
        .create_job(Target::Next, &Schedule::Every(chrono::Duration::hours(6)), anchor, None, anchor)
        .expect("job");
    let (h, clock) = start(config(), archive).await;
    wait_channel(&h, 2).await;
    stays(&h, 2).await;
    let runs = runs(&h).await;
    let state = |job: i64| runs.iter().filter(|r| r.job_id == job).map(|r| r.state).collect::<Vec<_>>();
    assert_eq!(state(within), [RunState::Sent]);
    assert_eq!(state(beyond), [RunState::Missed]);
    assert_eq!(state(recurring), [RunState::Sent], "fired once, not once per missed period");
    let next = h.archive.call(move |a| a.job(recurring)).await.expect("runs").expect("reads").expect("job").next_run;
    assert_eq!(next, Some(anchor + hour * 24), "resumes at its next occurrence");
    h.exchange(admin("/queue"), "sendMessage", 1).await;
    assert!(h.last(ADMIN).text.contains(&format!("⏭ #{beyond}")), "{}", h.last(ADMIN).text);
    clock.advance(Duration::from_secs(4 * 3600));
    wait_channel(&h, 3).await;
    stays(&h, 3).await;
    h.finish().await;
}

/// A store in which the replay of the long post has begun (its parts fixed, none sent).
fn begun_long_run() -> (Archive, i64, Vec<postkeeper::replay::jobs::Part>) {
    let (mut archive, _) = long_archive();
    let settings = postkeeper::replay::ReplaySettings::from_config(&config()).expect("settings");
    let job_id = archive.create_job(Target::Post(21), &Schedule::Once, t0(), None, t0()).expect("job");
    let job = archive.job(job_id).expect("reads").expect("job");
    // Begun by a worker of an earlier process, which holds the delivery lease; it lets
    // the lease go so that the next start takes over at once (expiry is tested elsewhere).
    let ttl = postkeeper::replay::worker::LEASE_TTL;
    archive.take_lease("crashed", Utc::now(), ttl).expect("takes the lease");
    let holding = postkeeper::replay::jobs::Holding::now("crashed");
    let postkeeper::replay::jobs::Begin::Run { run_id, .. } =
        archive.begin_run_held(&holding, &job, &settings, t0()).expect("begins")
    else {
        panic!("expected a run");
    };
    assert!(archive.release_lease("crashed").expect("releases"));
    let parts = archive.run_parts(run_id).expect("parts");
    (archive, run_id, parts)
}

#[tokio::test]
async fn a_crash_between_parts_sends_only_the_rest() {
    let (archive, run_id, parts) = begun_long_run();
    assert!(parts.len() >= 3);
    // The process died right after recording part 0 as sent.
    archive.mark_part(run_id, 0, PartState::Sent, Some(77)).expect("mark");
    let (h, _) = start(config(), archive).await;
    wait_channel(&h, parts.len() - 1).await;
    stays(&h, parts.len() - 1).await;
    let texts = channel(&h);
    assert!(!texts[0].starts_with("Очень длинный пост"), "part 0 was not resent");
    let r = h.archive.call(move |a| a.run(run_id)).await.expect("runs").expect("reads").expect("run");
    assert_eq!(r.state, RunState::Sent);
    assert!(dm_texts(&h).is_empty());
    h.finish().await;
}

#[tokio::test]
async fn a_part_of_unknown_fate_is_reported_not_resent() {
    let (archive, run_id, parts) = begun_long_run();
    // Died during the request of part 1: sent or not, nobody knows.
    archive.mark_part(run_id, 0, PartState::Sent, Some(77)).expect("mark");
    archive.mark_part(run_id, 1, PartState::Sending, None).expect("mark");
    let (h, _) = start(config(), archive).await;
    wait_channel(&h, parts.len() - 2).await;
    stays(&h, parts.len() - 2).await;
    assert_eq!(
        channel(&h)[0],
        postkeeper::render::html::plain(&parts[2].html).trim(),
        "part 2 (index) is the first sent"
    );
    eventually(Duration::from_secs(5), || h.tg.dump_calls(), || !dm_texts(&h).is_empty()).await;
    assert!(dm_texts(&h)[0].contains("часть 2"), "{:?}", dm_texts(&h));
    let r = h.archive.call(move |a| a.run(run_id)).await.expect("runs").expect("reads").expect("run");
    assert_eq!(r.state, RunState::Uncertain);
    h.finish().await;
}

#[tokio::test]
async fn jobs_added_by_another_process_are_picked_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("p.db");
    let mut archive = Archive::open(&db).expect("open");
    postkeeper::ingest::import_seed(&mut archive).expect("seed");
    let (h, _) = start(config(), archive).await;
    // The CLI's connection.
    let cli = Archive::open(&db).expect("second connection");
    cli.create_job(Target::Post(4), &Schedule::Once, t0(), None, t0()).expect("job");
    wait_channel(&h, 1).await;
    h.finish().await;
}
