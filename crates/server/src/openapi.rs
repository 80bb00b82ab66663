//! The OpenAPI 3 document: generated from the handlers' annotations, then
//! completed with the answers every operation shares (see [`complete`]).
//!
//! The handlers' annotations say what is particular to an operation (its
//! bodies, the errors only it gives); the rules here add what follows from its
//! shape, so that no status a client can meet is missing from the document:
//! a JSON body can be malformed (400), too large (413), of another type (415)
//! or of the wrong shape (422); a path or query parameter can be malformed
//! (400); a path names something that may not exist (404); a secured operation
//! can be refused (401, and 403 for a member); any operation that reaches
//! the database can find it busy or gone (503), and any write a full disk (507). `schemathesis --checks all`
//! (tests/fuzz/schemathesis.sh) holds the server to the result.

use std::sync::OnceLock;

use serde_json::{json, Map, Value};
use utoipa::OpenApi;

use crate::json::Json;
use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchboard API",
        version = "1",
        description = "The contract between the Switchboard server, the desktop app, the widget and integrations.\n\nEvery error is `{\"error\": {\"code\", \"message\"}}` with a fitting status; `code` is stable and meant for programs, `message` for people. Answers 429 and 503 carry `Retry-After` (seconds)."
    ),
    paths(
        routes::pages::healthz,
        routes::pages::mailbox,
        routes::pages::avatar_file,
        routes::files::original,
        routes::files::thumbnail,
        routes::files::visitor_upload,
        routes::files::colleague_upload,
        routes::files::usage,
        routes::search::search,
        routes::reports::report,
        routes::conversations::visitor,
        routes::widget::pageview,
        routes::widget::greeting_shown,
        routes::widget_settings::get,
        routes::widget_settings::put,
        routes::auth::login,
        routes::auth::logout,
        routes::me::get_me,
        routes::me::patch_me,
        routes::me::put_password,
        routes::me::put_avatar,
        routes::me::delete_avatar,
        routes::me::put_notifications,
        routes::me::put_presence,
        routes::team::list,
        routes::team::invite,
        routes::team::resend,
        routes::team::change_role,
        routes::team::remove,
        routes::team::get_defaults,
        routes::team::put_defaults,
        routes::conversations::list,
        routes::conversations::get,
        routes::conversations::patch,
        routes::conversations::messages,
        routes::conversations::post_message,
        routes::conversations::read,
        routes::widget::session,
        routes::widget::history,
        routes::widget::post_message,
        routes::widget::contact,
        routes::widget::read,
        routes::inbound::receive,
        routes::mail::dns,
        routes::mail::check,
        routes::stream::operator_stream,
        routes::stream::visitor_stream,
    ),
    components(schemas(
        switchboard_protocol::ErrorBody,
        switchboard_protocol::StreamFrame,
        switchboard_protocol::ClientFrame
    ))
)]
pub struct ApiDoc;

/// The shared error answers: status, component name, description, an example code.
const ERRORS: [(&str, &str, &str, &str); 11] = [
    ("400", "BadRequest", "The request is malformed: a body that is not JSON (`malformed_json`), a path segment or query parameter of the wrong type (`invalid_path`, `invalid_query`).", "malformed_json"),
    ("401", "Unauthorized", "No valid credentials: a missing, unknown, expired or ended token (`unauthorized`, `session_expired`, `password_expired`).", "unauthorized"),
    ("403", "Forbidden", "Signed in, but not allowed: the role lacks the right (`forbidden`), or the password sent by email must be changed first (`password_change_required`).", "forbidden"),
    ("404", "NotFound", "Nothing of that id, or nothing this member may see (`not_found`).", "not_found"),
    ("409", "Conflict", "The request contradicts what is stored (the operation's own code says what).", "client_id_reused"),
    ("413", "PayloadTooLarge", "The body is larger than this operation takes (`payload_too_large`).", "payload_too_large"),
    ("415", "UnsupportedMediaType", "The body's Content-Type is not one this operation takes (`unsupported_media_type`).", "unsupported_media_type"),
    ("422", "Unprocessable", "Well-formed, but the values are not acceptable (`invalid_fields` for a wrong shape, or the operation's own code).", "invalid_fields"),
    ("429", "TooManyRequests", "A rate limit was reached (`too_many_requests`); try again after `Retry-After` seconds.", "too_many_requests"),
    ("503", "Unavailable", "The server cannot take this now: its write queue is full (`overloaded`) or the database does not answer within 3 s (`database_unavailable`); nothing was saved, try again after `Retry-After` seconds.", "overloaded"),
    ("507", "InsufficientStorage", "The server's disk (or its database's) is full (`storage_full`): nothing was saved; the same request, sent again after `Retry-After` seconds, is taken once space is back.", "storage_full"),
];

/// Operations a member may call before changing an emailed password.
const ALLOWED_BEFORE_PASSWORD_CHANGE: [(&str, &str); 4] = [
    ("get", "/api/v1/me"),
    ("patch", "/api/v1/me"),
    ("put", "/api/v1/me/password"),
    ("post", "/api/v1/auth/logout"),
];

const METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

/// The complete document, built once.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the document serializes");
        complete(&mut doc);
        doc
    })
}

pub async fn serve() -> Json<&'static Value> {
    Json(document())
}

fn complete(doc: &mut Value) {
    message_text_or_files(&mut doc["components"]["schemas"]["NewMessage"]);
    let components = doc["components"].as_object_mut().expect("components");
    components.insert("securitySchemes".into(), security_schemes());
    let responses = components
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("responses");
    for (status, name, description, code) in ERRORS {
        responses.insert(name.into(), error_response(status, description, code));
    }

    let paths = doc["paths"].as_object_mut().expect("paths");
    for (path, item) in paths.iter_mut() {
        for method in METHODS {
            if let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) {
                complete_operation(method, path, op);
            }
        }
    }
}

