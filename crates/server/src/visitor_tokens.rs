//! Which visitor a widget token names, remembered in memory.
//!
//! A visitor's send is the hottest request, and asking the database who the
//! token belongs to was a round trip of its own on every one. The answer never
//! changes — a token names one visitor for good — so it is kept here once
//! found. A deleted visitor's token may linger: whoever uses the id then finds
//! the visitor gone (the send answers 401, as the database lookup would have).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::db::Db;
use crate::domain::secret;
use crate::store::visitors;

/// Past this many tokens the memory is emptied and fills again with the
/// visitors who are sending now (a token costs about 50 bytes here).
const MAX_REMEMBERED: usize = 200_000;

#[derive(Default)]
pub struct VisitorTokens {
    known: Mutex<HashMap<[u8; 32], i64>>,
}

impl VisitorTokens {
    /// The id of the visitor `token` names, or None for an unknown token.
    pub async fn visitor_id(&self, db: &Db, token: &str) -> Result<Option<i64>, sqlx::Error> {
        let digest = secret::token_digest(token);
        if let Some(id) = self.known.lock().expect("visitor tokens").get(&digest) {
            return Ok(Some(*id));
        }
        let Some(visitor) = visitors::by_token(db, token).await? else {
            // Unknown tokens are not remembered: strangers cannot fill this.
            return Ok(None);
        };
        self.remember_digest(digest, visitor.id);
        Ok(Some(visitor.id))
    }

    /// Remembers a token the caller knows names `visitor_id` (a session just
    /// made or found it): the visitor's first send then asks no database.
    pub fn remember(&self, token: &str, visitor_id: i64) {
        self.remember_digest(secret::token_digest(token), visitor_id);
    }

    fn remember_digest(&self, digest: [u8; 32], visitor_id: i64) {
        let mut known = self.known.lock().expect("visitor tokens");
        if known.len() >= MAX_REMEMBERED {
            known.clear();
        }
        known.insert(digest, visitor_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A remembered token answers without the database (here, one that
    /// holds no visitor at all); an unknown one is asked there, and stays
    /// unknown.
    #[tokio::test]
    async fn a_remembered_token_needs_no_database() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("db.sqlite").display()
        );
        let db = Db::connect(&url).await.unwrap();
        let tokens = VisitorTokens::default();
        tokens.remember("vis_remembered", 42);
        assert_eq!(
            tokens.visitor_id(&db, "vis_remembered").await.unwrap(),
            Some(42)
        );
        assert_eq!(tokens.visitor_id(&db, "vis_unknown").await.unwrap(), None);
        assert_eq!(tokens.known.lock().unwrap().len(), 1);
    }
}
