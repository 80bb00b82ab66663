//! Notification emails, driven by the event log.
//!
//! The worker follows `message.created` events with a cursor kept in the
//! database, so a restart neither loses nor repeats a notification decision.
//!
//! For a visitor message, each member who should hear of it (the assignee, or
//! everyone who answers visitors when it is unassigned) with the email switch on:
//! - away or not connected: the first message after silence or after an
//!   operator's answer is emailed at once; later ones within two minutes are
//!   collected into one follow-up, skipped if read in the app meanwhile;
//! - online in the app: the email waits two minutes and goes only if unread.
//!
//! For an operator's answer: the visitor gets it by email when they left an
//! address and are not on the site (or the answer itself came by email).

use std::time::Duration;

use lettre::message::Mailbox;
use switchboard_protocol::{event, AuthorKind, Channel, Message};

use crate::db::now_ms;
use crate::domain::reply_token::{self, Recipient, ReplyToken};
use crate::mail::notification::{self, Thread};
use crate::services::conversations::message_view;
use crate::state::SharedState;
use crate::store::notifications::{self, Pending, PendingKind};
use crate::store::users::{AccountStatus, UserRecord};
use crate::store::{conversations, events, messages, outbox, settings, users, visitors};

pub const WINDOW_MS: i64 = 120_000;
const CURSOR_KEY: &str = "notify_cursor";
const HISTORY: i64 = 10;

pub struct NotificationWorker {
    pub state: SharedState,
    /// Two minutes in production; tests shorten it.
    pub window_ms: i64,
}

