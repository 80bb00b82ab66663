//! The signed-in user and their team: profile, presence, notification switches, password
//! and avatar, team members and invitations, and the admin's mail settings; each call
//! keeps the cached copy and tells the UI.

use switchboard_protocol::{NotificationSettings, Presence, Report, UpdateMe, User};

use super::Session;
use crate::api::MAX_AVATAR_BYTES;
use crate::error::{Error, Result};
use crate::CoreEvent;

impl Session {
    pub(super) fn set_user(&self, u: User) {
        {
            let mut st = self.state.lock().unwrap();
            st.acct.user = Some(u.clone());
            st.dirty = true;
        }
        self.emit(CoreEvent::Me { user: u });
    }

    pub async fn refresh_me(&self) -> Result<User> {
        let u = self.api.me().await?;
        self.set_user(u.clone());
        Ok(u)
    }

    pub async fn update_me(&self, name: Option<String>, locale: Option<String>) -> Result<User> {
        if let Some(n) = &name {
            if n.trim().is_empty() {
                return Err(Error::Invalid("the name cannot be empty".into()));
            }
        }
        let u = self
            .api
            .update_me(&UpdateMe {
                name: name.map(|n| n.trim().to_string()),
                locale,
            })
            .await?;
        self.set_user(u.clone());
        Ok(u)
    }

    pub async fn change_password(&self, current: &str, new: &str) -> Result<User> {
        if new.chars().count() < 8 {
            return Err(Error::Invalid(
                "the new password must be at least 8 characters".into(),
            ));
        }
        self.api.change_password(current, new).await?;
        // the stream is refused while the emailed password is in use: connect now
        self.reconnect_now();
        self.refresh_me().await
    }

    /// Checks the image (kind and the 1 MiB limit) before uploading it.
    pub async fn upload_avatar(&self, bytes: Vec<u8>) -> Result<User> {
        let ct = check_avatar(&bytes)?;
        let u = self.api.upload_avatar(bytes, ct).await?;
        self.set_user(u.clone());
        Ok(u)
    }

    pub async fn delete_avatar(&self) -> Result<User> {
        let u = self.api.delete_avatar().await?;
        self.set_user(u.clone());
        Ok(u)
    }

    pub async fn set_notifications(&self, n: NotificationSettings) -> Result<User> {
        let u = self.api.set_notifications(n).await?;
        self.set_user(u.clone());
        Ok(u)
    }

    pub async fn set_presence(&self, p: Presence) -> Result<User> {
        let u = self.api.set_presence(p).await?;
        self.set_user(u.clone());
        Ok(u)
    }

    /// The Reports screen's figures (admins and analysts; `forbidden` otherwise).
    pub async fn reports(
        &self,
        from: &str,
        to: &str,
        tz: &str,
        missed_after: Option<i64>,
    ) -> Result<Report> {
        if tz.trim().is_empty() {
            return Err(Error::Invalid("choose a time zone".into()));
        }
        if let Some(m) = missed_after {
            if m < 0 {
                return Err(Error::Invalid("minutes cannot be negative".into()));
            }
        }
        self.api
            .reports(from.trim(), to.trim(), tz.trim(), missed_after)
            .await
    }

    pub fn team_cached(&self) -> Vec<User> {
        self.state.lock().unwrap().acct.team.clone()
    }

    pub async fn team(&self) -> Result<Vec<User>> {
        match self.api.team().await {
            Ok(t) => {
                self.state.lock().unwrap().acct.team = t.clone();
                self.emit(CoreEvent::Team { members: t.clone() });
                Ok(t)
            }
            Err(e) if e.is_network() => Ok(self.team_cached()),
            Err(e) => Err(e),
        }
    }

    pub async fn invite(&self, email: &str, role: &str) -> Result<User> {
        let email = email.trim();
        if !email.contains('@') || email.starts_with('@') || email.ends_with('@') {
            return Err(Error::Invalid("enter a valid email address".into()));
        }
        let u = self.api.invite(email, role).await?;
        let _ = self.team().await;
        Ok(u)
    }

    /// Settings → Mail (admins): the DNS records to publish.
    pub async fn mail_dns(&self) -> Result<switchboard_protocol::MailDns> {
        self.api.mail_dns().await
    }

    /// Settings → Mail → Check: what DNS answers for each record.
    pub async fn mail_dns_check(&self) -> Result<switchboard_protocol::DnsCheck> {
        self.api.mail_dns_check().await
    }

    pub async fn resend_invitation(&self, user_id: i64) -> Result<()> {
        self.api.resend_invitation(user_id).await
    }

    pub async fn change_role(&self, user_id: i64, role: &str) -> Result<User> {
        let u = self.api.change_role(user_id, role).await?;
        let _ = self.team().await;
        Ok(u)
    }

    pub async fn remove_member(&self, user_id: i64) -> Result<()> {
        self.api.remove_member(user_id).await?;
        let _ = self.team().await;
        Ok(())
    }
}

/// The content type of an avatar, checked by its first bytes, within the size limit.
pub fn check_avatar(bytes: &[u8]) -> Result<&'static str> {
    if bytes.len() > MAX_AVATAR_BYTES {
        return Err(Error::Invalid(format!(
            "the image is {:.1} MB; the limit is 1 MB",
            bytes.len() as f64 / 1_048_576.0
        )));
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Ok("image/gif")
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Ok("image/webp")
    } else {
        Err(Error::Invalid(
            "choose a PNG, JPEG, WebP or GIF image".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avatars_are_checked_before_upload() {
        assert_eq!(check_avatar(b"\x89PNG\r\n\x1a\nrest").unwrap(), "image/png");
        assert_eq!(
            check_avatar(&[0xFF, 0xD8, 0xFF, 0xE0]).unwrap(),
            "image/jpeg"
        );
        assert!(check_avatar(b"hello").is_err());
        let mut big = b"\x89PNG\r\n\x1a\n".to_vec();
        big.resize(MAX_AVATAR_BYTES + 1, 0);
        assert!(check_avatar(&big).unwrap_err().to_string().contains("1 MB"));
        big.truncate(MAX_AVATAR_BYTES);
        assert!(check_avatar(&big).is_ok());
    }
}
