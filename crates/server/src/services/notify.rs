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

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use lettre::message::Mailbox;
use sqlx::AnyConnection;
use switchboard_protocol::{event, AuthorKind, Channel, Message};

use crate::db::{now_ms, LockKey};
use crate::domain::reply_token::{self, Recipient, ReplyToken};
use crate::mail::compose::OutFile;
use crate::mail::digest::{self, DigestItem};
use crate::mail::notification::{self, MailFiles, Thread};
use crate::services::conversations::message_view;
use crate::state::SharedState;
use crate::store::conversations::ConversationRecord;
use crate::store::notifications::{self, Pending, PendingKind};
use crate::store::users::{AccountStatus, UserRecord};
use crate::store::{conversations, events, messages, outbox, settings, users, visitors};

pub const WINDOW_MS: i64 = crate::config::NOTIFY_WINDOW_MS;
pub const CURSOR_KEY: &str = "notify_cursor";
const HISTORY: i64 = 10;
/// An email carries its files up to this size in all; past it, links.
const ATTACHED_IN_ALL: i64 = 10 * 1024 * 1024;
/// Links in emails live longer than in the apps: emails are read late.
const EMAIL_LINK_DAYS: i64 = 30;
const DUE_CHECK_EVERY: Duration = Duration::from_millis(500);
/// Under load the log grows by an event or two at a time, and a pass per
/// wake-up was a write transaction — an fsync, taking turns with visitors'
/// sends for the one SQLite writer — for every message or two. Passes start
/// at least this far apart, so each handles what came meanwhile in one
/// transaction; a lone message after a quiet spell is handled at once.
const MIN_PASS_GAP: Duration = Duration::from_millis(100);
/// Events handled in one transaction at most.
const PASS_BATCH: usize = 200;

/// What the worker read before taking the write lock for a batch.
struct Known<'a> {
    team: &'a [UserRecord],
    conversations: &'a HashMap<i64, ConversationRecord>,
    /// The visitors answered in the batch whose widget is open on another
    /// node (asked over NATS before the lock, so that no node's notifier
    /// waits on NATS behind it).
    on_site_elsewhere: &'a HashSet<i64>,
}

pub struct NotificationWorker {
    pub state: SharedState,
    /// Two minutes in production; tests shorten it.
    pub window_ms: i64,
    pub flood: FloodGuard,
}

/// At most this many immediate emails per member in `FLOOD_WINDOW`; past that,
/// new conversations wait for the notification window and go out together as
/// one digest. A script that opens conversations (from one address or many)
/// thus costs each inbox a handful of emails, not one per conversation.
const IMMEDIATE_PER_MEMBER: usize = 5;
const FLOOD_WINDOW: Duration = Duration::from_secs(600);

/// The immediate emails each member got lately (per node: with several nodes
/// each allows its own handful).
#[derive(Default)]
pub struct FloodGuard {
    sent: std::sync::Mutex<HashMap<i64, VecDeque<Instant>>>,
}

