//! Who is calling: the bearer-token extractors and role checks.
//!
//! A token works while its session lives: not idle longer than the idle
//! expiry, not older than the absolute one, its member not removed, and — for a
//! member still on the emailed password — that password not expired. While
//! `must_change_password` is set, only `SignedIn` routes (the member's own
//! account, setting the password, signing out) accept the token; every other
//! answers 403 `password_change_required`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use switchboard_protocol::{Permission, Role};

use crate::db::now_ms;
use crate::error::ApiError;
use crate::state::SharedState;
use crate::store::users::{AccountStatus, UserRecord};
use crate::store::{sessions, users};

/// How often a session's `last_seen_at` is written (not at every request).
const TOUCH_EVERY_MS: i64 = 5 * 60 * 1000;

/// A signed-in team member who may use the whole API, with the token they used.
pub struct CurrentUser {
    pub user: UserRecord,
    pub token: String,
}

/// A signed-in member who may still have to change the emailed password: the
/// extractor of the few routes that stay open to them.
pub struct SignedIn(pub CurrentUser);

impl CurrentUser {
    /// Refuses (403) a member whose role lacks `permission` (`Role::may`).
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.user.role.may(permission) {
            return Ok(());
        }
        let role = self.user.role.as_str();
        Err(ApiError::forbidden(match permission {
            Permission::Answer => format!("a {role} reads dialogs but does not answer visitors"),
            Permission::ManageTeam => "only admins manage the team".to_string(),
            Permission::EditWidget => "only admins and marketers edit the widget".to_string(),
            Permission::SeeReports | Permission::Export => {
                "only admins and analysts see reports".to_string()
            }
        }))
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        self.require(Permission::ManageTeam)
    }

    pub fn require_answering(&self) -> Result<(), ApiError> {
        require_answering(&self.user)
    }

    pub fn role(&self) -> Role {
        self.user.role
    }

    /// Refuses a member who must first replace the emailed password.
    pub fn require_own_password(self) -> Result<CurrentUser, ApiError> {
        if self.user.must_change_password {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "password_change_required",
                "set your own password first (PUT /api/v1/me/password)",
            ))
        } else {
            Ok(self)
        }
    }
}

/// Admins and operators answer visitors; marketers and analysts read.
pub fn require_answering(user: &UserRecord) -> Result<(), ApiError> {
    if user.role.answers_visitors() {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "a {} reads dialogs but does not answer visitors",
            user.role.as_str()
        )))
    }
}

pub fn bearer_token(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn session_over(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, message)
}

/// The member a token belongs to, if its session is live.
pub async fn authenticate(state: &SharedState, token: &str) -> Result<CurrentUser, ApiError> {
    let session = sessions::find(&state.db, token)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the token is not valid (signed out or removed)"))?;
    let now = now_ms();
    let policy = state.config.sessions;
    let idle_for = now - session.last_seen_at;
    let age = now - session.created_at;
    if idle_for > policy.idle.as_millis() as i64 || age > policy.max_age.as_millis() as i64 {
        let mut conn = state.db.pool.acquire().await?;
        sessions::revoke(&mut conn, token).await?;
        return Err(session_over(
            "session_expired",
            "the session has expired; sign in again",
        ));
    }
    let user = users::by_id(&state.db, session.user_id)
        .await?
        .filter(|u| u.status != AccountStatus::Removed)
        .ok_or_else(|| ApiError::unauthorized("the account no longer exists"))?;
    if user.must_change_password && user.password_expires_at.is_some_and(|t| t < now) {
        return Err(session_over(
            "password_expired",
            "the emailed password has expired; ask an admin to send the invitation again",
        ));
    }
    if idle_for > TOUCH_EVERY_MS {
        sessions::touch(&state.db, token, now).await?;
    }
    Ok(CurrentUser {
        user,
        token: token.to_string(),
    })
}

async fn from_bearer(parts: &Parts, state: &SharedState) -> Result<CurrentUser, ApiError> {
    let token = bearer_token(parts)
        .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <token>"))?
        .to_string();
    authenticate(state, &token).await
}

impl FromRequestParts<SharedState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        from_bearer(parts, state).await?.require_own_password()
    }
}

impl FromRequestParts<SharedState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        Ok(SignedIn(from_bearer(parts, state).await?))
    }
}
