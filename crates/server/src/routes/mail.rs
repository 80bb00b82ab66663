//! `/api/v1/mail/dns`: Settings → Mail, the records `mail dns` prints.

use axum::extract::State;
use switchboard_protocol::{DnsCheck, MailDns};

use crate::auth::CurrentUser;
use crate::error::ApiResult;
use crate::json::Json;
use crate::mail::dkim;
use crate::state::SharedState;

#[utoipa::path(get, path = "/api/v1/mail/dns", tag = "mail",
    responses((status = 200, body = MailDns, description = "the DNS records to publish: DKIM keys, SPF, DMARC, MX"),
              (status = 403, body = switchboard_protocol::ErrorBody)),
    security(("bearer" = [])))]
pub async fn dns(State(state): State<SharedState>, me: CurrentUser) -> ApiResult<Json<MailDns>> {
    me.require_admin()?;
    Ok(Json(dkim::mail_dns(&state.db, &state.config).await?))
}

#[utoipa::path(get, path = "/api/v1/mail/dns/check", tag = "mail",
    responses((status = 200, body = DnsCheck, description = "what DNS answers for each record: ok, missing, different or error"),
              (status = 403, body = switchboard_protocol::ErrorBody)),
    security(("bearer" = [])))]
pub async fn check(State(state): State<SharedState>, me: CurrentUser) -> ApiResult<Json<DnsCheck>> {
    me.require_admin()?;
    let records = dkim::mail_dns(&state.db, &state.config).await?.records;
    Ok(Json(
        crate::mail::dns_check::check(&state.mail_auth, records).await,
    ))
}
