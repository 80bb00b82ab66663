//! The widget as marketers shape it (issue 13): settings saved on the server
//! reach open widgets live; greetings are capped per visitor, open a
//! conversation with the greeting as its first message, and are counted in
//! reports.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

async fn my_id(app: &TestApp, token: &str) -> i64 {
    app.get_json(token, "/me").await["id"].as_i64().unwrap()
}

fn settings(from_user_id: i64) -> Value {
    json!({
        "color": "#0F766E",
        "title": "  Tea shop support ",
        "welcome": "Hi!\nAsk us anything about teas.",
        "away_text": "We are away; leave your email.",
        "position": "left",
        "faces": [from_user_id],
        "language": "ru",
        "email_prompt": false,
        "greetings": [{
            "id": null, "enabled": true, "url_pattern": "/pricing*", "delay_seconds": 5,
            "on_exit_intent": false, "message": "Questions about plans? I can help.",
            "from_user_id": from_user_id, "per_visitor_cap": 2
        }]
    })
}

async fn save(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.send_json(Method::PUT, token, "/widget-settings", body)
        .await
}

async fn shown(app: &TestApp, visitor: &Visitor, greeting: i64) -> StatusCode {
    app.http
        .post(app.api(&format!("/widget/greetings/{greeting}/shown")))
        .header("x-visitor-token", &visitor.token)
        .send()
        .await
        .unwrap()
        .status()
}

