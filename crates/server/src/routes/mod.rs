//! The HTTP surface: one module per area, wired here.

pub mod auth;
pub mod conversations;
pub mod files;
pub mod inbound;
pub mod mail;
pub mod me;
pub mod pages;
pub mod reports;
pub mod search;
pub mod stream;
pub mod team;
pub mod widget;
pub mod widget_settings;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderName, Method};
use axum::routing::{get, patch, post, put};
use axum::Router;
use tower_http::cors::{Any, CorsLayer};
use tower_http::trace::TraceLayer;

use crate::state::SharedState;

/// JSON bodies are small; the avatar route reads its own body with its own limit.
const JSON_BODY_LIMIT: usize = 64 * 1024;

pub fn router(state: SharedState) -> Router {
    // The widget runs on customers' sites: any origin may call its endpoints.
    let widget_cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::OPTIONS])
        .allow_headers([
            header::CONTENT_TYPE,
            HeaderName::from_static("x-visitor-token"),
        ])
        .expose_headers([header::RETRY_AFTER]);
    let widget_api = Router::new()
        .route("/session", post(widget::session))
        .route("/messages", get(widget::history).post(widget::post_message))
        .route("/contact", put(widget::contact))
        .route("/read", post(widget::read))
        .route("/pageview", post(widget::pageview))
        .route("/greetings/{id}/shown", post(widget::greeting_shown))
        .route(
            "/attachments",
            post(files::visitor_upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/stream", get(stream::visitor_stream))
        .layer(widget_cors);

    let api = Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/me", get(me::get_me).patch(me::patch_me))
        .route("/me/password", put(me::put_password))
        .route("/me/avatar", put(me::put_avatar).delete(me::delete_avatar))
        .route("/me/notifications", put(me::put_notifications))
        .route("/me/presence", put(me::put_presence))
        .route("/team", get(team::list))
        .route(
            "/team/defaults",
            get(team::get_defaults).put(team::put_defaults),
        )
        .route("/team/invitations", post(team::invite))
        .route("/team/{user_id}/invitation", post(team::resend))
        .route(
            "/team/{user_id}",
            patch(team::change_role).delete(team::remove),
        )
        .route("/mail/dns", get(mail::dns))
        .route("/mail/dns/check", get(mail::check))
        .route("/conversations", get(conversations::list))
        .route(
            "/attachments",
            post(files::colleague_upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/attachments/usage", get(files::usage))
        .route("/search", get(search::search))
        .route("/reports", get(reports::report))
        .route(
            "/widget-settings",
            get(widget_settings::get).put(widget_settings::put),
        )
        .route("/visitors/{id}", get(conversations::visitor))
        .route(
            "/conversations/{id}",
            get(conversations::get).patch(conversations::patch),
        )
        .route(
            "/conversations/{id}/messages",
            get(conversations::messages).post(conversations::post_message),
        )
        .route("/conversations/{id}/read", post(conversations::read))
        .route("/stream", get(stream::operator_stream))
        .route(
            "/inbound/email",
            post(inbound::receive).layer(DefaultBodyLimit::disable()),
        )
        .nest("/widget", widget_api)
        .fallback(|| async { crate::error::ApiError::not_found("endpoint") });

    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(pages::healthz))
        .route("/cabinet", get(pages::cabinet))
        .route("/widget.js", get(widget::widget_js))
        .route("/demo", get(widget::demo))
        .route("/avatars/{file}", get(pages::avatar_file))
        .route("/files/{id}/{name}", get(files::original))
        .route("/thumbnails/{id}", get(files::thumbnail))
        .route("/dev/mailbox", get(pages::mailbox))
        .route("/dev/mailbox/{file}", get(pages::mailbox_file))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