/// A message has text, or files, or both: the body's "not only spaces"
/// pattern applies unless at least one attachment is named. Attachment ids
/// are positive and named once.
fn message_text_or_files(schema: &mut Value) {
    if let Some(files) = schema["properties"]["attachments"].as_object_mut() {
        files.insert("uniqueItems".into(), json!(true));
        files.insert(
            "items".into(),
            json!({"type": "integer", "format": "int64", "minimum": 1}),
        );
    }
    let Some(body) = schema["properties"]["body"].as_object_mut() else {
        return;
    };
    let Some(pattern) = body.remove("pattern") else {
        return;
    };
    schema["anyOf"] = json!([
        {"properties": {"body": {"pattern": pattern}}},
        {"required": ["attachments"], "properties": {"attachments": {"minItems": 1}}}
    ]);
}

fn security_schemes() -> Value {
    json!({
        "bearer": {
            "type": "http", "scheme": "bearer",
            "description": "A member's token from `POST /api/v1/auth/login`, as `Authorization: Bearer <token>`. The operator stream also takes it as `?token=` (browsers cannot set headers on a websocket)."
        },
        "visitor": {
            "type": "apiKey", "in": "header", "name": "X-Visitor-Token",
            "description": "A visitor's token from `POST /api/v1/widget/session`. The visitor stream takes it as `?visitor_token=`."
        },
        "ingress": {
            "type": "http", "scheme": "bearer",
            "description": "The server's `--ingress-secret`, for a mail gateway posting raw email."
        }
    })
}

fn error_response(status: &str, description: &str, code: &str) -> Value {
    let mut response = json!({
        "description": description,
        "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/ErrorBody"},
            "example": {"error": {"code": code, "message": example_message(code)}}
        }}
    });
    if status == "429" || status == "503" {
        response["headers"] = json!({"Retry-After": {
            "description": "Seconds to wait before trying again.",
            "schema": {"type": "integer", "minimum": 1}
        }});
    }
    response
}

fn example_message(code: &str) -> &'static str {
    match code {
        "client_id_reused" => "this client_id was used for another conversation",
        "last_admin" => "the team needs at least one admin",
        "already_member" => "anna@example.com is already on the team",
        "already_active" => "this colleague has already set their own password",
        "empty_body" => "the message is empty",
        "invalid_email" => "\"anna@\" is not an email address",
        "malformed_json" => {
            "Failed to parse the request body as JSON: expected value at line 1 column 1"
        }
        "unauthorized" => "missing or invalid bearer token",
        "forbidden" => "admins only",
        "not_found" => "conversation not found",
        "payload_too_large" => "request body is too large",
        "unsupported_media_type" => "expected Content-Type: application/json",
        "invalid_fields" => "missing field `body`",
        "too_many_requests" => "too many messages; try again in a few seconds",
        "overloaded" => "the server is busy; try again shortly",
        "storage_full" => "the server cannot store anything now (its disk is full); nothing was saved, try again later",
        _ => "see the description of this answer",
    }
}

/// What an operation's shape implies, added where its annotation is silent.
fn complete_operation(method: &str, path: &str, op: &mut Map<String, Value>) {
    let params: Vec<String> = op
        .get("parameters")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .filter_map(|p| p["in"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let has_path_params = params.iter().any(|p| p == "path");
    let has_query_params = params.iter().any(|p| p == "query");
    let body_types: Vec<String> = op
        .get("requestBody")
        .and_then(|b| b["content"].as_object())
        .map(|c| c.keys().cloned().collect())
        .unwrap_or_default();
    let json_body = body_types.iter().any(|t| t == "application/json");
    let schemes: Vec<String> = op
        .get("security")
        .and_then(Value::as_array)
        .map(|reqs| {
            reqs.iter()
                .filter_map(Value::as_object)
                .flat_map(|r| r.keys().cloned())
                .collect()
        })
        .unwrap_or_default();
    let member = schemes.iter().any(|s| s == "bearer");
    let api = path.starts_with("/api/");

    let mut implied: Vec<&str> = Vec::new();
    if json_body || has_path_params || has_query_params {
        implied.push("400");
    }
    if !schemes.is_empty() {
        implied.push("401");
    }
    if member && !ALLOWED_BEFORE_PASSWORD_CHANGE.contains(&(method, path)) {
        implied.push("403");
    }
    if has_path_params {
        implied.push("404");
    }
    if !body_types.is_empty() {
        implied.push("413");
    }
    if json_body {
        implied.push("415");
    }
    if json_body || has_query_params {
        implied.push("422");
    }
    if api {
        implied.push("503");
    }
    if api && method != "get" {
        implied.push("507");
    }

    let responses = op
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("responses");
    for status in implied {
        responses.entry(status).or_insert(Value::Null);
    }
    // Every error answer has the error schema; the annotation's description,
    // when it has one, says what is particular to this operation.
    for (status, response) in responses.iter_mut() {
        let Some(&(_, name, _, shared_code)) = ERRORS.iter().find(|(s, ..)| s == status) else {
            continue;
        };
        let own = response["description"].as_str().unwrap_or("").to_string();
        *response = if own.is_empty() {
            json!({"$ref": format!("#/components/responses/{name}")})
        } else {
            // The example shows the operation's own code: the first `code` its
            // description names.
            let code = own.split('`').nth(1).unwrap_or(shared_code);
            let mut r = error_response(status, &own, code);
            r["description"] = Value::String(own);
            r
        };
    }
}
