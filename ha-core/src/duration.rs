//! Durations written the way HAProxy, keepalived and Pacemaker write them.
//!
//! Their configuration files are imported by ha-rs, and they disagree on
//! what a bare number means: HAProxy reads `timeout connect 5000` as
//! milliseconds and only takes whole numbers, keepalived reads
//! `advert_int 0.2` as (possibly fractional) seconds. Both accept the
//! suffixes `us`, `ms`, `s`, `m`, `h` and `d`. Pacemaker reads bare numbers
//! as seconds, spells its units `ms`/`msec`, `us`/`usec`, `s`/`sec`,
//! `m`/`min`, `h`/`hr`, and also takes ISO 8601 durations (`PT1M30S`).
//!
//! Parsing is exact: fractions are handled in decimal, never through floating
//! point, so `0.1` is exactly 100 ms.

use std::time::Duration;

use crate::error::{Error, Result};

/// Which daemon's rules a duration follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurationStyle {
    /// Bare numbers are milliseconds; only whole numbers (`5000`, `2s`).
    Haproxy,
    /// Bare numbers are seconds; fractions allowed (`0.2`, `1.5s`).
    Keepalived,
}

impl DurationStyle {
    fn bare_unit_nanos(self) -> u128 {
        match self {
            DurationStyle::Haproxy => NANOS_PER_MS,
            DurationStyle::Keepalived => NANOS_PER_S,
        }
    }

    fn expected(self) -> &'static str {
        match self {
            DurationStyle::Haproxy => {
                "expected a whole number with an optional unit (us, ms, s, m, h, d); \
                 a bare number is milliseconds"
            }
            DurationStyle::Keepalived => {
                "expected a number (fractions allowed) with an optional unit \
                 (us, ms, s, m, h, d); a bare number is seconds"
            }
        }
    }
}

const NANOS_PER_US: u128 = 1_000;
const NANOS_PER_MS: u128 = 1_000_000;
const NANOS_PER_S: u128 = 1_000_000_000;
/// More fractional digits than this cannot change a nanosecond result of any
/// unit we accept, and bounds the arithmetic.
const MAX_FRACTION_DIGITS: usize = 18;

/// Parses `input` as a duration in the given style.
///
/// Surrounding whitespace is ignored; anything else that is not a number
/// followed by a known unit is an error whose message says what was expected.
///
/// ```
/// use std::time::Duration;
/// use ha_core::duration::{parse_duration, DurationStyle};
///
/// assert_eq!(parse_duration("5000", DurationStyle::Haproxy)?, Duration::from_secs(5));
/// assert_eq!(parse_duration("0.2", DurationStyle::Keepalived)?, Duration::from_millis(200));
/// assert!(parse_duration("1.5s", DurationStyle::Haproxy).is_err());
/// # Ok::<(), ha_core::Error>(())
/// ```
pub fn parse_duration(input: &str, style: DurationStyle) -> Result<Duration> {
    let fail = |reason: &str| Error::InvalidDuration {
        input: input.to_owned(),
        reason: reason.to_owned(),
    };
    let text = input.trim();
    if text.is_empty() {
        return Err(fail(style.expected()));
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit_nanos = match unit {
        "" => style.bare_unit_nanos(),
        "us" => NANOS_PER_US,
        "ms" => NANOS_PER_MS,
        "s" => NANOS_PER_S,
        "m" => 60 * NANOS_PER_S,
        "h" => 3_600 * NANOS_PER_S,
        "d" => 86_400 * NANOS_PER_S,
        _ => return Err(fail(style.expected())),
    };
    let (whole, fraction) = match number.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (number, None),
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(fail(style.expected()));
    }
    let mut nanos = parse_whole(whole)
        .and_then(|w| w.checked_mul(unit_nanos))
        .ok_or_else(|| fail("value is too large"))?;
    if let Some(fraction) = fraction {
        if style == DurationStyle::Haproxy {
            return Err(fail(style.expected()));
        }
        if fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return Err(fail(style.expected()));
        }
        if fraction.len() > MAX_FRACTION_DIGITS {
            return Err(fail("too many fractional digits"));
        }
        let scale = 10u128.pow(fraction.len() as u32);
        let digits: u128 = fraction.parse().map_err(|_| fail(style.expected()))?;
        nanos = nanos
            .checked_add(digits * unit_nanos / scale)
            .ok_or_else(|| fail("value is too large"))?;
    }
    let secs = u64::try_from(nanos / NANOS_PER_S).map_err(|_| fail("value is too large"))?;
    Ok(Duration::new(secs, (nanos % NANOS_PER_S) as u32))
}

