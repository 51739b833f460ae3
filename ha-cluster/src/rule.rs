//! Rules: the conditions location constraints and attribute sets hold under.
//!
//! Conditions on node attributes (`#uname eq node1`, `pingd gt 0`), on the
//! date (`in_range`, `gt`, `lt`, `date_spec`), and nested rules, joined by
//! `and` or `or`. A rule's score is its own or a node attribute's
//! (`score-attribute`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::score::Score;
use crate::xml::Element;

/// A condition on a node attribute (`#uname eq node1`, `attr defined`...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expression {
    /// The node attribute (`#uname` is the node's name).
    pub attribute: String,
    /// `eq`, `ne`, `defined`, `not_defined`, `lt`, `gt`, `lte`, `gte`.
    pub operation: String,
    /// The value compared with.
    pub value: Option<String>,
    /// How values compare (`type`: string, integer, number, version);
    /// None: as numbers for `lt`/`gt`/`lte`/`gte`, else as strings.
    #[serde(default)]
    pub value_type: Option<String>,
}

/// A condition on the time the scheduler runs at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DateExpression {
    /// `gt`: after `start`.
    After(i64),
    /// `lt`: before `end`.
    Before(i64),
    /// `in_range`: from `start` (if any) to `end` (if any), inclusive.
    InRange(Option<i64>, Option<i64>),
    /// `date_spec`: each named field (`hours`, `weekdays`, `months`...)
    /// within its range (`9-16`, `1`).
    Spec(BTreeMap<String, (i64, i64)>),
}

/// One part of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Condition {
    /// On a node attribute.
    Attribute(Expression),
    /// On the date.
    Date(DateExpression),
    /// A nested rule.
    Rule(Rule),
    /// On the resource's agent (`rsc_expression`, in resource defaults):
    /// each part given must match.
    Agent {
        /// `class`.
        class: Option<String>,
        /// `provider`.
        provider: Option<String>,
        /// `type`.
        kind: Option<String>,
    },
    /// On the operation (`op_expression`, in operation defaults).
    Operation {
        /// Its name.
        name: String,
        /// Its interval (ms), if given.
        interval_ms: Option<u64>,
    },
}

/// What a rule is evaluated against besides node attributes and the time:
/// the resource's agent (`class:provider:type`) and the operation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Subject<'a> {
    /// The resource's agent.
    pub agent: Option<&'a str>,
    /// The operation's name and interval (ms).
    pub operation: Option<(&'a str, u64)>,
}

/// A rule: its conditions, all (or, with `boolean-op="or"`, any) of which
/// must hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// Any condition suffices (`boolean-op="or"`).
    pub or: bool,
    /// The conditions.
    pub conditions: Vec<Condition>,
    /// The score comes from this node attribute (`score-attribute`).
    pub score_attribute: Option<String>,
}

impl Rule {
    /// Reads a `<rule>` element.
    pub fn from_element(e: &Element) -> Result<Self> {
        let mut conditions = Vec::new();
        for c in &e.children {
            conditions.push(match c.name.as_str() {
                "expression" => Condition::Attribute(Expression {
                    attribute: c.attr("attribute").unwrap_or_default().to_owned(),
                    operation: c.attr("operation").unwrap_or("eq").to_owned(),
                    value: c.attr("value").map(str::to_owned),
                    value_type: c.attr("type").map(str::to_ascii_lowercase),
                }),
                "date_expression" => Condition::Date(date_expression(c)?),
                "rule" => Condition::Rule(Rule::from_element(c)?),
                "rsc_expression" => Condition::Agent {
                    class: c.attr("class").map(str::to_owned),
                    provider: c.attr("provider").map(str::to_owned),
                    kind: c.attr("type").map(str::to_owned),
                },
                "op_expression" => Condition::Operation {
                    name: c.attr("name").unwrap_or_default().to_owned(),
                    interval_ms: match c.attr("interval") {
                        None => None,
                        Some(i) => Some(
                            crate::cib::pacemaker_ms(i)
                                .ok_or_else(|| c.error(format!("bad interval '{i}'")))?,
                        ),
                    },
                },
                _ => continue,
            });
        }
        Ok(Self {
            or: e.attr("boolean-op") == Some("or"),
            conditions,
            score_attribute: e.attr("score-attribute").map(str::to_owned),
        })
    }

