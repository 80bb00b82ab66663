//! Settings → Administrators: inviting, re-inviting, roles and removal.

use lettre::message::Mailbox;
use switchboard_protocol::{event, NotificationSettings, Role, TeamDefaults, User};

use crate::auth::CurrentUser;
use crate::db::{now_ms, LockKey};
use crate::domain::email::EmailAddress;
use crate::domain::password;
use crate::error::{ApiError, ApiResult};
use crate::mail::compose::Outgoing;
use crate::mail::invitation::{self, Invitation};
use crate::services::accounts::hash_password;
use crate::state::SharedState;
use crate::store::users::{self, AccountStatus, NewUser, UserRecord};
use crate::store::{events, outbox, sessions, settings};

/// An emailed password works this long, until its owner sets their own.
pub const TEMPORARY_PASSWORD_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

pub fn parse_role(role: &str) -> ApiResult<Role> {
    Role::parse(role.trim()).ok_or_else(|| {
        ApiError::unprocessable(
            "invalid_role",
            format!("{role:?} is not a role: use admin, operator, marketer or analyst"),
        )
    })
}

pub async fn defaults(state: &SharedState) -> ApiResult<TeamDefaults> {
    Ok(settings::get(&state.db, settings::TEAM_DEFAULTS)
        .await?
        .unwrap_or(TeamDefaults {
            notifications: NotificationSettings {
                sound: true,
                email: true,
            },
        }))
}