impl NotificationWorker {
    pub async fn run(self) {
        let mut latest = self.state.hub.subscribe();
        let mut cursor = match self.initial_cursor().await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "notifications: cannot read the cursor; emails are off");
                return;
            }
        };
        loop {
            match self.follow_events(cursor).await {
                Ok(next) => cursor = next,
                Err(e) => tracing::warn!(error = %e, "notifications: processing events failed"),
            }
            if let Err(e) = self.send_due().await {
                tracing::warn!(error = %e, "notifications: sending due emails failed");
            }
            let _ = tokio::time::timeout(Duration::from_millis(500), latest.changed()).await;
        }
    }

    /// Starts after what is in the log already: history is not notified.
    async fn initial_cursor(&self) -> anyhow::Result<i64> {
        let latest = events::latest(&self.state.db).await?;
        settings::get_or_init(&self.state.db, CURSOR_KEY, &latest).await
    }

    async fn follow_events(&self, cursor: i64) -> anyhow::Result<i64> {
        let mut cursor = cursor;
        loop {
            let batch = self.state.hub.events_after(cursor, 200).await?;
            if batch.is_empty() {
                return Ok(cursor);
            }
            for ev in &batch {
                if ev.name == event::MESSAGE_CREATED {
                    let message: Message = serde_json::from_str(&ev.data)?;
                    if let Err(e) = self.on_message(&message).await {
                        tracing::warn!(message = message.id, error = %e, "notifications: a message was not handled");
                    }
                }
                cursor = ev.seq;
            }
            settings::put(&self.state.db, CURSOR_KEY, &cursor).await?;
        }
    }

    async fn on_message(&self, message: &Message) -> anyhow::Result<()> {
        if !notifications::claim_message(&self.state.db, message.id).await? {
            return Ok(()); // another node handles it
        }
        match message.author.kind {
            AuthorKind::Visitor => self.on_visitor_message(message).await,
            AuthorKind::Operator => self.on_operator_message(message).await,
            AuthorKind::System => Ok(()),
        }
    }

    async fn on_visitor_message(&self, message: &Message) -> anyhow::Result<()> {
        let state = &self.state;
        let mut conn = state.db.pool.acquire().await?;
        let Some(c) = conversations::get(&mut conn, message.conversation_id, 0).await? else {
            return Ok(());
        };
        drop(conn);
        let team = users::team(&state.db).await?;
        let recipients = team.iter().filter(|u| {
            u.status == AccountStatus::Active
                && u.role.answers_visitors()
                && u.notifications.email
                && c.assignee_id.is_none_or(|a| a == u.id)
        });
        for member in recipients {
            let online = state.hub.is_connected(member.id) && !member.away;
            let mut tx = state.db.begin_write().await?;
            if notifications::exists(&mut tx.tx, member.id, c.id).await? {
                continue; // collected into the email already scheduled
            }
            let due = now_ms() + self.window_ms;
            if online {
                let pending = Pending {
                    user_id: member.id,
                    conversation_id: c.id,
                    kind: PendingKind::Delayed,
                    after_message_id: message.id - 1,
                };
                notifications::schedule(&mut tx.tx, &pending, due).await?;
                tx.commit().await?;
            } else {
                let pending = Pending {
                    user_id: member.id,
                    conversation_id: c.id,
                    kind: PendingKind::FollowUp,
                    after_message_id: message.id,
                };
                notifications::schedule(&mut tx.tx, &pending, due).await?;
                self.enqueue_to_member(&mut tx.tx, member, c.id, std::slice::from_ref(message))
                    .await?;
                tx.commit().await?;
                state.outbox_wake.notify_one();
            }
        }
        Ok(())
    }

    async fn on_operator_message(&self, message: &Message) -> anyhow::Result<()> {
        let state = &self.state;
        // The answer ends any follow-up collection, whatever happens next.
        let mut tx = state.db.begin_write().await?;
        notifications::clear_followups(&mut tx.tx, message.conversation_id).await?;
        tx.commit().await?;

        let mut tx = state.db.begin_write().await?;
        let Some(c) = conversations::get(&mut tx.tx, message.conversation_id, 0).await? else {
            return Ok(());
        };
        let Some(visitor) = visitors::by_id(&state.db, c.visitor_id).await? else {
            return Ok(());
        };
        let Some(email) = visitor.email.clone() else {
            return Ok(());
        };
        if state.hub.visitor_present(visitor.id) && message.channel != Channel::Email {
            return Ok(());
        }
        let history = self.history(&mut tx.tx, c.id).await?;
        let signed = reply_token::sign(
            &state.reply_key,
            &ReplyToken {
                conversation_id: c.id,
                recipient: Recipient::Visitor(visitor.id),
            },
        );
        let reply_address = reply_token::address(&signed, &state.config.reply_domain);
        let visitor_name = visitor.name.clone().unwrap_or_else(|| email.clone());
        let thread = Thread {
            conversation_id: c.id,
            visitor_name: &visitor_name,
            reply_address: &reply_address,
            reply_domain: &state.config.reply_domain,
            history: &history,
            locale: &visitor.locale,
        };
        let to: Mailbox = email.parse()?;
        let bytes = notification::to_visitor(&state.mail_from, to, &thread, message, visitor.id)?;
        let subject = format!("conversation #{}", c.id);
        outbox::enqueue(
            &mut tx.tx,
            state.mail_from.email.as_ref(),
            &email,
            &subject,
            &bytes,
        )
        .await?;
        tx.commit().await?;
        state.outbox_wake.notify_one();
        Ok(())
    }

    async fn history(
        &self,
        conn: &mut sqlx::AnyConnection,
        conversation_id: i64,
    ) -> anyhow::Result<Vec<Message>> {
        let mut rows = messages::page(conn, conversation_id, None, HISTORY).await?;
        rows.reverse();
        Ok(rows.iter().map(|m| message_view(&self.state, m)).collect())
    }

    async fn enqueue_to_member(
        &self,
        conn: &mut sqlx::AnyConnection,
        member: &UserRecord,
        conversation_id: i64,
        new: &[Message],
    ) -> anyhow::Result<()> {
        let state = &self.state;
        let Some(c) = conversations::get(conn, conversation_id, member.id).await? else {
            return Ok(());
        };
        let history = self.history(conn, c.id).await?;
        let signed = reply_token::sign(
            &state.reply_key,
            &ReplyToken {
                conversation_id: c.id,
                recipient: Recipient::User(member.id),
            },
        );
        let reply_address = reply_token::address(&signed, &state.config.reply_domain);
        let fallback = if member.locale.starts_with("ru") {
            "Посетитель"
        } else {
            "Visitor"
        };
        let visitor_name = c
            .visitor_name
            .clone()
            .or(c.visitor_email.clone())
            .unwrap_or_else(|| format!("{fallback} #{}", c.visitor_id));
        let thread = Thread {
            conversation_id: c.id,
            visitor_name: &visitor_name,
            reply_address: &reply_address,
            reply_domain: &state.config.reply_domain,
            history: &history,
            locale: &member.locale,
        };
        let to: Mailbox = member.email.parse()?;
        let bytes = notification::to_member(&state.mail_from, to, &thread, new, member.id)?;
        let subject = format!("conversation #{} for member {}", c.id, member.id);
        outbox::enqueue(
            conn,
            state.mail_from.email.as_ref(),
            &member.email,
            &subject,
            &bytes,
        )
        .await?;
        Ok(())
    }

    /// Follow-ups and delayed emails whose two minutes are over.
    async fn send_due(&self) -> anyhow::Result<()> {
        let state = &self.state;
        let mut tx = state.db.begin_write().await?;
        let due = notifications::take_due(&mut tx.tx, 50).await?;
        let mut sent = false;
        for p in due {
            let Some(member) = users::by_id(&state.db, p.user_id).await? else {
                continue;
            };
            if member.status != AccountStatus::Active || !member.notifications.email {
                continue;
            }
            let read = conversations::last_read(&mut tx.tx, member.id, p.conversation_id).await?;
            let unread = messages::visitor_messages_after(
                &mut tx.tx,
                p.conversation_id,
                p.after_message_id.max(read),
            )
            .await?;
            if unread.is_empty() {
                continue; // read in the app meanwhile, or nothing new
            }
            let new: Vec<Message> = unread.iter().map(|m| message_view(state, m)).collect();
            self.enqueue_to_member(&mut tx.tx, &member, p.conversation_id, &new)
                .await?;
            sent = true;
        }
        tx.commit().await?;
        if sent {
            state.outbox_wake.notify_one();
        }
        Ok(())
    }
}
