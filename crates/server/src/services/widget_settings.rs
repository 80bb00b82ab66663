//! The widget's settings: stored as one document in `settings`, edited by
//! admins and marketers, and published to every visitor's widget — in the
//! session answer, and live on their streams when it changes.
//!
//! Each node keeps the public view ready in a watch channel: it is rebuilt
//! once per change (a `widget.updated` or `team.updated` event in the log,
//! whichever node wrote it), not once per visitor.

use serde_json::json;
use switchboard_protocol::{
    event, GreetingRule, PublicGreeting, PublicOperator, PublicWidget, WidgetSettings,
};

use crate::auth::CurrentUser;
use crate::db::{Db, LockKey};
use crate::domain::widget_settings::{self as rules, Invalid};
use crate::error::{ApiError, ApiResult};
use crate::state::SharedState;
use crate::store::settings::{self, NEXT_GREETING_ID, WIDGET_SETTINGS};
use crate::store::users::{self, AccountStatus, UserRecord};
use crate::store::{events, greetings};
use crate::widget_view::WidgetView;
use switchboard_protocol::Permission;

pub async fn load(db: &Db) -> anyhow::Result<WidgetSettings> {
    Ok(settings::get(db, WIDGET_SETTINGS)
        .await?
        .unwrap_or_default())
}

/// Reads the settings and the team and builds what visitors see.
pub async fn publish(
    db: &Db,
    avatar_url: impl Fn(Option<&str>) -> Option<String>,
) -> anyhow::Result<WidgetView> {
    let team = users::team(db).await?;
    let view = public_view(&load(db).await?, &team, &avatar_url);
    Ok(WidgetView::new(view, answering_now(&team)))
}

/// Rebuilds the public view whenever the hub sees the widget or the team
/// change (on any node); runs for the life of the server.
pub async fn follow_changes(state: SharedState) {
    let mut changes = state.hub.widget_changes();
    // A change between the view built at start and this subscription would
    // otherwise wait for the next one.
    if let Err(e) = rebuild(&state).await {
        tracing::warn!(error = %e, "widget: reloading the settings failed");
    }
    while changes.changed().await.is_ok() {
        // On failure the next change (or the next start) tries again.
        if let Err(e) = rebuild(&state).await {
            tracing::warn!(error = %e, "widget: reloading the settings failed");
        }
    }
}

async fn rebuild(state: &SharedState) -> anyhow::Result<()> {
    let team = users::team(&state.db).await?;
    let view = public_view(&load(&state.db).await?, &team, &|f| state.avatar_url(f));
    state.widget.replace(view, answering_now(&team));
    Ok(())
}

fn answers(u: &UserRecord) -> bool {
    u.status == AccountStatus::Active && u.role.answers_visitors()
}

/// Members who answer visitors and are not away (the widget's "online" asks
/// whether one of them has a live stream).
fn answering_now(team: &[UserRecord]) -> Vec<i64> {
    team.iter()
        .filter(|u| answers(u) && !u.away)
        .map(|u| u.id)
        .collect()
}

/// What a visitor's widget is told: faces in the chosen order (or everyone
/// who answers and has a name), the enabled greetings whose sender still
/// answers visitors.
pub fn public_view(
    s: &WidgetSettings,
    team: &[UserRecord],
    avatar_url: &impl Fn(Option<&str>) -> Option<String>,
) -> PublicWidget {
    let public = |u: &UserRecord| PublicOperator {
        name: u.name.clone(),
        avatar_url: avatar_url(u.avatar_file.as_deref()),
    };
    let member = |id: i64| team.iter().find(|u| u.id == id && answers(u));
    let operators = match &s.faces {
        Some(ids) => ids
            .iter()
            .filter_map(|id| member(*id))
            .map(public)
            .collect(),
        None => team
            .iter()
            .filter(|u| answers(u) && !u.name.is_empty())
            .map(public)
            .collect(),
    };
    let greetings = s
        .greetings
        .iter()
        .filter(|g| g.enabled)
        .filter_map(|g| {
            Some(PublicGreeting {
                id: g.id?,
                url_pattern: g.url_pattern.clone(),
                delay_seconds: g.delay_seconds,
                on_exit_intent: g.on_exit_intent,
                message: g.message.clone(),
                from: public(member(g.from_user_id)?),
                per_visitor_cap: g.per_visitor_cap,
            })
        })
        .collect();
    PublicWidget {
        color: s.color.clone(),
        title: s.title.clone(),
        welcome: s.welcome.clone(),
        away_text: s.away_text.clone(),
        position: s.position,
        language: s.language,
        email_prompt: s.email_prompt,
        operators,
        greetings,
    }
}

