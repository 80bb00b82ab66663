use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn only_admins_manage_the_team() {
    let (app, mut sink) = spawn_app().await;
    let (_, operator) = app.onboard(&mut sink, "op@example.com", "operator").await;
    let (marketer_id, _) = app.onboard(&mut sink, "mk@example.com", "marketer").await;

    let denied = app.invite(&operator, "new@example.com", "operator").await;
    assert_eq!(
        expect_error(denied, StatusCode::FORBIDDEN).await,
        "forbidden"
    );
    let denied = app
        .send_json(
            Method::PATCH,
            &operator,
            &format!("/team/{marketer_id}"),
            json!({ "role": "admin" }),
        )
        .await;
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    let denied = app
        .http
        .delete(app.api(&format!("/team/{marketer_id}")))
        .bearer_auth(&operator)
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    let denied = app
        .http
        .post(app.api(&format!("/team/{marketer_id}/invitation")))
        .bearer_auth(&operator)
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    sink.assert_quiet(std::time::Duration::from_millis(300))
        .await;

    // Everyone sees the team, invited ones included.
    let team: Vec<Value> = app.get(&operator, "/team").await.json().await.unwrap();
    assert_eq!(team.len(), 3);
    assert_eq!(
        app.invite(&app.admin_token, "pending@example.com", "analyst")
            .await
            .status(),
        StatusCode::CREATED
    );
    let team: Vec<Value> = app.get(&operator, "/team").await.json().await.unwrap();
    let pending = team
        .iter()
        .find(|u| u["email"] == "pending@example.com")
        .unwrap();
    assert_eq!(pending["status"], "invited");
    assert_eq!(team.iter().filter(|u| u["status"] == "active").count(), 3);

    let promoted = app
        .send_json(
            Method::PATCH,
            &app.admin_token,
            &format!("/team/{marketer_id}"),
            json!({ "role": "admin" }),
        )
        .await;
    assert_eq!(promoted.status(), StatusCode::OK);
    assert_eq!(promoted.json::<Value>().await.unwrap()["role"], "admin");
}

#[tokio::test]
async fn malformed_and_duplicate_invitations_change_nothing() {
    let (app, mut sink) = spawn_app().await;
    for bad in [
        "",
        "not-an-email",
        "a@",
        "two@example.com three@example.com",
    ] {
        let response = app.invite(&app.admin_token, bad, "operator").await;
        assert_eq!(
            expect_error(response, StatusCode::UNPROCESSABLE_ENTITY).await,
            "invalid_email",
            "{bad:?}"
        );
    }
    let response = app
        .invite(&app.admin_token, "ok@example.com", "superuser")
        .await;
    assert_eq!(
        expect_error(response, StatusCode::UNPROCESSABLE_ENTITY).await,
        "invalid_role"
    );
    let team: Vec<Value> = app
        .get(&app.admin_token, "/team")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(team.len(), 1, "nothing was added");
    sink.assert_quiet(std::time::Duration::from_millis(300))
        .await;

    assert_eq!(
        app.invite(&app.admin_token, "ok@example.com", "operator")
            .await
            .status(),
        StatusCode::CREATED
    );
    sink.next().await;
    let again = app
        .invite(&app.admin_token, "OK@example.com", "analyst")
        .await;
    assert_eq!(
        expect_error(again, StatusCode::CONFLICT).await,
        "already_member"
    );
    let admin_again = app.invite(&app.admin_token, ADMIN_EMAIL, "operator").await;
    assert_eq!(admin_again.status(), StatusCode::CONFLICT);
    sink.assert_quiet(std::time::Duration::from_millis(300))
        .await;
}

#[tokio::test]
async fn a_removed_colleague_is_locked_out_at_once_and_can_be_invited_again() {
    let (app, mut sink) = spawn_app().await;
    let (id, token) = app
        .onboard(&mut sink, "leaver@example.com", "operator")
        .await;
    assert_eq!(app.get(&token, "/me").await.status(), StatusCode::OK);

    let removed = app
        .http
        .delete(app.api(&format!("/team/{id}")))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        expect_error(app.get(&token, "/me").await, StatusCode::UNAUTHORIZED).await,
        "unauthorized"
    );
    assert_eq!(
        app.login("leaver@example.com", "leaver@example.com-own-pw")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let team: Vec<Value> = app
        .get(&app.admin_token, "/team")
        .await
        .json()
        .await
        .unwrap();
    assert!(team.iter().all(|u| u["id"] != id));

    // The same person may come back later, with a fresh emailed password.
    assert_eq!(
        app.invite(&app.admin_token, "leaver@example.com", "analyst")
            .await
            .status(),
        StatusCode::CREATED
    );
    let password = sink.next().await.field("Password");
    let back = app.login_ok("leaver@example.com", &password).await;
    let me: Value = app.get(&back, "/me").await.json().await.unwrap();
    assert_eq!(
        (me["id"].as_i64(), me["role"].as_str()),
        (Some(id), Some("analyst"))
    );
}

#[tokio::test]
async fn the_last_admin_cannot_be_removed_or_demoted() {
    let (app, _sink) = spawn_app().await;
    let me: Value = app.get(&app.admin_token, "/me").await.json().await.unwrap();
    let id = me["id"].as_i64().unwrap();
    let demote = app
        .send_json(
            Method::PATCH,
            &app.admin_token,
            &format!("/team/{id}"),
            json!({ "role": "operator" }),
        )
        .await;
    assert_eq!(
        expect_error(demote, StatusCode::CONFLICT).await,
        "last_admin"
    );
    let remove = app
        .http
        .delete(app.api(&format!("/team/{id}")))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(remove.status(), StatusCode::CONFLICT);
    assert_eq!(
        app.get(&app.admin_token, "/me").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn resending_an_invitation_replaces_the_password() {
    let (app, mut sink) = spawn_app().await;
    let invited: Value = app
        .invite(&app.admin_token, "slow@example.com", "operator")
        .await
        .json()
        .await
        .unwrap();
    let first = sink.next().await.field("Password");
    let id = invited["id"].as_i64().unwrap();
    let resent = app
        .http
        .post(app.api(&format!("/team/{id}/invitation")))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resent.status(), StatusCode::NO_CONTENT);
    let second = sink.next().await.field("Password");
    assert_ne!(first, second);
    assert_eq!(
        app.login("slow@example.com", &first).await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.login_ok("slow@example.com", &second).await;
}

#[tokio::test]
async fn admins_set_the_notification_defaults_new_colleagues_start_with() {
    let (app, mut sink) = spawn_app().await;
    let set = app
        .send_json(
            Method::PUT,
            &app.admin_token,
            "/team/defaults",
            json!({ "notifications": { "sound": false, "email": true } }),
        )
        .await;
    assert_eq!(set.status(), StatusCode::OK);
    let invited: Value = app
        .invite(&app.admin_token, "quiet@example.com", "operator")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        invited["notifications"],
        json!({ "sound": false, "email": true })
    );
    sink.next().await;
    let (_, operator) = app.onboard(&mut sink, "loud@example.com", "operator").await;
    let denied = app
        .send_json(
            Method::PUT,
            &operator,
            "/team/defaults",
            json!({ "notifications": { "sound": true, "email": true } }),
        )
        .await;
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
}
