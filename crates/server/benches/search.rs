//! Search and reports benchmark (prints figures, asserts nothing): a
//! generated history of Russian and English messages, indexed as the server
//! indexes them, then searched through the service the API calls
//! (`services::search::search`: the index lookup, the messages, their
//! conversations and the snippets), and a 30-day report over it
//! (`services::reports`, as the API computes it).
//!
//! Run: cargo bench -p switchboard-server --bench search [-- MESSAGES [postgres]]
//! (PostgreSQL: the loopback server, database `sb_bench_search`, recreated.)

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::Row;
use switchboard_server::domain::search_terms;
use switchboard_server::store::search;
use switchboard_server::Config;

/// Words people write to a shop's support, in several forms each.
const RU: &[&str] = &[
    "заказ",
    "заказа",
    "заказом",
    "заказы",
    "доставка",
    "доставку",
    "доставки",
    "посылка",
    "посылку",
    "курьер",
    "курьера",
    "оплата",
    "оплатил",
    "оплатила",
    "возврат",
    "возврата",
    "деньги",
    "товар",
    "товара",
    "товаром",
    "размер",
    "размера",
    "цвет",
    "сломан",
    "сломанный",
    "пришёл",
    "пришла",
    "когда",
    "где",
    "почему",
    "спасибо",
    "здравствуйте",
    "пожалуйста",
    "адрес",
    "адреса",
    "телефон",
    "чек",
    "скидка",
    "скидку",
    "промокод",
    "магазин",
    "склад",
    "неделю",
    "вчера",
    "сегодня",
    "завтра",
    "отменить",
    "отмена",
    "обменять",
    "гарантия",
];
const EN: &[&str] = &[
    "order",
    "orders",
    "ordered",
    "ordering",
    "delivery",
    "delivered",
    "parcel",
    "courier",
    "payment",
    "paid",
    "refund",
    "refunded",
    "money",
    "item",
    "items",
    "size",
    "colour",
    "broken",
    "arrived",
    "when",
    "where",
    "why",
    "thanks",
    "hello",
    "please",
    "address",
    "phone",
    "receipt",
    "discount",
    "coupon",
    "shop",
    "warehouse",
    "week",
    "yesterday",
    "today",
    "tomorrow",
    "cancel",
    "cancelled",
    "exchange",
    "warranty",
    "tracking",
    "number",
    "shipping",
    "shipped",
    "invoice",
    "account",
    "login",
    "password",
    "return",
    "returned",
];

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let total: i64 = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let postgres = args.iter().any(|a| a == "postgres");
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_data_dir(dir.path());
    if postgres {
        config.database_url = fresh_postgres().await;
    }
    let state = switchboard_server::prepare(config, "http://bench.invalid".into())
        .await
        .unwrap();
    switchboard_server::services::accounts::create_admin(
        &state,
        "bench@example.com",
        "bench-password-1",
        Some("Bench Admin"),
    )
    .await
    .unwrap();
    let store = if postgres { "PostgreSQL" } else { "SQLite" };
    println!("search benchmark: {total} messages ({store}), half Russian, half English\n");

    let started = Instant::now();
    let before = size(&state, postgres, dir.path()).await;
    generate(&state, total).await;
    let indexed = size(&state, postgres, dir.path()).await;
    println!(
        "generated and indexed in {:.1} s; index {:.1} MB, {:.0} bytes per message",
        started.elapsed().as_secs_f64(),
        (indexed.1 - before.1) as f64 / 1e6,
        (indexed.1 - before.1) as f64 / total as f64
    );

    // Queries of every kind: a frequent word, a rare pair, a form of a word,
    // a prefix being typed, a number.
    let queries = [
        "заказ",
        "заказом доставка",
        "посылку курьер",
        "возврат денег",
        "сломанный товар",
        "order",
        "ordered parcel",
        "refund money",
        "broken item",
        "tracking numb",
        "deliv",
        "скидк",
        "4512",
        "warranty exchange",
        "промокод скидка",
    ];
    let mut samples = Vec::new();
    // Warm up once, then measure.
    for q in queries {
        switchboard_server::services::search::search(&state, q, None, 20)
            .await
            .unwrap();
    }
    for round in 0..10 {
        for q in queries {
            let t = Instant::now();
            let page = switchboard_server::services::search::search(&state, q, None, 20)
                .await
                .unwrap();
            samples.push(t.elapsed());
            if round == 0 {
                println!("  {q:<20} {:>3} hits on the first page", page.items.len());
            }
        }
    }
    time_reports(&state).await;
    samples.sort();
    let pct = |p: f64| samples[((samples.len() - 1) as f64 * p / 100.0) as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "\nquery (first page of 20, via the service): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} queries",
        ms(pct(50.0)),
        ms(pct(99.0)),
        ms(*samples.last().unwrap()),
        samples.len()
    );
}