async fn session(app: &TestApp) -> Value {
    app.http
        .post(app.api("/widget/session"))
        .json(&json!({ "locale": "en" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn saved_settings_reach_new_and_open_widgets() {
    let (app, mut sink) = spawn_app().await;
    let admin = my_id(&app, &app.admin_token).await;
    app.send_json(
        Method::PATCH,
        &app.admin_token,
        "/me",
        json!({"name": "Anna"}),
    )
    .await;
    let (_, marketer) = app.onboard(&mut sink, "mia@example.com", "marketer").await;

    // Defaults until someone saves.
    let defaults = app.get_json(&marketer, "/widget-settings").await;
    assert_eq!(defaults["color"], "#2563eb");
    assert_eq!(defaults["greetings"], json!([]));
    let before = session(&app).await;
    assert_eq!(before["widget"]["color"], "#2563eb");

    // A widget that is open when the change is saved.
    let visitor = app.visitor().await;
    let mut ws =
        connect(&app.ws_url(&format!("/widget/stream?visitor_token={}", visitor.token))).await;
    assert_eq!(next_frame(&mut ws).await["type"], "ready");
    // And a colleague's app.
    let mut ops = connect(&app.ws_url(&format!("/stream?token={}", app.admin_token))).await;
    assert_eq!(next_frame(&mut ops).await["type"], "ready");

    let response = save(&app, &marketer, settings(admin)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let saved: Value = response.json().await.unwrap();
    assert_eq!(saved["color"], "#0f766e");
    assert_eq!(saved["title"], "Tea shop support");
    let greeting = saved["greetings"][0]["id"]
        .as_i64()
        .expect("a new greeting gets an id");

    let frame = next_frame(&mut ws).await;
    assert_eq!(frame["type"], "widget", "{frame}");
    let widget = &frame["widget"];
    assert_eq!(widget["color"], "#0f766e");
    assert_eq!(widget["title"], "Tea shop support");
    assert_eq!(widget["position"], "left");
    assert_eq!(widget["language"], "ru");
    assert_eq!(widget["email_prompt"], false);
    assert_eq!(
        widget["operators"],
        json!([{"name": "Anna", "avatar_url": null}])
    );
    assert_eq!(widget["greetings"][0]["id"], greeting);
    assert_eq!(widget["greetings"][0]["from"]["name"], "Anna");
    let event = next_event(&mut ops, "widget.updated").await;
    assert_eq!(event["data"]["greetings"][0]["id"], greeting);

    // A new page load gets the same; saving again keeps the greeting's id.
    let after = session(&app).await;
    assert_eq!(&after["widget"], widget);
    let mut again = saved.clone();
    again["greetings"][0]["message"] = json!("Comparing plans? Ask me.");
    let resaved: Value = save(&app, &marketer, again).await.json().await.unwrap();
    assert_eq!(resaved["greetings"][0]["id"], greeting);
    assert_eq!(
        next_frame(&mut ws).await["widget"]["greetings"][0]["message"],
        "Comparing plans? Ask me."
    );

    // A disabled greeting is not published.
    let mut off = resaved.clone();
    off["greetings"][0]["enabled"] = json!(false);
    save(&app, &marketer, off).await;
    assert_eq!(next_frame(&mut ws).await["widget"]["greetings"], json!([]));
    assert_eq!(
        app.get_json(&app.admin_token, "/widget-settings").await["greetings"][0]["enabled"],
        false
    );
}

#[tokio::test]
async fn bad_settings_are_refused_and_change_nothing() {
    let (app, mut sink) = spawn_app().await;
    let admin = my_id(&app, &app.admin_token).await;
    let (analyst_id, analyst) = app.onboard(&mut sink, "ana@example.com", "analyst").await;
    let (_, operator) = app.onboard(&mut sink, "olga@example.com", "operator").await;
    let good = settings(admin);
    assert_eq!(
        save(&app, &app.admin_token, good.clone()).await.status(),
        StatusCode::OK
    );
    let stored = app.get_json(&app.admin_token, "/widget-settings").await;

    // Only admins and marketers edit the widget.
    for token in [&analyst, &operator] {
        let code = expect_error(save(&app, token, good.clone()).await, StatusCode::FORBIDDEN).await;
        assert_eq!(code, "forbidden");
    }
    type Spoil = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Spoil)> = vec![
        ("invalid_color", Box::new(|s| s["color"] = json!("teal"))),
        (
            "invalid_title",
            Box::new(|s| s["title"] = json!("x".repeat(61))),
        ),
        (
            "invalid_welcome",
            Box::new(|s| s["welcome"] = json!("\u{7}")),
        ),
        (
            "unknown_colleague",
            Box::new(move |s| s["faces"] = json!([analyst_id])),
        ),
        (
            "unknown_colleague",
            Box::new(|s| s["greetings"][0]["from_user_id"] = json!(9999)),
        ),
        (
            "invalid_url_pattern",
            Box::new(|s| s["greetings"][0]["url_pattern"] = json!("pricing")),
        ),
        (
            "invalid_delay",
            Box::new(|s| s["greetings"][0]["delay_seconds"] = json!(3601)),
        ),
        (
            "invalid_cap",
            Box::new(|s| s["greetings"][0]["per_visitor_cap"] = json!(0)),
        ),
        (
            "invalid_greeting",
            Box::new(|s| s["greetings"][0]["message"] = json!("   ")),
        ),
    ];
    for (code, spoil) in cases {
        let mut bad = good.clone();
        spoil(&mut bad);
        let got = expect_error(
            save(&app, &app.admin_token, bad).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(got, code);
    }
    let mut wrong_shape = good.clone();
    wrong_shape["position"] = json!("top");
    let got = expect_error(
        save(&app, &app.admin_token, wrong_shape).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(got, "invalid_fields");
    assert_eq!(
        app.get_json(&app.admin_token, "/widget-settings").await,
        stored
    );
}

#[tokio::test]
async fn a_greeting_is_capped_opens_the_conversation_and_is_counted() {
    let (app, _sink) = spawn_app().await;
    let admin = my_id(&app, &app.admin_token).await;
    let saved: Value = save(&app, &app.admin_token, settings(admin))
        .await
        .json()
        .await
        .unwrap();
    let greeting = saved["greetings"][0]["id"].as_i64().unwrap();

    let visitor = app.visitor().await;
    assert_eq!(
        shown(&app, &visitor, greeting).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        shown(&app, &visitor, greeting).await,
        StatusCode::NO_CONTENT
    );
    // Its cap is two showings per visitor; another visitor has their own.
    assert_eq!(shown(&app, &visitor, greeting).await, StatusCode::CONFLICT);
    let other = app.visitor().await;
    assert_eq!(shown(&app, &other, greeting).await, StatusCode::NO_CONTENT);
    assert_eq!(shown(&app, &other, 9999).await, StatusCode::NOT_FOUND);

    // The visitor answers: the greeting opens the conversation, from its colleague.
    let response = app
        .http
        .post(app.api("/widget/messages"))
        .header("x-visitor-token", &visitor.token)
        .json(&json!({"body": "Which plan has the tasting set?", "client_id": "g1", "greeting_id": greeting}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let message: Value = response.json().await.unwrap();
    let conversation = message["conversation_id"].as_i64().unwrap();
    let c = app
        .get_json(&app.admin_token, &format!("/conversations/{conversation}"))
        .await;
    assert_eq!(c["greeting_id"], greeting);
    let history = app
        .get_json(
            &app.admin_token,
            &format!("/conversations/{conversation}/messages"),
        )
        .await;
    let bodies: Vec<(String, String)> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["author"]["kind"].as_str().unwrap().into(),
                m["body"].as_str().unwrap().into(),
            )
        })
        .collect();
    let mut bodies = bodies;
    bodies.sort_by_key(|(kind, _)| kind != "operator");
    assert_eq!(
        bodies,
        vec![
            (
                "operator".into(),
                "Questions about plans? I can help.".into()
            ),
            ("visitor".into(), "Which plan has the tasting set?".into()),
        ]
    );
    assert_eq!(
        app.visitor_history(&visitor).await,
        vec![
            "Questions about plans? I can help.",
            "Which plan has the tasting set?"
        ]
    );

    // A greeting never shown to this visitor does not open theirs.
    let stranger = app.visitor().await;
    let forged: Value = app
        .http
        .post(app.api("/widget/messages"))
        .header("x-visitor-token", &stranger.token)
        .json(&json!({"body": "Hello", "client_id": "s1", "greeting_id": greeting}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let c = app
        .get_json(
            &app.admin_token,
            &format!("/conversations/{}", forged["conversation_id"]),
        )
        .await;
    assert_eq!(c["greeting_id"], Value::Null);
    assert_eq!(app.visitor_history(&stranger).await, vec!["Hello"]);

    // The greeting is not an answer: the conversation still waits for one.
    let today = jiff::tz::TimeZone::UTC
        .to_datetime(jiff::Timestamp::now())
        .date();
    let report = app
        .get_json(
            &app.admin_token,
            &format!("/reports?from={today}&to={today}"),
        )
        .await;
    assert_eq!(report["first_response"]["count"], 0);
    assert_eq!(
        report["greetings"],
        json!([{"id": greeting, "message": "Questions about plans? I can help.", "shown": 3, "answered": 1}])
    );
}