/// Saves new settings (admins and marketers): checked, greetings numbered,
/// announced to every node in the same transaction.
pub async fn save(
    state: &SharedState,
    me: &CurrentUser,
    new: WidgetSettings,
) -> ApiResult<WidgetSettings> {
    me.require(Permission::EditWidget)?;
    let team = users::team(&state.db).await?;
    let mut tx = state
        .db
        .begin_write_holding(&[LockKey::WidgetSettings])
        .await?;
    let current = settings::get_in(&mut tx.tx, WIDGET_SETTINGS)
        .await?
        .unwrap_or_default();
    let mut next_id: i64 = settings::get_in(&mut tx.tx, NEXT_GREETING_ID)
        .await?
        .unwrap_or(1);
    let first_id = next_id;
    let saved = rules::validate(
        new,
        &current,
        |id| team.iter().any(|u| u.id == id && answers(u)),
        || {
            next_id += 1;
            next_id - 1
        },
    )
    .map_err(|Invalid { code, message }| ApiError::unprocessable(code, message))?;
    settings::put(&mut *tx.tx, WIDGET_SETTINGS, &saved).await?;
    if next_id != first_id {
        settings::put(&mut *tx.tx, NEXT_GREETING_ID, &next_id).await?;
    }
    events::append(&mut tx.tx, event::WIDGET_UPDATED, None, &json!(saved)).await?;
    tx.commit().await?;
    state.hub.wake();
    // This node's widgets need not wait for the event to come round.
    if let Err(e) = rebuild(state).await {
        tracing::warn!(error = %e, "widget: rebuilding the view after a save failed");
    }
    tracing::info!(user_id = me.user.id, "widget settings saved");
    Ok(saved)
}

/// The widget is about to show a greeting to a visitor: allowed (and
/// counted) while the greeting is enabled and under its cap for them.
pub async fn greeting_shown(
    state: &SharedState,
    visitor_id: i64,
    greeting_id: i64,
) -> ApiResult<()> {
    // The stored settings decide, not this node's view of them, which may
    // lag a save on another node by a moment.
    let stored = load(&state.db).await?;
    let greeting = stored
        .greetings
        .iter()
        .find(|g| g.id == Some(greeting_id) && g.enabled)
        .ok_or_else(|| ApiError::not_found("greeting (it may have been turned off)"))?;
    let mut tx = state
        .db
        .begin_write_holding(&[LockKey::Visitor(visitor_id)])
        .await?;
    let recorded = greetings::record_showing(
        &mut tx.tx,
        greeting_id,
        visitor_id,
        i64::from(greeting.per_visitor_cap),
    )
    .await?;
    tx.commit().await?;
    if recorded {
        Ok(())
    } else {
        Err(ApiError::conflict(
            "greeting_cap_reached",
            "this visitor has seen this greeting as often as it may be shown",
        ))
    }
}

/// The greeting a visitor's first message answers, when it is one they
/// were shown and it still exists: its text and sender open the conversation.
pub async fn greeting_answered(
    state: &SharedState,
    visitor_id: i64,
    greeting_id: Option<i64>,
) -> ApiResult<Option<AnsweredGreeting>> {
    let Some(id) = greeting_id else {
        return Ok(None);
    };
    let stored = load(&state.db).await?;
    let Some(rule) = stored.greetings.iter().find(|g| g.id == Some(id)) else {
        return Ok(None);
    };
    let mut conn = state.db.pool.acquire().await?;
    if !greetings::was_shown(&mut conn, id, visitor_id).await? {
        return Ok(None);
    }
    Ok(Some(AnsweredGreeting::from(rule, id)))
}

/// A greeting that opens a conversation as its first message.
#[derive(Debug, Clone)]
pub struct AnsweredGreeting {
    pub id: i64,
    pub message: String,
    pub from_user_id: i64,
}

impl AnsweredGreeting {
    fn from(rule: &GreetingRule, id: i64) -> Self {
        AnsweredGreeting {
            id,
            message: rule.message.clone(),
            from_user_id: rule.from_user_id,
        }
    }
}
