use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn invited_colleague_signs_in_with_the_emailed_password_and_must_change_it() {
    let (app, mut sink) = spawn_app().await;
    let response = app
        .invite(&app.admin_token, "Olga@Example.com", "operator")
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let invited: Value = response.json().await.unwrap();
    assert_eq!(invited["email"], "olga@example.com");
    assert_eq!(invited["status"], "invited");
    assert_eq!(invited["role"], "operator");

    let mail = sink.next().await;
    assert_eq!(mail.to, vec!["olga@example.com".to_string()]);
    assert_eq!(mail.subject(), "You are invited to Switchboard");
    assert_eq!(mail.field("Login"), "olga@example.com");
    let cabinet = mail.field("Personal cabinet");
    assert_eq!(cabinet, format!("{}/cabinet", app.url));
    assert!(
        mail.html().contains(&format!("href=\"{cabinet}\"")),
        "the HTML part links the cabinet"
    );
    let temporary = mail.field("Password");
    assert!(temporary.len() >= 16, "a strong password: {temporary}");

    // The cabinet the email links to is a real page.
    let page = app.http.get(&cabinet).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("/api/v1/auth/login"));

    let token = app.login_ok("olga@example.com", &temporary).await;
    let me: Value = app.get(&token, "/me").await.json().await.unwrap();
    assert_eq!(me["must_change_password"], true);

    // A weak or wrong change is refused and changes nothing.
    let weak = app
        .send_json(
            Method::PUT,
            &token,
            "/me/password",
            json!({ "current_password": temporary, "new_password": "short" }),
        )
        .await;
    assert_eq!(
        expect_error(weak, StatusCode::UNPROCESSABLE_ENTITY).await,
        "weak_password"
    );
    let wrong = app
        .send_json(
            Method::PUT,
            &token,
            "/me/password",
            json!({ "current_password": "nope-nope", "new_password": "olga-new-password" }),
        )
        .await;
    assert_eq!(
        expect_error(wrong, StatusCode::UNPROCESSABLE_ENTITY).await,
        "wrong_current_password"
    );

    let changed = app
        .send_json(
            Method::PUT,
            &token,
            "/me/password",
            json!({ "current_password": temporary, "new_password": "olga-new-password" }),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    let me: Value = app.get(&token, "/me").await.json().await.unwrap();
    assert_eq!(me["must_change_password"], false);
    assert_eq!(me["status"], "active");

    assert_eq!(
        app.login("olga@example.com", &temporary).await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.login_ok("olga@example.com", "olga-new-password").await;
}

#[tokio::test]
async fn the_invitation_speaks_the_inviters_language() {
    let (app, mut sink) = spawn_app().await;
    let patched = app
        .send_json(
            Method::PATCH,
            &app.admin_token,
            "/me",
            json!({ "locale": "ru" }),
        )
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    assert_eq!(
        app.invite(&app.admin_token, "ivan@example.com", "analyst")
            .await
            .status(),
        StatusCode::CREATED
    );
    let mail = sink.next().await;
    assert_eq!(mail.subject(), "Вас пригласили в Switchboard");
    assert_eq!(mail.field("Логин"), "ivan@example.com");
    let password = mail.field("Пароль");
    assert!(mail.text().contains("Личный кабинет"));
    app.login_ok("ivan@example.com", &password).await;
}

#[tokio::test]
async fn logout_and_wrong_passwords() {
    let (app, _sink) = spawn_app().await;
    assert_eq!(
        expect_error(
            app.login(ADMIN_EMAIL, "wrong").await,
            StatusCode::UNAUTHORIZED
        )
        .await,
        "unauthorized"
    );
    assert_eq!(
        app.login("nobody@example.com", "whatever").await.status(),
        StatusCode::UNAUTHORIZED
    );

    let token = app.login_ok(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(app.get(&token, "/me").await.status(), StatusCode::OK);
    let out = app
        .http
        .post(app.api("/auth/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        expect_error(app.get(&token, "/me").await, StatusCode::UNAUTHORIZED).await,
        "unauthorized"
    );
    // Other sessions of the same account are untouched.
    assert_eq!(
        app.get(&app.admin_token, "/me").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.http.get(app.api("/me")).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn thirty_wrong_passwords_are_throttled() {
    let (app, _sink) = spawn_app().await;
    let mut statuses = Vec::new();
    for _ in 0..30 {
        statuses.push(app.login(ADMIN_EMAIL, "not-the-password").await.status());
    }
    assert_eq!(statuses[0], StatusCode::UNAUTHORIZED);
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    let last = app.login(ADMIN_EMAIL, "not-the-password").await;
    assert!(last.headers().get("retry-after").is_some());
    assert_eq!(
        expect_error(last, StatusCode::TOO_MANY_REQUESTS).await,
        "too_many_requests"
    );
    // Even the right password waits now: the lock is on the email.
    assert_eq!(
        app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn bad_json_gets_clear_errors() {
    let (app, _sink) = spawn_app().await;
    let url = app.api("/auth/login");
    let malformed = app
        .http
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"email\":")
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_error(malformed, StatusCode::BAD_REQUEST).await,
        "malformed_json"
    );
    let wrong_shape = app
        .http
        .post(&url)
        .json(&json!({ "email": 5 }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_error(wrong_shape, StatusCode::UNPROCESSABLE_ENTITY).await,
        "invalid_fields"
    );
    let no_type = app.http.post(&url).body("{}").send().await.unwrap();
    assert_eq!(
        expect_error(no_type, StatusCode::UNSUPPORTED_MEDIA_TYPE).await,
        "unsupported_media_type"
    );
    let huge = format!(
        "{{\"email\":\"{}\",\"password\":\"x\"}}",
        "a".repeat(200_000)
    );
    let too_big = app
        .http
        .post(&url)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_error(too_big, StatusCode::PAYLOAD_TOO_LARGE).await,
        "payload_too_large"
    );
    let unknown = app.get(&app.admin_token, "/no-such-thing").await;
    assert_eq!(
        expect_error(unknown, StatusCode::NOT_FOUND).await,
        "not_found"
    );
}

#[tokio::test]
async fn health_and_openapi() {
    let (app, _sink) = spawn_app().await;
    assert_eq!(
        app.http
            .get(format!("{}/healthz", app.url))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let doc: Value = app
        .http
        .get(format!("{}/api/openapi.json", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/auth/login",
        "/api/v1/me/avatar",
        "/api/v1/team/invitations",
        "/api/v1/team/{user_id}",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
    // Every error answer of every operation has the error schema.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                if status.starts_with('4') || (status.starts_with('5') && path.starts_with("/api/"))
                {
                    let described = response["$ref"]
                        .as_str()
                        .is_some_and(|r| r.starts_with("#/components/responses/"))
                        || response["content"]["application/json"]["schema"]["$ref"]
                            == "#/components/schemas/ErrorBody";
                    assert!(described, "{method} {path} {status}: {response}");
                }
            }
        }
    }
}

/// A malformed path segment, query string or body gets the API's JSON error,
/// not a plain-text rejection.
#[tokio::test]
async fn malformed_requests_get_json_errors() {
    let (app, _sink) = spawn_app().await;
    let bad_id = app.get(&app.admin_token, "/conversations/abc").await;
    assert_eq!(
        expect_error(bad_id, StatusCode::BAD_REQUEST).await,
        "invalid_path"
    );
    let bad_limit = app.get(&app.admin_token, "/conversations?limit=many").await;
    assert_eq!(
        expect_error(bad_limit, StatusCode::BAD_REQUEST).await,
        "invalid_query"
    );
    let array = app
        .send_json(Method::PATCH, &app.admin_token, "/me", json!([null, null]))
        .await;
    assert_eq!(
        expect_error(array, StatusCode::UNPROCESSABLE_ENTITY).await,
        "invalid_fields"
    );
    let not_websocket = app.get(&app.admin_token, "/stream").await;
    assert_eq!(
        expect_error(not_websocket, StatusCode::BAD_REQUEST).await,
        "bad_handshake"
    );
    // Who asks comes before how: a stranger hears 401, not a handshake error.
    let stranger = app.get("not-a-token", "/stream").await;
    assert_eq!(
        expect_error(stranger, StatusCode::UNAUTHORIZED).await,
        "unauthorized"
    );
}

#[tokio::test]
async fn admin_create_cli_refuses_a_taken_email() {
    let dir = tempfile::tempdir().unwrap();
    let run = |email: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_switchboard-server"))
            .args([
                "--data-dir",
                dir.path().to_str().unwrap(),
                "admin",
                "create",
                "--email",
                email,
                "--password",
                "long-enough-pw",
            ])
            .output()
            .unwrap()
    };
    let first = run("boss@example.com");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let second = run("BOSS@example.com");
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("already taken"));
    let bad = run("not-an-email");
    assert!(!bad.status.success());
}
