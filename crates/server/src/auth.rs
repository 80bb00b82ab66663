//! Who is calling: the bearer-token extractor and role checks.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use switchboard_protocol::Role;

use crate::error::ApiError;
use crate::state::SharedState;
use crate::store::users::{AccountStatus, UserRecord};
use crate::store::{sessions, users};

/// A signed-in team member, with the token they used.
pub struct CurrentUser {
    pub user: UserRecord,
    pub token: String,
}

impl CurrentUser {
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.user.role.manages_team() {
            Ok(())
        } else {
            Err(ApiError::forbidden("only admins manage the team"))
        }
    }

    pub fn require_answering(&self) -> Result<(), ApiError> {
        require_answering(&self.user)
    }

    pub fn role(&self) -> Role {
        self.user.role
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

/// The user a token belongs to, if the token is live and the member not removed.
pub async fn authenticate(state: &SharedState, token: &str) -> Result<CurrentUser, ApiError> {
    let user_id = sessions::user_of(&state.db, token)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the token is not valid (signed out or removed)"))?;
    let user = users::by_id(&state.db, user_id)
        .await?
        .filter(|u| u.status != AccountStatus::Removed)
        .ok_or_else(|| ApiError::unauthorized("the account no longer exists"))?;
    Ok(CurrentUser {
        user,
        token: token.to_string(),
    })
}

impl FromRequestParts<SharedState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts)
            .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <token>"))?
            .to_string();
        authenticate(state, &token).await
    }
}