/// A 30-day report over the whole generated history, as an admin asks it.
async fn time_reports(state: &switchboard_server::state::SharedState) {
    use switchboard_server::domain::report::Range;
    let admin = switchboard_server::store::users::team(&state.db)
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.role.manages_team())
        .expect("an admin");
    // The generated conversations, spread over the last 30 days, each
    // answered after up to 10 minutes, every other one closed an hour later.
    let now = switchboard_server::db::now_ms();
    sqlx::query(
        "UPDATE conversations SET created_at = $1 - (id * 37 % 2592000) * 1000, \
         first_visitor_at = $1 - (id * 37 % 2592000) * 1000, \
         first_answer_at = $1 - (id * 37 % 2592000) * 1000 + (id % 600) * 1000, \
         first_answer_by = $2, first_answer_channel = 'chat', \
         closed_at = CASE WHEN id % 2 = 0 THEN $1 - (id * 37 % 2592000) * 1000 + 3600000 END, \
         assignee_id = $2",
    )
    .bind(now)
    .bind(admin.id)
    .execute(&state.db.pool)
    .await
    .unwrap();
    let me = switchboard_server::auth::CurrentUser {
        user: admin,
        token: String::new(),
    };
    let today = jiff::ZonedDateTime::now().date();
    let from = today.checked_sub(jiff::Span::new().days(29)).unwrap();
    let range = Range::parse(&from.to_string(), &today.to_string(), "Europe/Moscow").unwrap();
    let mut samples = Vec::new();
    let mut conversations = 0;
    for _ in 0..20 {
        let t = Instant::now();
        let report = switchboard_server::services::reports::report(state, &me, &range, 15)
            .await
            .unwrap();
        samples.push(t.elapsed());
        conversations = report
            .new_conversations
            .iter()
            .map(|d| d.count)
            .sum::<i64>();
    }
    samples.sort();
    println!(
        "30-day report over {conversations} conversations: p50 {:.1} ms, p99 {:.1} ms",
        samples[samples.len() / 2].as_secs_f64() * 1000.0,
        samples[samples.len() - 1].as_secs_f64() * 1000.0
    );
    // Where a report's time goes: reading the conversations, and the
    // figures computed from them.
    let (from_ms, to_ms) = range.bounds_ms().unwrap();
    let (mut reading, mut computing) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        let t = Instant::now();
        let rows =
            switchboard_server::store::conversations::opened_between(&state.db, from_ms, to_ms)
                .await
                .unwrap();
        reading.push(t.elapsed());
        let t = Instant::now();
        let _ = switchboard_server::domain::report::compute(&range, &rows, &[], 15, now);
        computing.push(t.elapsed());
    }
    reading.sort();
    computing.sort();
    println!(
        "  of which reading the conversations p50 {:.1} ms, computing the figures p50 {:.1} ms",
        reading[reading.len() / 2].as_secs_f64() * 1000.0,
        computing[computing.len() / 2].as_secs_f64() * 1000.0
    );
}

