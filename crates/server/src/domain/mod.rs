//! Domain values that parse instead of validate, and the rules of accounts.

pub mod email;
pub mod password;
pub mod secret;
