//! A report's figures from the conversations of a range: pure arithmetic, so
//! that both stores give the same figures and a test can check each exactly.

use std::collections::HashMap;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use switchboard_protocol::{DayCount, Durations, OperatorFigures, Report};

/// What a report needs of a conversation (kept on it as it happens).
#[derive(Debug, Clone, Default)]
pub struct ReportRow {
    pub created_at: i64,
    pub closed_at: Option<i64>,
    pub assignee_id: Option<i64>,
    pub first_visitor_at: Option<i64>,
    pub first_answer_at: Option<i64>,
    pub first_answer_by: Option<i64>,
    pub first_answer_by_email: bool,
}

/// The range of a report: whole local days, `from` to `to` included.
#[derive(Debug, Clone)]
pub struct Range {
    pub from: Date,
    pub to: Date,
    pub tz: TimeZone,
    pub tz_name: String,
}

/// The longest range one report covers.
pub const MAX_DAYS: i64 = 366;

impl Range {
    pub fn parse(from: &str, to: &str, tz: &str) -> Result<Range, String> {
        let from: Date = from
            .parse()
            .map_err(|_| format!("from: {from:?} is not a date (YYYY-MM-DD)"))?;
        let to: Date = to
            .parse()
            .map_err(|_| format!("to: {to:?} is not a date (YYYY-MM-DD)"))?;
        if to < from {
            return Err("to is before from".into());
        }
        let days = (to - from).get_days() as i64 + 1;
        if days > MAX_DAYS {
            return Err(format!("a report covers at most {MAX_DAYS} days"));
        }
        let zone = TimeZone::get(tz).map_err(|_| format!("{tz:?} is not a known time zone"))?;
        Ok(Range {
            from,
            to,
            tz: zone,
            tz_name: tz.to_string(),
        })
    }

    /// `[start, end)` in ms since the epoch: from local midnight of `from` to
    /// local midnight after `to`.
    pub fn bounds_ms(&self) -> Result<(i64, i64), String> {
        let start = self.midnight(self.from)?;
        let end = self.midnight(self.to.tomorrow().map_err(|e| e.to_string())?)?;
        Ok((start, end))
    }

    fn midnight(&self, day: Date) -> Result<i64, String> {
        day.to_zoned_datetime(self.tz.clone())
            .and_then(|z| z.start_of_day())
            .map(|z| z.timestamp().as_millisecond())
            .map_err(|e| e.to_string())
    }

    fn days(&self) -> Vec<Date> {
        let mut out = Vec::new();
        let mut day = self.from;
        while day <= self.to {
            out.push(day);
            match day.tomorrow() {
                Ok(next) => day = next,
                Err(_) => break,
            }
        }
        out
    }
}

/// Nearest-rank percentile of sorted values: the smallest value with at
/// least `p`% of the values at or below it.
pub fn percentile(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (u64::from(p) * sorted.len() as u64).div_ceil(100).max(1) as usize;
    Some(sorted[rank - 1])
}

pub fn durations(mut values: Vec<i64>) -> Durations {
    values.sort_unstable();
    Durations {
        count: values.len() as i64,
        median_seconds: percentile(&values, 50),
        p90_seconds: percentile(&values, 90),
    }
}

/// The report of `rows` (conversations opened in the range), as of `now_ms`,
/// for the colleagues who answer (`operators`: id and name).
pub fn compute(
    range: &Range,
    rows: &[ReportRow],
    operators: &[(i64, String)],
    missed_after_minutes: i64,
    now_ms: i64,
) -> Report {
    let days = range.days();
    let mut per_day: HashMap<Date, i64> = days.iter().map(|d| (*d, 0)).collect();
    let mut heatmap = vec![vec![0i64; 24]; 7];
    let mut first_response = Vec::new();
    let mut resolution = Vec::new();
    let (mut in_chat, mut by_email, mut missed) = (0, 0, 0);
    let mut per_operator: HashMap<i64, (Vec<i64>, i64)> = HashMap::new();
    let missed_after_ms = missed_after_minutes * 60_000;
    for row in rows {
        let Ok(at) = Timestamp::from_millisecond(row.created_at) else {
            continue;
        };
        let local = at.to_zoned_datetime(range.tz.clone());
        if let Some(count) = per_day.get_mut(&local.date()) {
            *count += 1;
        }
        let weekday = match local.weekday() {
            Weekday::Monday => 0,
            Weekday::Tuesday => 1,
            Weekday::Wednesday => 2,
            Weekday::Thursday => 3,
            Weekday::Friday => 4,
            Weekday::Saturday => 5,
            Weekday::Sunday => 6,
        };
        heatmap[weekday][local.hour() as usize] += 1;
        if let Some(closed) = row.closed_at {
            resolution.push((closed - row.created_at).max(0) / 1000);
        }
        if let Some(asked) = row.first_visitor_at {
            match row.first_answer_at {
                Some(answered) => {
                    let wait = answered - asked;
                    first_response.push(wait / 1000);
                    if row.first_answer_by_email {
                        by_email += 1;
                    } else {
                        in_chat += 1;
                    }
                    if wait > missed_after_ms {
                        missed += 1;
                    }
                    if let Some(by) = row.first_answer_by {
                        per_operator.entry(by).or_default().0.push(wait / 1000);
                    }
                }
                None if now_ms - asked > missed_after_ms => missed += 1,
                None => {}
            }
        }
        if let (Some(assignee), Some(_)) = (row.assignee_id, row.closed_at) {
            per_operator.entry(assignee).or_default().1 += 1;
        }
    }
    Report {
        from: range.from.to_string(),
        to: range.to.to_string(),
        time_zone: range.tz_name.clone(),
        missed_after_minutes,
        new_conversations: days
            .iter()
            .map(|d| DayCount {
                day: d.to_string(),
                count: per_day[d],
            })
            .collect(),
        by_hour_of_week: heatmap,
        first_response: durations(first_response),
        resolution: durations(resolution),
        answered_in_chat: in_chat,
        answered_by_email: by_email,
        missed,
        operators: operators
            .iter()
            .map(|(id, name)| {
                let (waits, resolved) = per_operator.remove(id).unwrap_or_default();
                OperatorFigures {
                    id: *id,
                    name: name.clone(),
                    answered: waits.len() as i64,
                    first_response: durations(waits),
                    resolved,
                }
            })
            .collect(),
        // Counted by the caller from the showings it stores.
        greetings: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&v, 50), Some(5));
        assert_eq!(percentile(&v, 90), Some(9));
        assert_eq!(percentile(&[7], 90), Some(7));
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[1, 2, 3], 50), Some(2));
    }

    #[test]
    fn ranges_are_local_days() {
        let r = Range::parse("2026-03-29", "2026-03-29", "Europe/Berlin").unwrap();
        let (start, end) = r.bounds_ms().unwrap();
        // The day clocks go forward has 23 hours.
        assert_eq!(end - start, 23 * 3600 * 1000);
        assert!(Range::parse("2026-01-02", "2026-01-01", "UTC").is_err());
        assert!(Range::parse("2026-01-01", "2027-01-03", "UTC").is_err());
        assert!(Range::parse("2026-01-01", "2026-01-01", "Mars/Olympus").is_err());
        assert!(Range::parse("yesterday", "2026-01-01", "UTC").is_err());
    }
}