    /// Whether the rule holds, given a node's attributes and the time
    /// (None: date conditions do not hold).
    pub fn holds(&self, attribute: &dyn Fn(&str) -> Option<String>, now: Option<i64>) -> bool {
        self.holds_for(attribute, now, Subject::default())
    }

    /// Whether the rule holds, also given the resource and operation it is
    /// about (conditions on them do not hold without them).
    pub fn holds_for(
        &self,
        attribute: &dyn Fn(&str) -> Option<String>,
        now: Option<i64>,
        subject: Subject<'_>,
    ) -> bool {
        let one = |c: &Condition| match c {
            Condition::Attribute(e) => expression_holds(e, attribute(&e.attribute).as_deref()),
            Condition::Date(d) => now.is_some_and(|t| date_holds(d, t)),
            Condition::Rule(r) => r.holds_for(attribute, now, subject),
            Condition::Agent {
                class,
                provider,
                kind,
            } => subject.agent.is_some_and(|agent| {
                let parts: Vec<&str> = agent.split(':').collect();
                let (c, p, t) = match parts.as_slice() {
                    [c, p, t] => (*c, Some(*p), *t),
                    [c, t] => (*c, None, *t),
                    _ => return false,
                };
                class.as_deref().is_none_or(|x| x == c)
                    && provider.as_deref().is_none_or(|x| Some(x) == p)
                    && kind.as_deref().is_none_or(|x| x == t)
            }),
            Condition::Operation { name, interval_ms } => subject
                .operation
                .is_some_and(|(n, i)| n == name && interval_ms.is_none_or(|want| want == i)),
        };
        if self.or {
            self.conditions.iter().any(one)
        } else {
            self.conditions.iter().all(one)
        }
    }

    /// The rule's score on a node: `score`, or the `score-attribute`'s
    /// value there (0 when unset).
    pub fn score(&self, score: Score, attribute: &dyn Fn(&str) -> Option<String>) -> Score {
        match &self.score_attribute {
            Some(name) => attribute(name)
                .and_then(|v| Score::parse(&v))
                .unwrap_or(Score::ZERO),
            None => score,
        }
    }
}

fn expression_holds(e: &Expression, value: Option<&str>) -> bool {
    use std::cmp::Ordering;
    let want = e.value.as_deref();
    let op = e.operation.to_ascii_lowercase();
    match op.as_str() {
        "defined" => return value.is_some(),
        "not_defined" => return value.is_none(),
        _ => {}
    }
    let ordered = matches!(op.as_str(), "lt" | "gt" | "lte" | "gte");
    let cmp = match (value, want) {
        (Some(a), Some(b)) => compare(a, b, e.value_type.as_deref(), ordered),
        (None, None) => Ordering::Equal,
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
    };
    match op.as_str() {
        "eq" => cmp.is_eq(),
        "ne" => cmp.is_ne(),
        // Ordering against a missing value means nothing.
        _ if value.is_none() || want.is_none() => false,
        "lt" => cmp.is_lt(),
        "gt" => cmp.is_gt(),
        "lte" => cmp.is_le(),
        "gte" => cmp.is_ge(),
        _ => false,
    }
}

