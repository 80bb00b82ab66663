//! The HTTP surface: one module per area, wired here.

pub mod auth;
pub mod me;
pub mod pages;
pub mod team;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, patch, post, put};
use axum::Router;
use tower_http::trace::TraceLayer;

use crate::openapi;
use crate::state::SharedState;

/// JSON bodies are small; the avatar route reads its own body with its own limit.
const JSON_BODY_LIMIT: usize = 64 * 1024;

pub fn router(state: SharedState) -> Router {
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
        .fallback(|| async { crate::error::ApiError::not_found("endpoint") });

    Router::new()
        .nest("/api/v1", api)
        .route("/api/openapi.json", get(openapi::serve))
        .route("/healthz", get(pages::healthz))
        .route("/cabinet", get(pages::cabinet))
        .route("/avatars/{file}", get(pages::avatar_file))
        .route("/dev/mailbox", get(pages::mailbox))
        .route("/dev/mailbox/{file}", get(pages::mailbox_file))
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
