//! Pacemaker's values as text: booleans and intervals.

/// A Pacemaker boolean (`true`, `yes`, `on`, `y`, `1` and their opposites,
/// any case); anything else is `default`.
pub(crate) fn truthy(v: Option<&str>, default: bool) -> bool {
    match v.map(str::to_ascii_lowercase).as_deref() {
        Some("true" | "yes" | "1" | "on" | "y") => true,
        Some("false" | "no" | "0" | "off" | "n") => false,
        _ => default,
    }
}

/// A Pacemaker interval or timeout (`60`, `60s`, `10min`, `2h`, `500ms`,
/// or ISO 8601 `PT1M30S`; see [`ha_core::duration::pacemaker`]) in
/// milliseconds, as the CIB's operations and rules count them.
pub(crate) fn pacemaker_ms(text: &str) -> Option<u64> {
    let duration = ha_core::duration::pacemaker(text).ok()?;
    u64::try_from(duration.as_millis()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_read_as_pacemaker_writes_them() {
        assert_eq!(pacemaker_ms("60"), Some(60_000));
        assert_eq!(pacemaker_ms("10min"), Some(600_000));
        assert_eq!(pacemaker_ms("500ms"), Some(500));
        assert_eq!(pacemaker_ms("PT1M30S"), Some(90_000));
        assert_eq!(pacemaker_ms("soon"), None);
    }

    #[test]
    fn booleans_take_pacemakers_spellings() {
        assert!(truthy(Some("Yes"), false));
        assert!(!truthy(Some("off"), true));
        assert!(truthy(Some("maybe"), true));
        assert!(!truthy(None, false));
    }
}
