//! Calendar dates, the one place seine reads and writes them (through `jiff`, a
//! maintained date library, so invalid days such as 2023-02-31 are refused
//! everywhere alike): metadata dates are days since 1970-01-01, written
//! `YYYY-MM-DD`; manifests stamp RFC 3339 UTC times.

use jiff::civil::Date;

const EPOCH: Date = Date::constant(1970, 1, 1);

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (surrounding spaces ignored);
/// `None` for anything else, an impossible day (2023-02-31) included.
pub fn date_days(s: &str) -> Option<i64> {
    let s = s.trim();
    // jiff also reads `+002023-01-01` and `20230101`; seine's documented form is the
    // plain one.
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let d: Date = s.parse().ok()?;
    let span = EPOCH.until(d).ok()?;
    Some(i64::from(span.get_days()))
}

/// `YYYY-MM-DD` of days since 1970-01-01 (the inverse of [`date_days`]); days
/// outside jiff's range (years -9999..=9999) are clamped to it.
pub fn civil_date(days: i64) -> String {
    let days = days.clamp(-4_371_587, 2_932_896);
    let d = EPOCH
        .checked_add(jiff::Span::new().days(days))
        .unwrap_or(EPOCH);
    d.strftime("%Y-%m-%d").to_string()
}

/// RFC 3339 UTC of seconds since the epoch (whole seconds).
pub fn rfc3339_utc(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Now as RFC 3339 UTC (seconds).
pub fn now_rfc3339() -> String {
    rfc3339_utc(jiff::Timestamp::now().as_second())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_and_impossible_days_are_refused() {
        assert_eq!(date_days("1970-01-01"), Some(0));
        assert_eq!(date_days("2000-03-01"), Some(11_017));
        assert_eq!(date_days(" 2016-02-29 "), Some(16_860));
        assert_eq!(date_days("1969-12-31"), Some(-1));
        for bad in [
            "2023-02-31",
            "2015-02-29",
            "2016-13-01",
            "2016-04-31",
            "2016-00-10",
            "2016-1-1",
            "20160101",
            "+02016-01-01",
            "2016-01-01T00:00",
            "",
            "tomorrow",
        ] {
            assert_eq!(date_days(bad), None, "{bad}");
        }
        for d in [-719_528, -1, 0, 1, 16_860, 20_000, 2_932_896] {
            assert_eq!(date_days(&civil_date(d)), Some(d), "{d}");
        }
        assert_eq!(civil_date(16_860), "2016-02-29");
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(1_780_000_000), "2026-05-28T20:26:40Z");
        assert!(now_rfc3339().ends_with('Z'));
    }
}
