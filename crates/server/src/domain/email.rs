//! A team member's or visitor's email address, normalised to lower case.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Parses what a person typed: trims it, checks it is one address (lettre's
    /// RFC 5321 parser) and lower-cases it so one person is one account.
    pub fn parse(input: &str) -> Result<EmailAddress, String> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err("email is empty".into());
        }
        if trimmed.len() > 254 {
            return Err("email is longer than 254 characters".into());
        }
        let address = lettre::Address::from_str(trimmed)
            .map_err(|e| format!("{trimmed:?} is not an email address: {e}"))?;
        if !address.domain().contains('.') && address.domain() != "localhost" {
            return Err(format!("{trimmed:?} has no domain"));
        }
        Ok(EmailAddress(trimmed.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_space() {
        assert_eq!(
            EmailAddress::parse("  Anna@Example.COM ").unwrap().as_str(),
            "anna@example.com"
        );
    }

    #[test]
    fn rejects_non_addresses() {
        for bad in [
            "",
            "anna",
            "anna@",
            "@example.com",
            "a b@example.com",
            "anna@example",
        ] {
            assert!(
                EmailAddress::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }
}
