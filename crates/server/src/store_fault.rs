//! Which database errors are the store's trouble rather than the request's:
//! a full disk (SQLite's SQLITE_FULL, ENOSPC, PostgreSQL's 53100) or a
//! database out of reach (no connection within the timeout, a connection
//! cut, PostgreSQL shutting down). The API answers them 507 and 503 with
//! `Retry-After` instead of 500, `/healthz` reports them, and the SMTP
//! listener answers 452 while the disk is full.

const ENOSPC: i32 = 28;
const SQLITE_FULL: i64 = 13;
const SQLITE_IOERR: i64 = 10;
const SQLITE_CANTOPEN: i64 = 14;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Fault {
    None = 0,
    /// Nothing more can be stored until space is freed.
    StorageFull = 1,
    /// The database does not answer (or not in time).
    Unavailable = 2,
}

impl Fault {
    pub fn from_u8(v: u8) -> Fault {
        match v {
            1 => Fault::StorageFull,
            2 => Fault::Unavailable,
            _ => Fault::None,
        }
    }
}

pub fn classify(e: &sqlx::Error) -> Fault {
    match e {
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            if let Ok(sqlite) = code.parse::<i64>() {
                // SQLite's extended codes keep the primary code in the low byte.
                return match sqlite & 0xff {
                    SQLITE_FULL => Fault::StorageFull,
                    SQLITE_IOERR | SQLITE_CANTOPEN => Fault::Unavailable,
                    _ => Fault::None,
                };
            }
            match code.as_ref() {
                "53100" => Fault::StorageFull,
                // connection exceptions; admin or crash shutdown; starting up;
                // too many connections
                c if c.starts_with("08") => Fault::Unavailable,
                "57P01" | "57P02" | "57P03" | "53300" => Fault::Unavailable,
                _ => Fault::None,
            }
        }
        sqlx::Error::Io(io) if io.raw_os_error() == Some(ENOSPC) => Fault::StorageFull,
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Fault::Unavailable,
        _ => Fault::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_are_classified_by_errno() {
        let full = sqlx::Error::Io(std::io::Error::from_raw_os_error(ENOSPC));
        assert_eq!(classify(&full), Fault::StorageFull);
        let reset = sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into());
        assert_eq!(classify(&reset), Fault::Unavailable);
        assert_eq!(classify(&sqlx::Error::PoolTimedOut), Fault::Unavailable);
        assert_eq!(classify(&sqlx::Error::RowNotFound), Fault::None);
    }
}