fn parse_whole(digits: &str) -> Option<u128> {
    // u128 holds 38 decimal digits; anything longer overflows every unit.
    if digits.len() > 38 {
        return None;
    }
    digits.parse().ok()
}

/// Parses an HAProxy-style duration: bare numbers are milliseconds.
pub fn haproxy(input: &str) -> Result<Duration> {
    parse_duration(input, DurationStyle::Haproxy)
}

/// Parses a keepalived-style duration: bare numbers are seconds, fractions allowed.
pub fn keepalived(input: &str) -> Result<Duration> {
    parse_duration(input, DurationStyle::Keepalived)
}

/// Parses a Pacemaker interval or timeout (`60`, `60s`, `10min`, `2h`,
/// `500ms`, or ISO 8601 `PT1M30S`), as Pacemaker's `crm_get_msec` reads
/// them: bare numbers are seconds, microseconds are truncated to whole
/// milliseconds.
///
/// ```
/// use std::time::Duration;
/// use ha_core::duration;
///
/// assert_eq!(duration::pacemaker("10min")?, Duration::from_secs(600));
/// assert_eq!(duration::pacemaker("PT1M30S")?, Duration::from_secs(90));
/// assert!(duration::pacemaker("soon").is_err());
/// # Ok::<(), ha_core::Error>(())
/// ```
pub fn pacemaker(input: &str) -> Result<Duration> {
    const EXPECTED: &str = "expected a whole number with an optional unit (ms, us, s, min, h) \
                            or an ISO 8601 duration (PT1M30S); a bare number is seconds";
    let fail = |reason: &str| Error::InvalidDuration {
        input: input.to_owned(),
        reason: reason.to_owned(),
    };
    let text = input.trim();
    let millis = match text.strip_prefix(['P', 'p']) {
        Some(iso) => iso8601_millis(iso),
        None => {
            let split = text
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(text.len());
            let number: Option<u64> = text[..split].parse().ok();
            let unit_ms = match text[split..].trim() {
                "" | "s" | "sec" => Some(1_000),
                "ms" | "msec" => Some(1),
                "us" | "usec" => Some(0),
                "m" | "min" => Some(60_000),
                "h" | "hr" => Some(3_600_000),
                _ => None,
            };
            match (number, unit_ms) {
                (Some(n), Some(0)) => Some(n / 1_000),
                (Some(n), Some(unit)) => n.checked_mul(unit),
                _ => None,
            }
        }
    };
    millis
        .map(Duration::from_millis)
        .ok_or_else(|| fail(EXPECTED))
}

