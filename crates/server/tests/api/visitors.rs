//! Who the visitor is (issue 13): the widget reports each page; colleagues
//! see the pages, language, time zone, browser, OS, referrer and the
//! visitor's earlier conversations; no address is kept unless configured.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

const CHROME_ON_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

async fn pageview(app: &TestApp, visitor: &Visitor, page: Value) -> reqwest::Response {
    app.http
        .post(app.api("/widget/pageview"))
        .header("x-visitor-token", &visitor.token)
        .header("user-agent", CHROME_ON_WINDOWS)
        .json(&page)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn colleagues_see_where_the_visitor_is_and_has_been() {
    let (app, _sink) = spawn_app().await;
    // An earlier visit with the same email, and its conversation.
    let earlier = app.visitor().await;
    app.visitor_says(&earlier, "Last month's question", "e1")
        .await;
    crate::email::leave_email(&app, &earlier, "clara@example.org").await;

    let visitor = app.visitor().await;
    for (url, title, referrer) in [
        (
            "https://shop.example.com/",
            "Tea shop",
            Some("https://www.google.com/"),
        ),
        (
            "https://shop.example.com/teas/da-hong-pao",
            "Da Hong Pao — Tea shop",
            None,
        ),
    ] {
        let r = pageview(
            &app,
            &visitor,
            json!({"url": url, "title": title, "referrer": referrer, "language": "ru-RU", "time_zone": "Europe/Moscow"}),
        )
        .await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }
    let first: Value = app
        .visitor_says(&visitor, "Is it in stock?", "v1")
        .await
        .json()
        .await
        .unwrap();
    crate::email::leave_email(&app, &visitor, "clara@example.org").await;

    let profile = app
        .get_json(&app.admin_token, &format!("/visitors/{}", visitor.id))
        .await;
    assert_eq!(profile["language"], "ru-RU");
    assert_eq!(profile["time_zone"], "Europe/Moscow");
    assert_eq!(profile["browser"], "Chrome 131");
    assert_eq!(profile["os"], "Windows 10");
    assert_eq!(
        profile["referrer"], "https://www.google.com/",
        "where they first came from"
    );
    assert!(
        profile["ip_address"].is_null(),
        "no address unless configured"
    );
    let pages: Vec<&str> = profile["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        pages,
        vec![
            "https://shop.example.com/teas/da-hong-pao",
            "https://shop.example.com/"
        ]
    );
    assert_eq!(profile["pages"][0]["title"], "Da Hong Pao — Tea shop");
    let conversations = profile["conversations"].as_array().unwrap();
    assert_eq!(conversations.len(), 2, "this one and the earlier visit's");
    assert_eq!(conversations[0]["id"], first["conversation_id"]);

    // Bad pages change nothing.
    for (page, code) in [
        (json!({"url": "javascript:alert(1)"}), "invalid_url"),
        (json!({"url": "https://a.example/ b"}), "invalid_url"),
        (
            json!({"url": "https://a.example/", "referrer": "file:///etc/passwd"}),
            "invalid_referrer",
        ),
        (
            json!({"url": "https://a.example/", "language": "ru_RU"}),
            "invalid_language",
        ),
    ] {
        assert_eq!(
            expect_error(
                pageview(&app, &visitor, page).await,
                StatusCode::UNPROCESSABLE_ENTITY
            )
            .await,
            code
        );
    }
    let again = app
        .get_json(&app.admin_token, &format!("/visitors/{}", visitor.id))
        .await;
    assert_eq!(again["pages"].as_array().unwrap().len(), 2);
    expect_error(
        app.get(&app.admin_token, "/visitors/999999").await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn only_the_latest_pages_are_kept_and_addresses_only_when_asked() {
    let app = spawn_app_configured(None, |c| {
        c.store_visitor_ip = true;
        c.limits.pages_per_visitor = switchboard_server::limits::Rate::new(1_000, 1);
    })
    .await;
    let visitor = app.visitor().await;
    for i in 0..60 {
        let r = pageview(
            &app,
            &visitor,
            json!({"url": format!("https://shop.example.com/p/{i}")}),
        )
        .await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }
    let profile = app
        .get_json(&app.admin_token, &format!("/visitors/{}", visitor.id))
        .await;
    let pages = profile["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 50);
    assert_eq!(pages[0]["url"], "https://shop.example.com/p/59");
    assert_eq!(profile["ip_address"], "127.0.0.1");
}
