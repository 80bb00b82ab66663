//! The OpenAPI 3 document, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::json::Json;
use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "Switchboard API", version = "1", description = "The contract between the Switchboard server, the desktop app, the widget and integrations."),
    paths(
        routes::pages::healthz, routes::pages::mailbox,
        routes::auth::login, routes::auth::logout,
        routes::me::get_me, routes::me::patch_me, routes::me::put_password, routes::me::put_avatar,
        routes::me::delete_avatar, routes::me::put_notifications, routes::me::put_presence,
        routes::team::list, routes::team::invite, routes::team::resend, routes::team::change_role,
        routes::team::remove, routes::team::get_defaults, routes::team::put_defaults,
        routes::conversations::list, routes::conversations::get, routes::conversations::patch,
        routes::conversations::messages, routes::conversations::post_message, routes::conversations::read,
        routes::widget::session, routes::widget::history, routes::widget::post_message, routes::widget::contact,
        routes::widget::read, routes::inbound::receive, routes::mail::dns, routes::mail::check,
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "ingress",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("--ingress-secret"))
                    .build(),
            ),
        );
    }
}

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