impl FloodGuard {
    /// Counts an immediate email to `member` if one is allowed now.
    fn allow(&self, member: i64) -> bool {
        let now = Instant::now();
        let mut sent = self.sent.lock().expect("flood guard poisoned");
        sent.retain(|_, times| {
            while times
                .front()
                .is_some_and(|t| now.duration_since(*t) > FLOOD_WINDOW)
            {
                times.pop_front();
            }
            !times.is_empty()
        });
        let times = sent.entry(member).or_default();
        if times.len() >= IMMEDIATE_PER_MEMBER {
            return false;
        }
        times.push_back(now);
        true
    }
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
        let mut due_checked = tokio::time::Instant::now() - DUE_CHECK_EVERY;
        loop {
            let pass_started = tokio::time::Instant::now();
            match self.follow_events(cursor).await {
                Ok(next) => cursor = next,
                Err(e) => tracing::warn!(error = %e, "notifications: processing events failed"),
            }
            // Emails wait for minutes: looking for due ones at every event
            // would cost a write transaction per message under load.
            if due_checked.elapsed() >= DUE_CHECK_EVERY {
                due_checked = tokio::time::Instant::now();
                if let Err(e) = self.send_due().await {
                    tracing::warn!(error = %e, "notifications: sending due emails failed");
                }
            }
            let _ = tokio::time::timeout(DUE_CHECK_EVERY, latest.changed()).await;
            tokio::time::sleep_until(pass_started + MIN_PASS_GAP).await;
        }
    }

    /// Starts after what is in the log already: history is not notified.
    async fn initial_cursor(&self) -> anyhow::Result<i64> {
        let latest = events::latest(&self.state.db).await?;
        settings::get_or_init(&self.state.db, CURSOR_KEY, &latest).await
    }

    /// Handles the new messages of the log a batch at a time, each batch in one
    /// write transaction with the cursor. When a batch fails, its messages are
    /// handled again one per transaction, so that one bad message is logged and
    /// skipped without holding up the others.
    async fn follow_events(&self, cursor: i64) -> anyhow::Result<i64> {
        let mut cursor = cursor;
        loop {
            let batch = self.state.hub.events_after(cursor, PASS_BATCH).await?;
            let Some(newest) = batch.last().map(|e| e.seq) else {
                return Ok(cursor);
            };
            // A short batch was the end of the log when read; what came since
            // waits for the next pass (see `MIN_PASS_GAP`) rather than being
            // taken an event or two at a time while sends keep coming.
            let caught_up = batch.len() < PASS_BATCH;
            let messages = batch
                .iter()
                .filter(|e| e.name == event::MESSAGE_CREATED)
                .map(|e| serde_json::from_str::<Message>(&e.data))
                .collect::<Result<Vec<_>, _>>()?;
            // Read what the decisions need before taking the write lock.
            let team = users::team(&self.state.db).await?;
            let mut ids: Vec<i64> = messages.iter().map(|m| m.conversation_id).collect();
            ids.sort_unstable();
            ids.dedup();
            let conversations: HashMap<i64, ConversationRecord> =
                conversations::get_many(&self.state.db.pool, &ids)
                    .await?
                    .into_iter()
                    .map(|c| (c.id, c))
                    .collect();
            let on_site_elsewhere = self
                .visitors_on_site_elsewhere(&messages, &conversations)
                .await;
            let known = Known {
                team: &team,
                conversations: &conversations,
                on_site_elsewhere: &on_site_elsewhere,
            };
            let mut tx = self
                .state
                .db
                .begin_write_holding(&[LockKey::Notifier])
                .await?;
            let emails = match self.handle(&mut tx.tx, &known, &messages).await {
                Ok(emails) => {
                    settings::put(&mut *tx.tx, CURSOR_KEY, &newest).await?;
                    tx.commit().await?;
                    emails
                }
                Err(e) => {
                    drop(tx); // rolls back
                    tracing::warn!(error = %e, "notifications: a batch failed; handling its messages one by one");
                    let emails = self.handle_one_by_one(&known, &messages).await?;
                    settings::put(&self.state.db.pool, CURSOR_KEY, &newest).await?;
                    emails
                }
            };
            if emails {
                self.state.outbox_wake.notify_one();
            }
            cursor = newest;
            if caught_up {
                return Ok(cursor);
            }
        }
    }

    /// The visitors that operators answered in chat in `messages` whose
    /// widget is open on another node: they see the answer there and get no
    /// email of it. Only those who could be emailed are asked about (an
    /// address, not bouncing, as read for the batch); whether the widget is
    /// open on this node is checked again when deciding.
    async fn visitors_on_site_elsewhere(
        &self,
        messages: &[Message],
        conversations: &HashMap<i64, ConversationRecord>,
    ) -> HashSet<i64> {
        let mut answered: Vec<i64> = messages
            .iter()
            .filter(|m| m.author.kind == AuthorKind::Operator && m.channel != Channel::Email)
            .filter_map(|m| conversations.get(&m.conversation_id))
            .filter(|c| c.visitor_email.is_some() && !c.visitor_email_bouncing)
            .map(|c| c.visitor_id)
            .collect();
        answered.sort_unstable();
        answered.dedup();
        self.state.hub.visitors_present_elsewhere(&answered).await
    }

    /// Each message in a transaction of its own: one that fails is logged and
    /// skipped. Returns whether an email was queued.
    async fn handle_one_by_one(
        &self,
        known: &Known<'_>,
        messages: &[Message],
    ) -> anyhow::Result<bool> {
        let mut emails = false;
        for message in messages {
            let mut tx = self
                .state
                .db
                .begin_write_holding(&[LockKey::Notifier])
                .await?;
            match self
                .handle(&mut tx.tx, known, std::slice::from_ref(message))
                .await
            {
                Ok(sent) => {
                    tx.commit().await?;
                    emails |= sent;
                }
                Err(e) => {
                    tracing::warn!(message = message.id, error = %e, "notifications: a message was not handled");
                }
            }
        }
        Ok(emails)
    }

    /// Returns whether an email was queued. Visitor messages are decided in
    /// memory and scheduled together; an operator's answer (which ends
    /// follow-ups) first writes what came before it, so order still counts.
    async fn handle(
        &self,
        conn: &mut AnyConnection,
        known: &Known<'_>,
        messages: &[Message],
    ) -> anyhow::Result<bool> {
        let ids: Vec<i64> = messages.iter().map(|m| m.id).collect();
        let mine = notifications::claim_messages(conn, self.state.db.backend, &ids).await?;
        let mut emails = false;
        let mut decided = Vec::new();
        for message in messages.iter().filter(|m| mine.contains(&m.id)) {
            match message.author.kind {
                AuthorKind::Visitor => {
                    decided.extend(self.decide_for_visitor_message(known, message));
                }
                AuthorKind::Operator => {
                    emails |= self.schedule(conn, known, &mut decided).await?;
                    emails |= self.on_operator_message(conn, known, message).await?;
                }
                AuthorKind::System => {}
            }
        }
        emails |= self.schedule(conn, known, &mut decided).await?;
        Ok(emails)
    }

    /// Who should hear of a visitor's message (the assignee, or everyone who
    /// answers visitors when it is unassigned), and how: online, the email waits
    /// and goes only if still unread; away, this message goes at once and later
    /// ones are collected into a follow-up.
    fn decide_for_visitor_message<'m>(
        &self,
        known: &Known<'_>,
        message: &'m Message,
    ) -> Vec<(Pending, &'m Message)> {
        let Some(c) = known.conversations.get(&message.conversation_id) else {
            return Vec::new();
        };
        known
            .team
            .iter()
            .filter(|u| {
                u.status == AccountStatus::Active
                    && u.role.answers_visitors()
                    && u.notifications.email
                    && c.assignee_id.is_none_or(|a| a == u.id)
            })
            .map(|member| {
                let online = self.state.hub.is_connected(member.id) && !member.away;
                let pending = Pending {
                    user_id: member.id,
                    conversation_id: c.id,
                    kind: if online {
                        PendingKind::Delayed
                    } else {
                        PendingKind::FollowUp
                    },
                    after_message_id: if online { message.id - 1 } else { message.id },
                };
                (pending, message)
            })
            .collect()
    }

    /// Writes the decided notifications in one statement; a member with an
    /// email pending for the conversation already has this message collected
    /// into it. Returns whether an email was queued.
    async fn schedule(
        &self,
        conn: &mut AnyConnection,
        known: &Known<'_>,
        decided: &mut Vec<(Pending, &Message)>,
    ) -> anyhow::Result<bool> {
        // The first message of a batch for a member and conversation decides.
        let mut seen = HashSet::new();
        decided.retain(|(p, _)| seen.insert((p.user_id, p.conversation_id)));
        let pending: Vec<Pending> = decided.iter().map(|(p, _)| p.clone()).collect();
        let due = now_ms() + self.window_ms;
        let scheduled = notifications::schedule(conn, self.state.db.backend, &pending, due).await?;
        let mut emails = false;
        for (p, message) in decided.drain(..) {
            if p.kind != PendingKind::FollowUp
                || !scheduled.contains(&(p.user_id, p.conversation_id))
            {
                continue;
            }
            let Some(member) = known.team.iter().find(|u| u.id == p.user_id) else {
                continue;
            };
            if !self.flood.allow(member.id) {
                // Collected with this message into the member's next digest.
                notifications::into_digest(conn, p.user_id, p.conversation_id, message.id - 1)
                    .await?;
                continue;
            }
            self.enqueue_to_member(
                conn,
                member,
                p.conversation_id,
                std::slice::from_ref(message),
            )
            .await?;
            emails = true;
        }
        Ok(emails)
    }

    async fn on_operator_message(
        &self,
        conn: &mut AnyConnection,
        known: &Known<'_>,
        message: &Message,
    ) -> anyhow::Result<bool> {
        let state = &self.state;
        // The answer ends any follow-up collection, whatever happens next.
        notifications::clear_followups(conn, message.conversation_id).await?;
        let Some(c) = conversations::get(conn, message.conversation_id, 0).await? else {
            return Ok(false);
        };
        let Some(visitor) = visitors::by_id(&state.db, c.visitor_id).await? else {
            return Ok(false);
        };
        let Some(email) = visitor.email.clone() else {
            return Ok(false);
        };
        if visitor.email_bouncing {
            return Ok(false); // until the visitor gives another address
        }
        // On the site through any node: they see the answer in the chat.
        let on_site =
            state.hub.visitor_present(visitor.id) || known.on_site_elsewhere.contains(&visitor.id);
        if on_site && message.channel != Channel::Email {
            return Ok(false);
        }
        let history = self.history(conn, c.id).await?;
        let signed = state.sign_reply(&ReplyToken {
            conversation_id: c.id,
            recipient: Recipient::Visitor(visitor.id),
        });
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
        let files = self.mail_files(std::slice::from_ref(message)).await?;
        let bytes =
            notification::to_visitor(&state.mail_from, to, &thread, message, visitor.id, files)?;
        let subject = format!("conversation #{}", c.id);
        // The envelope sender names the visitor (signed, like a reply
        // address), so a bounce tells whose address failed.
        let bounce_to = format!("bounce+{signed}@{}", state.config.reply_domain);
        outbox::enqueue(conn, &bounce_to, &email, &subject, &bytes).await?;
        Ok(true)
    }

    /// The new messages' files: attached when they take at most
    /// `ATTACHED_IN_ALL` together, else linked for `EMAIL_LINK_DAYS`.
    async fn mail_files(&self, new: &[Message]) -> anyhow::Result<MailFiles> {
        let state = &self.state;
        let mut records = Vec::new();
        for a in new.iter().flat_map(|m| &m.attachments) {
            if let Some(record) = crate::store::attachments::get(&state.db, a.id).await? {
                records.push(record);
            }
        }
        let total: i64 = records.iter().map(|r| r.size).sum();
        let mut files = MailFiles::default();
        if total <= ATTACHED_IN_ALL {
            for r in &records {
                match state.files.get(&r.blob()).await? {
                    Some(bytes) => files.attached.push(OutFile {
                        name: r.name.clone(),
                        content_type: r.content_type.clone(),
                        bytes,
                    }),
                    None => tracing::warn!(attachment = r.id, "an attachment's file is missing"),
                }
            }
        } else {
            for r in &records {
                let link = crate::services::attachments::link(state, r, EMAIL_LINK_DAYS);
                files.links.insert(r.id, link);
            }
        }
        Ok(files)
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
        let signed = state.sign_reply(&ReplyToken {
            conversation_id: c.id,
            recipient: Recipient::User(member.id),
        });
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
        let files = self.mail_files(new).await?;
        let bytes = notification::to_member(&state.mail_from, to, &thread, new, member.id, files)?;
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

    async fn enqueue_digest(
        &self,
        conn: &mut AnyConnection,
        member: &UserRecord,
        items: &[(i64, Vec<Message>)],
    ) -> anyhow::Result<()> {
        let state = &self.state;
        let mut lines = Vec::new();
        for (conversation_id, new) in items {
            let Some(c) = conversations::get(conn, *conversation_id, member.id).await? else {
                continue;
            };
            let signed = state.sign_reply(&ReplyToken {
                conversation_id: c.id,
                recipient: Recipient::User(member.id),
            });
            let name = c
                .visitor_name
                .clone()
                .or(c.visitor_email.clone())
                .unwrap_or_else(|| format!("#{}", c.visitor_id));
            lines.push((
                c.id,
                name,
                reply_token::address(&signed, &state.config.reply_domain),
                new,
            ));
        }
        let entries: Vec<DigestItem> = lines
            .iter()
            .map(|(id, name, address, new)| DigestItem {
                conversation_id: *id,
                visitor_name: name,
                reply_address: address,
                messages: new,
            })
            .collect();
        let to: Mailbox = member.email.parse()?;
        let bytes = digest::to_member(&state.mail_from, to, &member.locale, &entries)?;
        let subject = format!(
            "digest of {} conversations for member {}",
            entries.len(),
            member.id
        );
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

    /// Follow-ups, delayed emails and digests whose window is over.
    async fn send_due(&self) -> anyhow::Result<()> {
        let state = &self.state;
        // Looked for first with a read: a write transaction takes a turn of
        // the node's one SQLite writer, which visitors' sends wait for.
        if !notifications::any_due(&state.db.pool).await? {
            return Ok(());
        }
        let mut tx = state.db.begin_write_holding(&[LockKey::Notifier]).await?;
        let due = notifications::take_due(&mut tx.tx, 500).await?;
        let mut sent = false;
        // Each member's digest entries go out together.
        let mut digests: HashMap<i64, Vec<(i64, Vec<Message>)>> = HashMap::new();
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
            if p.kind == PendingKind::Digest {
                digests
                    .entry(member.id)
                    .or_default()
                    .push((p.conversation_id, new));
                continue;
            }
            self.enqueue_to_member(&mut tx.tx, &member, p.conversation_id, &new)
                .await?;
            sent = true;
        }
        for (member_id, items) in digests {
            let Some(member) = users::by_id(&state.db, member_id).await? else {
                continue;
            };
            if let [(conversation_id, new)] = items.as_slice() {
                self.enqueue_to_member(&mut tx.tx, &member, *conversation_id, new)
                    .await?;
            } else {
                self.enqueue_digest(&mut tx.tx, &member, &items).await?;
            }
            sent = true;
        }
        tx.commit().await?;
        if sent {
            state.outbox_wake.notify_one();
        }
        Ok(())
    }
}
