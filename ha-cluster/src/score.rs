//! Scores as Pacemaker counts them.
//!
//! Integers clamped to ±1,000,000 (INFINITY); in a sum, -INFINITY wins over
//! everything, then +INFINITY.

use std::fmt;

/// INFINITY.
pub const INFINITY: i64 = 1_000_000;

/// A score.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Score(i64);

impl Score {
    /// +INFINITY.
    pub const INFINITY: Score = Score(INFINITY);
    /// -INFINITY.
    pub const MINUS_INFINITY: Score = Score(-INFINITY);
    /// Zero.
    pub const ZERO: Score = Score(0);

    /// `value`, clamped.
    pub fn new(value: i64) -> Self {
        Score(value.clamp(-INFINITY, INFINITY))
    }

    /// The number.
    pub fn value(self) -> i64 {
        self.0
    }

    /// Pacemaker's addition: -INF wins, then +INF, else the clamped sum.
    #[allow(clippy::should_implement_trait)]
    pub fn add(self, other: Score) -> Score {
        if self.0 <= -INFINITY || other.0 <= -INFINITY {
            Score::MINUS_INFINITY
        } else if self.0 >= INFINITY || other.0 >= INFINITY {
            Score::INFINITY
        } else {
            Score::new(self.0 + other.0)
        }
    }

    /// Reads `INFINITY`, `+INFINITY`, `-INFINITY`, `inf` or an integer;
    /// as Pacemaker (which reads scores with `strtoll`), an integer
    /// followed by other text is that integer (`1.0` is 1).
    pub fn parse(text: &str) -> Option<Score> {
        match text.trim() {
            "INFINITY" | "+INFINITY" | "inf" | "+inf" | "infinity" => Some(Score::INFINITY),
            "-INFINITY" | "-inf" | "-infinity" => Some(Score::MINUS_INFINITY),
            t => {
                let sign = usize::from(t.starts_with(['+', '-']));
                let digits = t[sign..].bytes().take_while(u8::is_ascii_digit).count();
                if digits == 0 {
                    return None;
                }
                // Too many digits saturate, as strtoll does.
                Some(Score::new(t[..sign + digits].parse::<i64>().unwrap_or(
                    if t.starts_with('-') {
                        i64::MIN
                    } else {
                        i64::MAX
                    },
                )))
            }
        }
    }
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            INFINITY => f.write_str("INFINITY"),
            v if v == -INFINITY => f.write_str("-INFINITY"),
            v => write!(f, "{v}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn infinity_rules() {
        assert_eq!(
            Score::INFINITY.add(Score::MINUS_INFINITY),
            Score::MINUS_INFINITY
        );
        assert_eq!(Score::new(999_999).add(Score::new(5)), Score::INFINITY);
        assert_eq!(Score::parse("-INFINITY"), Some(Score::MINUS_INFINITY));
        assert_eq!(Score::parse("200"), Some(Score::new(200)));
        // Read as strtoll reads: leading digits count, the rest is ignored.
        assert_eq!(Score::parse("12x"), Some(Score::new(12)));
        assert_eq!(Score::parse("1.0"), Some(Score::new(1)));
        assert_eq!(Score::parse("x"), None);
        assert_eq!(Score::new(-5).to_string(), "-5");
    }

    proptest! {
        #[test]
        fn minus_infinity_always_wins(a in -2_000_000i64..2_000_000) {
            prop_assert_eq!(Score::new(a).add(Score::MINUS_INFINITY), Score::MINUS_INFINITY);
            prop_assert_eq!(Score::MINUS_INFINITY.add(Score::new(a)), Score::MINUS_INFINITY);
            let s = Score::new(a).add(Score::new(a));
            prop_assert!(s.value().abs() <= INFINITY);
        }

        #[test]
        fn addition_commutes(a in -2_000_000i64..2_000_000, b in -2_000_000i64..2_000_000) {
            prop_assert_eq!(Score::new(a).add(Score::new(b)), Score::new(b).add(Score::new(a)));
        }
    }
}
