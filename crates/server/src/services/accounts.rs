//! Signing in and a member's own account.

use std::net::IpAddr;
use std::sync::LazyLock;
use std::time::Duration;

use switchboard_protocol::{LoginResponse, NotificationSettings, Role};
use tokio::sync::Semaphore;

use crate::auth::CurrentUser;
use crate::db::{now_ms, LockKey};
use crate::domain::email::EmailAddress;
use crate::domain::password;
use crate::error::{ApiError, ApiResult};
use crate::limits::AddressKey;
use crate::state::SharedState;
use crate::store::users::{self, AccountStatus, NewUser};
use crate::store::{events, sessions};

/// argon2 is slow and takes ~19 MiB per hash on purpose: at most one hash per
/// core runs at a time, so a burst of sign-ins queues instead of exhausting
/// the blocking pool and the memory.
static ARGON2_SLOTS: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())));
/// A sign-in that waits longer than this for a slot is told to come back.
const ARGON2_QUEUE_WAIT: Duration = Duration::from_secs(10);

async fn with_argon2<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    let _slot = tokio::time::timeout(ARGON2_QUEUE_WAIT, ARGON2_SLOTS.acquire())
        .await
        .map_err(|_| ApiError::unavailable(5, "too many sign-ins at once; try again"))?
        .map_err(ApiError::internal)?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ApiError::internal)
}

/// Hashes a new password off the async threads.
pub async fn hash_password(password: String) -> ApiResult<String> {
    with_argon2(move || password::hash(&password))
        .await?
        .map_err(ApiError::internal)
}

pub async fn verify_password(password: String, hash: String) -> ApiResult<bool> {
    with_argon2(move || password::verify(&password, &hash)).await
}

pub async fn login(
    state: &SharedState,
    email: &str,
    password: &str,
    client: IpAddr,
) -> ApiResult<LoginResponse> {
    let email_key = format!("email:{}", email.trim().to_lowercase());
    let client_key = format!("ip:{:?}", AddressKey::from(client));
    let keys = [email_key.as_str(), client_key.as_str()];
    // Counted before the hash is checked: parallel guesses cannot pass the limit.
    state.login_throttle.try_begin(&keys).map_err(|wait| {
        ApiError::too_many(
            wait,
            format!("too many failed sign-ins; try again in {wait} s"),
        )
    })?;
    let user = match EmailAddress::parse(email) {
        Ok(email) => users::by_email(&state.db, &email).await?,
        Err(_) => None,
    }
    .filter(|u| u.status != AccountStatus::Removed);
    // Spend the same time on unknown emails, so timing does not tell who exists.
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.clone());
    let valid = verify_password(password.to_string(), hash).await?;
    let Some(user) = user.filter(|_| valid) else {
        return Err(ApiError::unauthorized("wrong email or password"));
    };
    if user.password_expires_at.is_some_and(|t| t < now_ms()) {
        return Err(ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "password_expired",
            "the emailed password has expired; ask an admin to send the invitation again",
        ));
    }
    state
        .login_throttle
        .record_success(&email_key, &[client_key.as_str()]);
    let token = sessions::create(&state.db, user.id).await?;
    Ok(LoginResponse {
        token,
        user: state.user_view(&user),
    })
}

/// Ends the session of the token in use; a stream open with it closes (4401).
pub async fn logout(state: &SharedState, me: &CurrentUser) -> ApiResult<()> {
    let mut tx = state.db.begin_write().await?;
    sessions::revoke(&mut tx.tx, &me.token).await?;
    events::announce_session_ended(&mut tx.tx, me.user.id).await?;
    tx.commit().await?;
    state.hub.wake();
    Ok(())
}

static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(password::unusable_hash);

pub async fn change_password(
    state: &SharedState,
    user_id: i64,
    token: &str,
    current: &str,
    new: &str,
) -> ApiResult<()> {
    let user = users::by_id(&state.db, user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    if !verify_password(current.to_string(), user.password_hash.clone()).await? {
        return Err(ApiError::unprocessable(
            "wrong_current_password",
            "the current password is wrong",
        ));
    }
    password::check_new(new).map_err(|m| ApiError::unprocessable("weak_password", m))?;
    if new == current {
        return Err(ApiError::unprocessable(
            "same_password",
            "choose a password different from the current one",
        ));
    }
    let hash = hash_password(new.to_string()).await?;
    let mut tx = state.db.begin_write().await?;
    users::set_own_password(&mut tx.tx, user_id, &hash).await?;
    // Anyone else holding a session of this account is signed out.
    sessions::revoke_others(&mut tx.tx, user_id, token).await?;
    let data = serde_json::json!({ "user_id": user_id });
    events::append(
        &mut tx.tx,
        switchboard_protocol::event::TEAM_UPDATED,
        None,
        &data,
    )
    .await?;
    tx.commit().await?;
    state.hub.wake();
    Ok(())
}

/// `switchboard-server admin create`: an active admin with a chosen password.
pub async fn create_admin(
    state: &SharedState,
    email: &str,
    password_text: &str,
    name: Option<&str>,
) -> anyhow::Result<i64> {
    let email = EmailAddress::parse(email).map_err(anyhow::Error::msg)?;
    password::check_new(password_text).map_err(anyhow::Error::msg)?;
    if users::by_email(&state.db, &email).await?.is_some() {
        anyhow::bail!("{email} is already taken");
    }
    let hash = password::hash(password_text)?;
    let mut tx = state.db.begin_write_holding(&[LockKey::Team]).await?;
    let id = users::insert(
        &mut tx.tx,
        NewUser {
            email: &email,
            name: name.unwrap_or(""),
            role: Role::Admin,
            status: AccountStatus::Active,
            password_hash: &hash,
            must_change_password: false,
            password_expires_at: None,
            locale: "en",
            notifications: NotificationSettings {
                sound: true,
                email: true,
            },
            invited_by: None,
        },
    )
    .await?;
    // The widget's "online" and faces follow the team from the log (also
    // when this runs in a command beside a running server).
    let data = serde_json::json!({ "user_id": id });
    events::append(
        &mut tx.tx,
        switchboard_protocol::event::TEAM_UPDATED,
        None,
        &data,
    )
    .await?;
    tx.commit().await?;
    state.hub.wake();
    Ok(id)
}