async fn fresh_postgres() -> String {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let base = std::env::var("SWITCHBOARD_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let mut admin = sqlx::AnyConnection::connect(&format!("{base}/postgres"))
        .await
        .unwrap();
    sqlx::query("DROP DATABASE IF EXISTS sb_bench_search")
        .execute(&mut admin)
        .await
        .unwrap();
    sqlx::query("CREATE DATABASE sb_bench_search")
        .execute(&mut admin)
        .await
        .unwrap();
    format!("{base}/sb_bench_search")
}

fn sentence(rng: &mut StdRng) -> String {
    let words = if rng.gen_bool(0.5) { RU } else { EN };
    let n = rng.gen_range(4..16);
    let mut out: Vec<String> = (0..n)
        .map(|_| words[rng.gen_range(0..words.len())].to_string())
        .collect();
    if rng.gen_bool(0.05) {
        out.push(rng.gen_range(1000..9999).to_string());
    }
    out.join(" ")
}

/// Visitors with a conversation each, 20 messages per conversation, written
/// and indexed in batches of 5,000 per transaction.
async fn generate(state: &switchboard_server::state::SharedState, total: i64) {
    let mut rng = StdRng::seed_from_u64(20261204);
    let now = switchboard_server::db::now_ms();
    let per_conversation = 20;
    let backend = state.db.backend;
    let mut written = 0;
    while written < total {
        let mut tx = state.db.begin_write().await.unwrap();
        for _ in 0..(5_000 / per_conversation) {
            if written >= total {
                break;
            }
            let visitor: i64 = sqlx::query(
                "INSERT INTO visitors (token_hash, name, locale, created_at, last_seen_at) \
                 VALUES ($1, $2, 'ru', $3, $3) RETURNING id",
            )
            .bind(format!("bench-{written}"))
            .bind(format!("Visitor {written}"))
            .bind(now)
            .fetch_one(&mut *tx.tx)
            .await
            .unwrap()
            .get("id");
            let conversation: i64 = sqlx::query(
                "INSERT INTO conversations (visitor_id, status, created_at, updated_at) \
                 VALUES ($1, 'open', $2, $2) RETURNING id",
            )
            .bind(visitor)
            .bind(now)
            .fetch_one(&mut *tx.tx)
            .await
            .unwrap()
            .get("id");
            let mut last = 0;
            for _ in 0..per_conversation {
                let body = sentence(&mut rng);
                last = sqlx::query(
                    "INSERT INTO messages (conversation_id, author_kind, author_id, body, channel, created_at) \
                     VALUES ($1, 'visitor', $2, $3, 'chat', $4) RETURNING id",
                )
                .bind(conversation)
                .bind(visitor)
                .bind(&body)
                .bind(now)
                .fetch_one(&mut *tx.tx)
                .await
                .unwrap()
                .get("id");
                search::index_message(&mut tx.tx, backend, last, &search_terms::index_terms(&body))
                    .await
                    .unwrap();
                written += 1;
            }
            sqlx::query("UPDATE conversations SET last_message_id = $1 WHERE id = $2")
                .bind(last)
                .bind(conversation)
                .execute(&mut *tx.tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
}

/// (database bytes in all, bytes of the search index).
async fn size(
    state: &switchboard_server::state::SharedState,
    postgres: bool,
    dir: &std::path::Path,
) -> (i64, i64) {
    if postgres {
        let row = sqlx::query(
            "SELECT CAST(pg_database_size(current_database()) AS BIGINT) AS db, \
             CAST(pg_total_relation_size('message_search') AS BIGINT) AS idx",
        )
        .fetch_one(&state.db.pool)
        .await
        .unwrap();
        (row.get("db"), row.get("idx"))
    } else {
        // FTS5 keeps its index in shadow tables: measure it as the pages it adds.
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM message_search_data) AS blocks, \
             (SELECT COALESCE(SUM(LENGTH(block)), 0) FROM message_search_data) AS bytes",
        )
        .fetch_one(&state.db.pool)
        .await
        .unwrap();
        let _ = dir;
        (row.get("blocks"), row.get("bytes"))
    }
}
