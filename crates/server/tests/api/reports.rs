//! Reports (issue 13): the server keeps each conversation's figures as they
//! happen, and a report over a known history gives exactly the expected
//! figures — on SQLite and PostgreSQL alike (this suite runs on both).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

async fn report(app: &TestApp, token: &str, query: &str) -> reqwest::Response {
    app.get(token, &format!("/reports?{query}")).await
}

async fn figures_of(
    app: &TestApp,
    conversation: i64,
) -> (
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<i64>,
) {
    use sqlx::Row;
    let row = sqlx::query(
        "SELECT first_visitor_at, first_answer_at, first_answer_by, first_answer_channel, closed_at \
         FROM conversations WHERE id = $1",
    )
    .bind(conversation)
    .fetch_one(&app.server.state.db.pool)
    .await
    .unwrap();
    (
        row.get("first_visitor_at"),
        row.get("first_answer_at"),
        row.get("first_answer_by"),
        row.get("first_answer_channel"),
        row.get("closed_at"),
    )
}

/// Milliseconds of a UTC date and time.
fn at(day: u32, hour: u32, minute: u32) -> i64 {
    // November 2026: the 2nd is a Monday.
    let base = 1_793_491_200_000i64; // 2026-11-01T00:00:00Z
    base + i64::from(day - 1) * 86_400_000
        + i64::from(hour) * 3_600_000
        + i64::from(minute) * 60_000
}

#[tokio::test]
async fn conversations_keep_their_figures_as_they_happen() {
    let (app, _sink) = spawn_app().await;
    let visitor = app.visitor().await;
    let first: Value = app
        .visitor_says(&visitor, "Hello?", "v1")
        .await
        .json()
        .await
        .unwrap();
    let id = first["conversation_id"].as_i64().unwrap();
    let (asked, answered, by, channel, closed) = figures_of(&app, id).await;
    assert_eq!(asked, first["created_at"].as_i64());
    assert_eq!((answered, by, channel, closed), (None, None, None, None));
    app.visitor_says(&visitor, "Anyone?", "v2").await;
    let answer: Value = app
        .operator_says(&app.admin_token, id, "Hi! Here.", "o1")
        .await
        .json()
        .await
        .unwrap();
    app.operator_says(&app.admin_token, id, "How can I help?", "o2")
        .await;
    let (asked_after, answered, by, channel, _) = figures_of(&app, id).await;
    assert_eq!(
        asked_after, asked,
        "the first visitor message stays the first"
    );
    assert_eq!(
        answered,
        answer["created_at"].as_i64(),
        "the first answer stays the first"
    );
    assert_eq!(by, answer["author"]["id"].as_i64());
    assert_eq!(channel.as_deref(), Some("chat"));

    let close = |status: &'static str| {
        let app = &app;
        async move {
            let r = app
                .send_json(
                    Method::PATCH,
                    &app.admin_token,
                    &format!("/conversations/{id}"),
                    json!({"status": status}),
                )
                .await;
            assert_eq!(r.status(), StatusCode::OK);
        }
    };
    close("closed").await;
    assert!(figures_of(&app, id).await.4.is_some());
    close("open").await;
    assert_eq!(figures_of(&app, id).await.4, None, "reopened: not resolved");
}

