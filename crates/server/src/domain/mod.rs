//! Domain values that parse instead of validate, and the rules of accounts.

pub mod attachment;
pub mod email;
pub mod password;
pub mod reply_text;
pub mod reply_token;
pub mod report;
pub mod search_terms;
pub mod secret;
pub mod widget_settings;

#[cfg(test)]
mod properties;
