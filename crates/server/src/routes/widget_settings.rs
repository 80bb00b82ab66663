//! `GET`/`PUT /api/v1/widget-settings`: the widget's look, texts and greetings.

use axum::extract::State;
use switchboard_protocol::WidgetSettings;

use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::json::Json;
use crate::services::widget_settings as service;
use crate::state::SharedState;

#[utoipa::path(get, path = "/api/v1/widget-settings", tag = "widget settings",
    responses((status = 200, body = WidgetSettings, description = "the widget as visitors see it (defaults until someone saves)")),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<SharedState>,
    _me: CurrentUser,
) -> ApiResult<Json<WidgetSettings>> {
    Ok(Json(service::load(&state.db).await?))
}

#[utoipa::path(put, path = "/api/v1/widget-settings", tag = "widget settings", request_body = WidgetSettings,
    description = "Replaces the settings. New greetings (`id` null, or an id the server does not know) get an id; \
ids are never reused. Every open widget applies the change at once (a `widget` frame on its stream), and \
operators' streams get `widget.updated`.",
    responses((status = 200, body = WidgetSettings, description = "saved, as stored (texts trimmed, ids given)"),
              (status = 403, description = "`forbidden`: only admins and marketers edit the widget"),
              (status = 422, description = "`invalid_color`, `invalid_title`, `invalid_welcome`, `invalid_away_text`, `invalid_faces`, \
`unknown_colleague` (a face or a greeting's sender who does not answer visitors), `too_many_greetings`, `invalid_url_pattern`, \
`invalid_delay`, `invalid_cap` or `invalid_greeting`; nothing is saved")),
    security(("bearer" = [])))]
pub async fn put(
    State(state): State<SharedState>,
    me: CurrentUser,
    Json(body): Json<WidgetSettings>,
) -> ApiResult<Json<WidgetSettings>> {
    Ok(Json(service::save(&state, &me, body).await?))
}
