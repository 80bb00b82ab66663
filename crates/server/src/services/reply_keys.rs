//! The keys of reply tokens: kept in the settings table so every node signs
//! and verifies alike, rotated every 30 days (the previous keys verify their
//! tokens until those expire), reloaded by every node each minute.

use crate::db::now_ms;
use crate::domain::reply_token::{self, KeyRing, ReplyKey, ReplyToken, Verified};
use crate::domain::secret;
use crate::state::{AppState, SharedState};
use crate::store::settings;

const REPLY_KEYS: &str = "reply_keys";
/// A reply address works this long after its email was sent.
pub const TOKEN_LIFETIME_MS: i64 = 90 * 24 * 3600 * 1000;
const ROTATE_EVERY_MS: i64 = 30 * 24 * 3600 * 1000;

/// The ring as stored; made on first start from the key of the first token
/// format (whose tokens then count as issued now, and expire a lifetime on).
pub async fn load(db: &crate::db::Db) -> anyhow::Result<KeyRing> {
    if let Some(ring) = settings::get::<KeyRing>(db, REPLY_KEYS).await? {
        return Ok(ring);
    }
    let fresh = secret::new_token("key");
    let legacy: String = settings::get_or_init(db, settings::SIGNING_KEY, &fresh).await?;
    let ring = KeyRing {
        keys: vec![ReplyKey {
            id: 0,
            secret: legacy,
            created_at: now_ms(),
        }],
    };
    settings::get_or_init(db, REPLY_KEYS, &ring).await
}

/// Adds a new signing key when the current one is 30 days old. Nodes race
/// harmlessly: the write only lands over the ring it was computed from.
pub async fn rotate_if_due(state: &SharedState, now: i64) -> anyhow::Result<bool> {
    let stored = load(&state.db).await?;
    if now - stored.current().created_at < ROTATE_EVERY_MS {
        reload_into(state, stored);
        return Ok(false);
    }
    let mut rotated = stored.clone();
    rotated.rotate(secret::new_token("key"), now, TOKEN_LIFETIME_MS);
    let swapped = sqlx::query("UPDATE settings SET value = $1 WHERE key = $2 AND value = $3")
        .bind(serde_json::to_string(&rotated)?)
        .bind(REPLY_KEYS)
        .bind(serde_json::to_string(&stored)?)
        .execute(&state.db.pool)
        .await?
        .rows_affected()
        == 1;
    reload_into(state, load(&state.db).await?);
    if swapped {
        tracing::info!(
            key = rotated.current().id,
            "reply tokens: rotated the signing key"
        );
    }
    Ok(swapped)
}

/// Whether a verified token still opens its conversation (not expired).
pub fn is_open(verified: &Verified) -> bool {
    reply_token::is_fresh(verified.issued_at, now_ms(), TOKEN_LIFETIME_MS)
}

fn reload_into(state: &AppState, ring: KeyRing) {
    *state.reply_keys.write().expect("reply keys poisoned") = ring;
}

impl AppState {
    /// The token of a reply address, signed with the current key.
    pub fn sign_reply(&self, token: &ReplyToken) -> String {
        let ring = self.reply_keys.read().expect("reply keys poisoned");
        reply_token::sign(&ring, token, now_ms())
    }

    /// A token whose signature verifies (fresh or not); a key this node has
    /// not seen yet (rotated by another node a moment ago) is looked up.
    pub async fn verify_reply(&self, signed: &str) -> Option<Verified> {
        let check = |ring: &KeyRing| {
            let legacy_since = ring.keys.iter().find(|k| k.id == 0).map(|k| k.created_at);
            reply_token::verify(ring, signed, legacy_since.unwrap_or(0))
        };
        if let Some(v) = check(&self.reply_keys.read().expect("reply keys poisoned")) {
            return Some(v);
        }
        let stored = load(&self.db).await.ok()?;
        let verified = check(&stored);
        reload_into(self, stored);
        verified
    }
}