/// Compares two values as Pacemaker does: by `type`, else as numbers for
/// an ordering (integers unless either has a point), else as strings
/// ignoring case; numbers that do not read compare as strings.
fn compare(a: &str, b: &str, value_type: Option<&str>, ordered: bool) -> std::cmp::Ordering {
    let by_string = || a.to_ascii_lowercase().cmp(&b.to_ascii_lowercase());
    let value_type = value_type.unwrap_or(match (ordered, a.contains('.') || b.contains('.')) {
        (false, _) => "string",
        (true, true) => "number",
        (true, false) => "integer",
    });
    match value_type {
        "integer" => match (leading_integer(a), leading_integer(b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => by_string(),
        },
        "number" => match (leading_number(a), leading_number(b)) {
            (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
            _ => by_string(),
        },
        "version" => compare_versions(a, b),
        _ => by_string(),
    }
}

/// The integer a value starts with (`3.6` reads as 3, as strtoll does).
fn leading_integer(text: &str) -> Option<i64> {
    let t = text.trim_start();
    let digits = t
        .char_indices()
        .take_while(|(i, c)| c.is_ascii_digit() || (*i == 0 && (*c == '-' || *c == '+')))
        .count();
    t[..digits].parse().ok()
}

/// The number a value starts with (as strtod reads it).
fn leading_number(text: &str) -> Option<f64> {
    // A number is short: a longer prefix is not one.
    let t: String = text.trim_start().chars().take(64).collect();
    (1..=t.len())
        .rev()
        .filter(|&n| t.is_char_boundary(n))
        .find_map(|n| t[..n].parse::<f64>().ok().filter(|v| v.is_finite()))
}

/// Dotted versions, field by field as numbers (`1.10` after `1.9`).
fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    let fields = |v: &str| -> Vec<i64> {
        v.split('.')
            .map(|f| leading_integer(f).unwrap_or(0))
            .collect()
    };
    let (x, y) = (fields(a), fields(b));
    for i in 0..x.len().max(y.len()) {
        let o = x.get(i).unwrap_or(&0).cmp(y.get(i).unwrap_or(&0));
        if o.is_ne() {
            return o;
        }
    }
    std::cmp::Ordering::Equal
}

fn date_expression(e: &Element) -> Result<DateExpression> {
    let date = |attr: &str| -> Result<Option<i64>> {
        match e.attr(attr) {
            None => Ok(None),
            Some(text) => parse_date(text)
                .map(Some)
                .ok_or_else(|| e.error(format!("bad date '{text}'"))),
        }
    };
    Ok(match e.attr("operation").unwrap_or("in_range") {
        "gt" => DateExpression::After(date("start")?.ok_or_else(|| e.error("no start"))?),
        "lt" => DateExpression::Before(date("end")?.ok_or_else(|| e.error("no end"))?),
        "date_spec" => {
            let mut fields = BTreeMap::new();
            if let Some(spec) = e.child("date_spec") {
                for (name, value) in &spec.attributes {
                    if name == "id" {
                        continue;
                    }
                    let range = parse_range(value)
                        .ok_or_else(|| spec.error(format!("bad range '{value}'")))?;
                    fields.insert(name.clone(), range);
                }
            }
            DateExpression::Spec(fields)
        }
        _ => {
            let start = date("start")?;
            let mut end = date("end")?;
            if end.is_none()
                && let (Some(s), Some(d)) = (start, e.child("duration"))
            {
                end = Some(s + duration_seconds(d));
            }
            DateExpression::InRange(start, end)
        }
    })
}

fn parse_range(text: &str) -> Option<(i64, i64)> {
    match text.split_once('-') {
        Some((a, b)) => Some((a.trim().parse().ok()?, b.trim().parse().ok()?)),
        None => {
            let n = text.trim().parse().ok()?;
            Some((n, n))
        }
    }
}

fn duration_seconds(e: &Element) -> i64 {
    let n = |k: &str| e.attr(k).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
    n("years") * 365 * 86_400
        + n("months") * 30 * 86_400
        + n("weeks") * 7 * 86_400
        + n("days") * 86_400
        + n("hours") * 3_600
        + n("minutes") * 60
        + n("seconds")
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Reads an ISO 8601 date as Pacemaker writes them (`2019-09-23`,
/// `2019-09-23 05:00:00 -05:00`, `2019-09-23T05:00:00Z`, ordinal
/// `2005-001`) as seconds since the epoch.
pub fn parse_date(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, rest) = match text.find([' ', 'T']) {
        Some(i) => (&text[..i], text[i + 1..].trim()),
        None => (text, ""),
    };
    let parts: Vec<&str> = date.split('-').collect();
    let days = match parts.as_slice() {
        [y, m, d] => days_from_civil(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?),
        [y, doy] => days_from_civil(y.parse().ok()?, 1, 1) + doy.parse::<i64>().ok()? - 1,
        [y] => days_from_civil(y.parse().ok()?, 1, 1),
        _ => return None,
    };
    let (time, zone) = match rest.find(['+', '-', 'Z', ' ']) {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    let mut seconds = 0;
    if !time.is_empty() {
        let hms: Vec<i64> = time
            .split(':')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        seconds = hms.first().copied().unwrap_or(0) * 3_600
            + hms.get(1).copied().unwrap_or(0) * 60
            + hms.get(2).copied().unwrap_or(0);
    }
    let offset = match zone.chars().next() {
        Some(sign @ ('+' | '-')) => {
            let (h, m) = zone[1..].split_once(':').unwrap_or((&zone[1..], "0"));
            let o = h.parse::<i64>().ok()? * 3_600 + m.parse::<i64>().ok()? * 60;
            if sign == '-' { -o } else { o }
        }
        _ => 0,
    };
    Some(days * 86_400 + seconds - offset)
}

fn date_holds(d: &DateExpression, now: i64) -> bool {
    match d {
        DateExpression::After(start) => now > *start,
        DateExpression::Before(end) => now < *end,
        DateExpression::InRange(start, end) => {
            start.is_none_or(|s| now >= s) && end.is_none_or(|e| now <= e)
        }
        DateExpression::Spec(fields) => {
            let days = now.div_euclid(86_400);
            let secs = now.rem_euclid(86_400);
            let (year, month, day) = civil_from_days(days);
            let yearday = days - days_from_civil(year, 1, 1) + 1;
            // 1970-01-01 was a Thursday; ISO weekdays run 1 (Monday) to 7.
            let weekday = (days + 3).rem_euclid(7) + 1;
            fields.iter().all(|(name, (lo, hi))| {
                let value = match name.as_str() {
                    "hours" => secs / 3_600,
                    "minutes" => secs % 3_600 / 60,
                    "seconds" => secs % 60,
                    "monthdays" => day,
                    "weekdays" => weekday,
                    "yeardays" => yearday,
                    "months" => month,
                    "years" => year,
                    _ => return true,
                };
                (*lo..=*hi).contains(&value)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_compare_as_pacemaker_compares_them() {
        let holds = |op: &str, have: Option<&str>, want: &str, kind: Option<&str>| {
            expression_holds(
                &Expression {
                    attribute: "a".into(),
                    operation: op.into(),
                    value: Some(want.into()),
                    value_type: kind.map(str::to_owned),
                },
                have,
            )
        };
        assert!(
            holds("eq", Some("3.4"), "3.6", Some("integer")),
            "integers truncate"
        );
        assert!(!holds("eq", Some("3.4"), "3.6", Some("number")));
        assert!(holds("gt", Some("10"), "9", None), "ordered: as integers");
        assert!(!holds("gt", Some("10"), "9", Some("string")));
        assert!(
            holds("eq", Some("Node1"), "node1", None),
            "strings ignore case"
        );
        assert!(holds("gt", Some("1.10"), "1.9", Some("version")));
        assert!(holds("ne", None, "x", None) && !holds("lt", None, "x", None));
    }

    #[test]
    fn dates_read_as_pacemaker_writes_them() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(
            parse_date("1970-01-02 00:00:00 +01:00"),
            Some(86_400 - 3_600)
        );
        assert_eq!(
            parse_date("2019-09-23 05:00:00 -05:00"),
            Some(1_569_232_800)
        );
        assert_eq!(parse_date("2005-001"), parse_date("2005-01-01"));
        assert_eq!(parse_date("soon"), None);
    }

    #[test]
    fn date_specs_match_the_calendar() {
        // 2019-09-23 12:30 UTC was a Monday.
        let t = parse_date("2019-09-23 12:30:00").unwrap();
        let spec = |k: &str, r| DateExpression::Spec([(k.to_owned(), r)].into());
        assert!(date_holds(&spec("hours", (12, 12)), t));
        assert!(date_holds(&spec("weekdays", (1, 5)), t));
        assert!(!date_holds(&spec("months", (1, 8)), t));
        assert!(date_holds(&spec("yeardays", (266, 266)), t));
    }
}
