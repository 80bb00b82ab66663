//! Roles, enforced (issue 13): every endpoint of a colleague, called as every
//! role, answers 2xx where `Role::may` (the one table) allows it and 403
//! where it does not.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use switchboard_protocol::{Permission, Role};

use crate::helpers::*;

/// Who may call an endpoint: every colleague, or those with a permission.
#[derive(Clone, Copy, Debug)]
enum Need {
    Everyone,
    Only(Permission),
}

enum Body {
    None,
    Json(Value),
    Bytes(&'static str, Vec<u8>),
}

struct Call {
    method: Method,
    path: String,
    body: Body,
    need: Need,
}

fn call(method: Method, path: impl Into<String>, body: Body, need: Need) -> Call {
    Call {
        method,
        path: path.into(),
        body,
        need,
    }
}

#[tokio::test]
async fn every_endpoint_answers_each_role_as_the_role_table_says() {
    let (app, mut sink) = spawn_app().await;
    let mut members = Vec::new();
    for role in [Role::Operator, Role::Marketer, Role::Analyst] {
        let email = format!("{}@example.com", role.as_str());
        let (_, token) = app.onboard(&mut sink, &email, role.as_str()).await;
        members.push((role, token));
    }
    // The admin goes last, so that what an admin changes (a removal) comes
    // after every refusal.
    members.push((Role::Admin, app.admin_token.clone()));

    // Each member is told what their role may do, so the app shows only that.
    for (role, token) in &members {
        let me = app.get_json(token, "/me").await;
        let expected: Vec<&str> = role.permissions().iter().map(|p| p.as_str()).collect();
        assert_eq!(me["permissions"], json!(expected), "{}", role.as_str());
    }

    let visitor = app.visitor().await;
    let first: Value = app
        .visitor_says(&visitor, "Hello", "v1")
        .await
        .json()
        .await
        .unwrap();
    let c = first["conversation_id"].as_i64().unwrap();
    let m = first["id"].as_i64().unwrap();
    let target: Value = app
        .invite(&app.admin_token, "target@example.com", "operator")
        .await
        .json()
        .await
        .unwrap();
    let t = target["id"].as_i64().unwrap();
    let defaults = app.get_json(&app.admin_token, "/team/defaults").await;
    let widget = app.get_json(&app.admin_token, "/widget-settings").await;

    use Need::*;
    use Permission::*;
    let calls = [
        call(Method::GET, "/me", Body::None, Everyone),
        call(
            Method::PATCH,
            "/me",
            Body::Json(json!({"locale": "en"})),
            Everyone,
        ),
        call(
            Method::PUT,
            "/me/notifications",
            Body::Json(json!({"sound": true, "email": true})),
            Everyone,
        ),
        call(
            Method::PUT,
            "/me/presence",
            Body::Json(json!({"presence": "online"})),
            Everyone,
        ),
        call(
            Method::PUT,
            "/me/avatar",
            Body::Bytes("image/png", crate::profile::noisy_png(2_000)),
            Everyone,
        ),
        call(Method::DELETE, "/me/avatar", Body::None, Everyone),
        call(Method::GET, "/team", Body::None, Everyone),
        call(Method::GET, "/team/defaults", Body::None, Everyone),
        call(
            Method::PUT,
            "/team/defaults",
            Body::Json(defaults.clone()),
            Only(ManageTeam),
        ),
        call(
            Method::POST,
            "/team/invitations",
            Body::Json(json!({"email": "new@example.com", "role": "operator"})),
            Only(ManageTeam),
        ),
        call(
            Method::POST,
            format!("/team/{t}/invitation"),
            Body::None,
            Only(ManageTeam),
        ),
        call(
            Method::PATCH,
            format!("/team/{t}"),
            Body::Json(json!({"role": "operator"})),
            Only(ManageTeam),
        ),
        call(Method::GET, "/mail/dns", Body::None, Only(ManageTeam)),
        call(
            Method::GET,
            "/attachments/usage",
            Body::None,
            Only(ManageTeam),
        ),
        call(Method::GET, "/conversations", Body::None, Everyone),
        call(
            Method::GET,
            format!("/conversations/{c}"),
            Body::None,
            Everyone,
        ),
        call(
            Method::GET,
            format!("/conversations/{c}/messages"),
            Body::None,
            Everyone,
        ),
        call(
            Method::POST,
            format!("/conversations/{c}/read"),
            Body::Json(json!({"message_id": m})),
            Everyone,
        ),
        call(Method::GET, "/search?q=hello", Body::None, Everyone),
        call(
            Method::GET,
            format!("/visitors/{}", visitor.id),
            Body::None,
            Everyone,
        ),
        call(Method::GET, "/widget-settings", Body::None, Everyone),
        call(
            Method::PUT,
            "/widget-settings",
            Body::Json(widget.clone()),
            Only(EditWidget),
        ),
        call(
            Method::PATCH,
            format!("/conversations/{c}"),
            Body::Json(json!({"status": "open"})),
            Only(Answer),
        ),
        call(
            Method::POST,
            format!("/conversations/{c}/messages"),
            Body::Json(json!({"body": "Hi", "client_id": "CLIENT"})),
            Only(Answer),
        ),
        call(
            Method::POST,
            "/attachments?name=a.txt",
            Body::Bytes("text/plain", b"a file".to_vec()),
            Only(Answer),
        ),
        call(
            Method::GET,
            "/reports?from=2026-11-01&to=2026-11-30",
            Body::None,
            Only(SeeReports),
        ),
        call(
            Method::DELETE,
            format!("/team/{t}"),
            Body::None,
            Only(ManageTeam),
        ),
    ];

    let mut table = Vec::new();
    for call in &calls {
        for (role, token) in &members {
            let allowed = match call.need {
                Everyone => true,
                Only(p) => role.may(p),
            };
            let mut request = app
                .http
                .request(call.method.clone(), app.api(&call.path))
                .bearer_auth(token);
            request = match &call.body {
                Body::None => request,
                Body::Json(v) => {
                    // Each send its own client_id; each invitation its own address.
                    let text = v
                        .to_string()
                        .replace("CLIENT", &format!("c-{}", role.as_str()))
                        .replace("new@", &format!("new-{}@", role.as_str()));
                    request
                        .header("content-type", "application/json")
                        .body(text)
                }
                Body::Bytes(content_type, bytes) => request
                    .header("content-type", *content_type)
                    .body(bytes.clone()),
            };
            let status = request.send().await.unwrap().status();
            let ok = if allowed {
                status.is_success()
            } else {
                status == StatusCode::FORBIDDEN
            };
            table.push(format!(
                "{:<7} {:<40} {:<9} {} {}",
                call.method.as_str(),
                call.path,
                role.as_str(),
                status.as_u16(),
                if ok { "" } else { "<-- wrong" }
            ));
        }
    }
    let wrong: Vec<&String> = table.iter().filter(|l| l.ends_with("<-- wrong")).collect();
    assert!(
        wrong.is_empty(),
        "answers that break the role table:\n{}",
        table.join("\n")
    );
}

#[test]
fn the_role_table() {
    use Permission::*;
    let may = |role: Role| role.permissions();
    assert_eq!(
        may(Role::Admin),
        vec![Answer, ManageTeam, EditWidget, SeeReports, Export]
    );
    assert_eq!(may(Role::Operator), vec![Answer]);
    assert_eq!(may(Role::Marketer), vec![EditWidget]);
    assert_eq!(may(Role::Analyst), vec![SeeReports, Export]);
}