pub async fn invite(
    state: &SharedState,
    admin: &CurrentUser,
    email: &str,
    role: &str,
) -> ApiResult<User> {
    admin.require_admin()?;
    let email =
        EmailAddress::parse(email).map_err(|m| ApiError::unprocessable("invalid_email", m))?;
    let role = parse_role(role)?;
    let existing = users::by_email(&state.db, &email).await?;
    if existing
        .as_ref()
        .is_some_and(|u| u.status != AccountStatus::Removed)
    {
        return Err(ApiError::conflict(
            "already_member",
            format!("{email} is already on the team"),
        ));
    }
    let notifications = defaults(state).await?.notifications;
    let temporary = password::generate();
    let hash = hash_password(temporary.clone()).await?;
    let expires = now_ms() + TEMPORARY_PASSWORD_TTL_MS;

    let mut tx = state.db.begin_write_holding(&[LockKey::Team]).await?;
    let id = match existing {
        Some(removed) => {
            users::reinvite_removed(&mut tx.tx, removed.id, role, &hash, expires, notifications)
                .await?;
            removed.id
        }
        None => {
            users::insert(
                &mut tx.tx,
                NewUser {
                    email: &email,
                    name: "",
                    role,
                    status: AccountStatus::Invited,
                    password_hash: &hash,
                    must_change_password: true,
                    password_expires_at: Some(expires),
                    locale: &admin.user.locale,
                    notifications,
                    invited_by: Some(admin.user.id),
                },
            )
            .await
            .map_err(|e| match e {
                // Two admins inviting the same email at the same moment.
                sqlx::Error::Database(db) if db.is_unique_violation() => {
                    ApiError::conflict("already_member", format!("{email} is already on the team"))
                }
                other => other.into(),
            })?
        }
    };
    enqueue_invitation(state, &mut tx.tx, admin, email.as_str(), role, &temporary).await?;
    events::append(
        &mut tx.tx,
        event::TEAM_UPDATED,
        None,
        &serde_json::json!({ "user_id": id }),
    )
    .await?;
    tx.commit().await?;
    state.outbox_wake.notify_one();
    state.hub.wake();
    tracing::info!(user_id = id, role = role.as_str(), "invited a colleague");
    let user = users::by_id(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    Ok(state.user_view(&user))
}

/// A new password, emailed again; the old emailed one stops working.
pub async fn resend(state: &SharedState, admin: &CurrentUser, user_id: i64) -> ApiResult<()> {
    admin.require_admin()?;
    let user = member(state, user_id).await?;
    if user.status != AccountStatus::Invited {
        return Err(ApiError::conflict(
            "already_active",
            "this colleague has already set their own password",
        ));
    }
    let temporary = password::generate();
    let hash = hash_password(temporary.clone()).await?;
    let mut tx = state.db.begin_write_holding(&[LockKey::Team]).await?;
    users::set_temporary_password(
        &mut tx.tx,
        user.id,
        &hash,
        now_ms() + TEMPORARY_PASSWORD_TTL_MS,
    )
    .await?;
    sessions::revoke_all_of(&mut tx.tx, user.id).await?;
    events::announce_session_ended(&mut tx.tx, user.id).await?;
    enqueue_invitation(state, &mut tx.tx, admin, &user.email, user.role, &temporary).await?;
    tx.commit().await?;
    state.outbox_wake.notify_one();
    state.hub.wake();
    Ok(())
}

pub async fn change_role(
    state: &SharedState,
    admin: &CurrentUser,
    user_id: i64,
    role: &str,
) -> ApiResult<User> {
    admin.require_admin()?;
    let role = parse_role(role)?;
    let user = member(state, user_id).await?;
    let mut tx = state.db.begin_write_holding(&[LockKey::Team]).await?;
    if is_active_admin(&user)
        && role != Role::Admin
        && users::count_active_admins(&mut tx.tx).await? <= 1
    {
        return Err(ApiError::conflict(
            "last_admin",
            "the team needs at least one admin",
        ));
    }
    users::set_role(&mut tx.tx, user.id, role).await?;
    events::append(
        &mut tx.tx,
        event::TEAM_UPDATED,
        None,
        &serde_json::json!({ "user_id": user.id }),
    )
    .await?;
    tx.commit().await?;
    state.hub.wake();
    let user = member(state, user_id).await?;
    Ok(state.user_view(&user))
}

/// Removes a colleague: their tokens stop working at once; the row stays so their
/// past messages keep their name.
pub async fn remove(state: &SharedState, admin: &CurrentUser, user_id: i64) -> ApiResult<()> {
    admin.require_admin()?;
    let user = member(state, user_id).await?;
    let mut tx = state.db.begin_write_holding(&[LockKey::Team]).await?;
    if is_active_admin(&user) && users::count_active_admins(&mut tx.tx).await? <= 1 {
        return Err(ApiError::conflict(
            "last_admin",
            "the team needs at least one admin",
        ));
    }
    users::mark_removed(&mut tx.tx, user.id).await?;
    sessions::revoke_all_of(&mut tx.tx, user.id).await?;
    events::append(
        &mut tx.tx,
        event::TEAM_UPDATED,
        None,
        &serde_json::json!({ "user_id": user.id, "removed": true }),
    )
    .await?;
    tx.commit().await?;
    state.hub.wake();
    Ok(())
}

/// The last-admin guard counts these: at least one must always remain.
fn is_active_admin(user: &UserRecord) -> bool {
    user.role == Role::Admin && user.status == AccountStatus::Active
}

async fn member(state: &SharedState, user_id: i64) -> ApiResult<UserRecord> {
    users::by_id(&state.db, user_id)
        .await?
        .filter(|u| u.status != AccountStatus::Removed)
        .ok_or_else(|| ApiError::not_found("team member"))
}

async fn enqueue_invitation(
    state: &SharedState,
    conn: &mut sqlx::AnyConnection,
    admin: &CurrentUser,
    email: &str,
    role: Role,
    temporary_password: &str,
) -> ApiResult<()> {
    let cabinet_url = state.cabinet_url();
    let rendered = invitation::render(&Invitation {
        locale: &admin.user.locale,
        inviter_name: if admin.user.name.is_empty() {
            &admin.user.email
        } else {
            &admin.user.name
        },
        login: email,
        password: temporary_password,
        cabinet_url: &cabinet_url,
        role: role.as_str(),
    });
    let to: Mailbox = email.parse().map_err(ApiError::internal)?;
    let subject = rendered.subject.clone();
    let bytes = Outgoing::new(
        state.mail_from.clone(),
        to,
        rendered.subject,
        rendered.text,
        rendered.html,
    )
    .render()?;
    outbox::enqueue(
        conn,
        state.mail_from.email.as_ref(),
        email,
        &subject,
        &bytes,
    )
    .await?;
    Ok(())
}