/// An ISO 8601 duration after its `P` (`1DT2H`, `T1M30S`; Pacemaker also
/// takes `10S` without the `T`), in milliseconds; months are 30 days and
/// years 365, as Pacemaker counts them.
fn iso8601_millis(iso: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut number: Option<u64> = None;
    let mut in_time = false;
    for ch in iso.chars() {
        if let Some(digit) = ch.to_digit(10) {
            number = Some(
                number
                    .unwrap_or(0)
                    .checked_mul(10)?
                    .checked_add(digit.into())?,
            );
            continue;
        }
        let unit = ch.to_ascii_uppercase();
        if unit == 'T' && number.is_none() {
            in_time = true;
            continue;
        }
        let unit_ms: u64 = match (unit, in_time) {
            ('Y', false) => 365 * 86_400_000,
            ('M', false) => 30 * 86_400_000,
            ('W', false) => 7 * 86_400_000,
            ('D', false) => 86_400_000,
            ('H', _) => 3_600_000,
            ('M', true) => 60_000,
            ('S', _) => 1_000,
            _ => return None,
        };
        total = total.checked_add(number.take()?.checked_mul(unit_ms)?)?;
    }
    number.is_none().then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pacemaker_intervals() {
        let ms = |t| pacemaker(t).map(|d| d.as_millis()).ok();
        assert_eq!(ms("60"), Some(60_000));
        assert_eq!(ms("10min"), Some(600_000));
        assert_eq!(ms("500ms"), Some(500));
        assert_eq!(ms("1500us"), Some(1));
        assert_eq!(ms("PT1M30S"), Some(90_000));
        assert_eq!(ms("P1DT2H"), Some(93_600_000));
        assert_eq!(ms("P10S"), Some(10_000));
        assert_eq!(ms("soon"), None);
        assert_eq!(ms("PT"), Some(0));
        assert_eq!(ms("PT5"), None);
        assert_eq!(ms("P99999999999999999999Y"), None);
    }

    proptest! {
        #[test]
        fn pacemaker_never_panics(input in ".{0,40}") {
            let _ = pacemaker(&input);
        }
    }

    #[test]
    fn haproxy_bare_numbers_are_milliseconds() {
        assert_eq!(haproxy("5000").unwrap(), Duration::from_millis(5000));
        assert_eq!(haproxy("0").unwrap(), Duration::ZERO);
        assert_eq!(haproxy(" 30000 ").unwrap(), Duration::from_secs(30));
    }

    #[test]
    fn suffixes() {
        for style in [DurationStyle::Haproxy, DurationStyle::Keepalived] {
            let p = |s| parse_duration(s, style).unwrap();
            assert_eq!(p("250us"), Duration::from_micros(250));
            assert_eq!(p("10ms"), Duration::from_millis(10));
            assert_eq!(p("2s"), Duration::from_secs(2));
            assert_eq!(p("3m"), Duration::from_secs(180));
            assert_eq!(p("1h"), Duration::from_secs(3600));
            assert_eq!(p("1d"), Duration::from_secs(86_400));
        }
    }

    #[test]
    fn keepalived_bare_numbers_are_seconds_and_may_be_fractional() {
        assert_eq!(keepalived("1").unwrap(), Duration::from_secs(1));
        assert_eq!(keepalived("0.2").unwrap(), Duration::from_millis(200));
        assert_eq!(keepalived("0.1").unwrap(), Duration::from_millis(100));
        assert_eq!(keepalived("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(keepalived("2.5ms").unwrap(), Duration::from_micros(2500));
        assert_eq!(keepalived("0.000000001").unwrap(), Duration::from_nanos(1));
    }

    #[test]
    fn bad_input_says_what_was_expected() {
        for bad in [
            "", "  ", "abc", "5 s", "5sec", "-1", "+1", "1e3", "ms", ".5", "5.", "1..2",
        ] {
            let err = keepalived(bad).unwrap_err().to_string();
            assert!(err.contains("expected"), "{bad:?}: {err}");
            assert!(err.contains(&format!("{bad:?}")), "{bad:?}: {err}");
        }
        let err = haproxy("1.5s").unwrap_err().to_string();
        assert!(err.contains("whole number"), "{err}");
        assert!(err.contains("milliseconds"), "{err}");
        let err = keepalived("x").unwrap_err().to_string();
        assert!(err.contains("bare number is seconds"), "{err}");
    }

    #[test]
    fn overflow_is_an_error() {
        let err = haproxy("99999999999999999999999d").unwrap_err().to_string();
        assert!(err.contains("too large"), "{err}");
        let err = haproxy(&"9".repeat(60)).unwrap_err().to_string();
        assert!(err.contains("too large"), "{err}");
        assert!(keepalived(&format!("1.{}", "0".repeat(40))).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in ".*") {
            let _ = haproxy(&s);
            let _ = keepalived(&s);
        }

        #[test]
        fn whole_milliseconds_round_trip(ms in 0u64..=u64::MAX / 1_000_000) {
            prop_assert_eq!(haproxy(&ms.to_string()).unwrap(), Duration::from_millis(ms));
            prop_assert_eq!(haproxy(&format!("{ms}ms")).unwrap(), Duration::from_millis(ms));
            prop_assert_eq!(keepalived(&format!("{ms}ms")).unwrap(), Duration::from_millis(ms));
        }

        #[test]
        fn keepalived_fractions_are_exact(secs in 0u64..1_000_000, millis in 0u32..1000) {
            let text = format!("{secs}.{millis:03}");
            prop_assert_eq!(
                keepalived(&text).unwrap(),
                Duration::from_secs(secs) + Duration::from_millis(u64::from(millis))
            );
        }
    }
}