#[tokio::test]
async fn a_known_history_gives_exactly_its_figures() {
    let (app, mut sink) = spawn_app().await;
    let (olga_id, _) = app.onboard(&mut sink, "olga@example.com", "operator").await;
    let (_, analyst) = app.onboard(&mut sink, "ana@example.com", "analyst").await;
    let admin_id = app.get_json(&app.admin_token, "/me").await["id"]
        .as_i64()
        .unwrap();

    // Five conversations, then their times set to a known history (UTC):
    // (opened, first visitor message, first answer, by, channel, closed, assignee)
    struct Known {
        opened: i64,
        answer: Option<(i64, i64, &'static str)>,
        closed: Option<i64>,
        assignee: Option<i64>,
    }
    let history = [
        // Mon 2 Nov 09:00: answered by Olga after 2 min in chat, closed at 10:00.
        Known {
            opened: at(2, 9, 0),
            answer: Some((at(2, 9, 2), olga_id, "chat")),
            closed: Some(at(2, 10, 0)),
            assignee: Some(olga_id),
        },
        // Mon 2 Nov 23:30 UTC (Tue 02:30 in Moscow): answered by the admin after 30 min by email.
        Known {
            opened: at(2, 23, 30),
            answer: Some((at(3, 0, 0), admin_id, "email")),
            closed: None,
            assignee: Some(admin_id),
        },
        // Tue 3 Nov 12:00: Olga after 10 min, closed after 3 h.
        Known {
            opened: at(3, 12, 0),
            answer: Some((at(3, 12, 10), olga_id, "chat")),
            closed: Some(at(3, 15, 0)),
            assignee: Some(olga_id),
        },
        // Wed 4 Nov 08:00: never answered (missed).
        Known {
            opened: at(4, 8, 0),
            answer: None,
            closed: None,
            assignee: None,
        },
        // Sun 8 Nov 20:00: outside the range.
        Known {
            opened: at(8, 20, 0),
            answer: Some((at(8, 20, 1), olga_id, "chat")),
            closed: None,
            assignee: None,
        },
    ];
    for (i, known) in history.iter().enumerate() {
        let visitor = app.visitor().await;
        let sent: Value = app
            .visitor_says(&visitor, "Hello", &format!("k{i}"))
            .await
            .json()
            .await
            .unwrap();
        let id = sent["conversation_id"].as_i64().unwrap();
        let (answered, by, channel) = match known.answer {
            Some((a, b, c)) => (Some(a), Some(b), Some(c)),
            None => (None, None, None),
        };
        sqlx::query(
            "UPDATE conversations SET created_at = $1, first_visitor_at = $1, first_answer_at = $2, \
             first_answer_by = $3, first_answer_channel = $4, closed_at = $5, assignee_id = $6 WHERE id = $7",
        )
        .bind(known.opened)
        .bind(answered)
        .bind(by)
        .bind(channel)
        .bind(known.closed)
        .bind(known.assignee)
        .bind(id)
        .execute(&app.server.state.db.pool)
        .await
        .unwrap();
    }

    // Monday to Saturday, Moscow time (UTC+3), missed after 15 minutes.
    let response = report(
        &app,
        &analyst,
        "from=2026-11-02&to=2026-11-07&tz=Europe/Moscow&missed_after=15",
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let r: Value = response.json().await.unwrap();
    assert_eq!(r["time_zone"], "Europe/Moscow");
    let per_day: Vec<(String, i64)> = r["new_conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["day"].as_str().unwrap().to_string(),
                d["count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        per_day,
        vec![
            ("2026-11-02".into(), 1),
            ("2026-11-03".into(), 2),
            ("2026-11-04".into(), 1),
            ("2026-11-05".into(), 0),
            ("2026-11-06".into(), 0),
            ("2026-11-07".into(), 0),
        ]
    );
    let heat = &r["by_hour_of_week"];
    assert_eq!(heat[0][12], 1, "Mon 09:00 UTC is 12:00 in Moscow");
    assert_eq!(heat[1][2], 1, "Mon 23:30 UTC is Tue 02:30 in Moscow");
    assert_eq!(heat[1][15], 1);
    assert_eq!(heat[2][11], 1);
    let total: i64 = heat
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d.as_array().unwrap())
        .map(|v| v.as_i64().unwrap())
        .sum();
    assert_eq!(total, 4);
    // Waits 120 s, 1800 s, 600 s: median 600, p90 1800 (nearest rank).
    assert_eq!(
        r["first_response"],
        json!({"count": 3, "median_seconds": 600, "p90_seconds": 1800})
    );
    // Closed after 3600 s and 10800 s.
    assert_eq!(
        r["resolution"],
        json!({"count": 2, "median_seconds": 3600, "p90_seconds": 10800})
    );
    assert_eq!(r["answered_in_chat"], 2);
    assert_eq!(r["answered_by_email"], 1);
    // The 30-minute wait and the one never answered.
    assert_eq!(r["missed"], 2);
    let operators = r["operators"].as_array().unwrap();
    let olga_row = operators.iter().find(|o| o["id"] == olga_id).unwrap();
    assert_eq!(olga_row["answered"], 2);
    assert_eq!(
        olga_row["first_response"],
        json!({"count": 2, "median_seconds": 120, "p90_seconds": 600})
    );
    assert_eq!(olga_row["resolved"], 2);
    let admin_row = operators.iter().find(|o| o["id"] == admin_id).unwrap();
    assert_eq!(admin_row["answered"], 1);
    assert_eq!(admin_row["resolved"], 0);
    assert!(
        operators.iter().all(|o| o["name"] != "ana@example.com"),
        "analysts do not answer"
    );

    // In UTC the late Monday conversation stays on Monday.
    let r: Value = report(&app, &analyst, "from=2026-11-02&to=2026-11-02")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        r["new_conversations"],
        json!([{"day": "2026-11-02", "count": 2}])
    );
    assert_eq!(r["by_hour_of_week"][0][23], 1);
    // Missed after an hour: only the one never answered.
    let r: Value = report(
        &app,
        &app.admin_token,
        "from=2026-11-02&to=2026-11-07&missed_after=60",
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(r["missed"], 1);
}

#[tokio::test]
async fn only_admins_and_analysts_see_reports_and_bad_ranges_are_refused() {
    let (app, mut sink) = spawn_app().await;
    let (_, operator) = app.onboard(&mut sink, "op@example.com", "operator").await;
    let (_, marketer) = app.onboard(&mut sink, "mk@example.com", "marketer").await;
    let (_, analyst) = app.onboard(&mut sink, "an@example.com", "analyst").await;
    let q = "from=2026-11-01&to=2026-11-30";
    for token in [&operator, &marketer] {
        assert_eq!(
            expect_error(report(&app, token, q).await, StatusCode::FORBIDDEN).await,
            "forbidden"
        );
    }
    for token in [&app.admin_token, &analyst] {
        assert_eq!(report(&app, token, q).await.status(), StatusCode::OK);
    }
    for bad in [
        "from=2026-11-30&to=2026-11-01",
        "from=2026-02-30&to=2026-03-01",
        "from=2025-01-01&to=2026-11-30",
        "from=2026-11-01&to=2026-11-30&tz=Mars/Olympus",
    ] {
        assert_eq!(
            expect_error(
                report(&app, &analyst, bad).await,
                StatusCode::UNPROCESSABLE_ENTITY
            )
            .await,
            "invalid_range",
            "{bad}"
        );
    }
    assert_eq!(
        expect_error(
            report(
                &app,
                &analyst,
                "from=2026-11-01&to=2026-11-02&missed_after=0"
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY
        )
        .await,
        "invalid_missed_after"
    );
    expect_error(
        report(&app, &analyst, "to=2026-11-02").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
}
