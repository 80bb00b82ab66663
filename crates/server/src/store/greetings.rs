//! Showings of greetings to visitors (the rules themselves are part of the
//! widget's settings document).

use sqlx::{AnyConnection, Row};

use crate::db::now_ms;

/// Records that `visitor_id` is shown greeting `greeting_id`, unless they
/// have seen it `cap` times already; whether it was recorded. Runs in the
/// caller's write transaction, which serialises two tabs asking at once.
pub async fn record_showing(
    conn: &mut AnyConnection,
    greeting_id: i64,
    visitor_id: i64,
    cap: i64,
) -> Result<bool, sqlx::Error> {
    let seen: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM greeting_shows WHERE visitor_id = $1 AND greeting_id = $2",
    )
    .bind(visitor_id)
    .bind(greeting_id)
    .fetch_one(&mut *conn)
    .await?
    .try_get("n")?;
    if seen >= cap {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO greeting_shows (greeting_id, visitor_id, shown_at) VALUES ($1, $2, $3)",
    )
    .bind(greeting_id)
    .bind(visitor_id)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(true)
}

/// Whether the visitor was ever shown the greeting.
pub async fn was_shown(
    conn: &mut AnyConnection,
    greeting_id: i64,
    visitor_id: i64,
) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "SELECT 1 AS one FROM greeting_shows WHERE visitor_id = $1 AND greeting_id = $2 LIMIT 1",
    )
    .bind(visitor_id)
    .bind(greeting_id)
    .fetch_optional(conn)
    .await?
    .is_some())
}

/// Per greeting: showings in `[from_ms, to_ms)` and conversations opened by
/// answering it in the same span, ordered by greeting id.
pub async fn figures(
    conn: &mut AnyConnection,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<(i64, i64, i64)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT greeting_id, CAST(SUM(shown) AS BIGINT) AS shown, CAST(SUM(answered) AS BIGINT) AS answered FROM ( \
           SELECT greeting_id, COUNT(*) AS shown, 0 AS answered FROM greeting_shows \
             WHERE shown_at >= $1 AND shown_at < $2 GROUP BY greeting_id \
           UNION ALL \
           SELECT greeting_id, 0 AS shown, COUNT(*) AS answered FROM conversations \
             WHERE greeting_id IS NOT NULL AND created_at >= $1 AND created_at < $2 GROUP BY greeting_id \
         ) f GROUP BY greeting_id ORDER BY greeting_id",
    )
    .bind(from_ms)
    .bind(to_ms)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("greeting_id")?,
                r.try_get::<i64, _>("shown")?,
                r.try_get::<i64, _>("answered")?,
            ))
        })
        .collect()
}
