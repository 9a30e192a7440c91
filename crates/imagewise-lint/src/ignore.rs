//! Accepted findings: one `RULE-ID [until=YYYY-MM-DD]` per line, `#` starting a comment (the
//! reason, by convention). An expired line no longer applies, and the report says so.

use jiff::civil::Date;

use crate::error::Error;
use crate::rule::Rule;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreRule {
    pub id: String,
    pub until: Option<Date>,
    pub line: usize,
    /// The comment on the line, if any.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct IgnoreRules {
    pub rules: Vec<IgnoreRule>,
}

impl IgnoreRules {
    pub fn parse(text: &str, catalogue: &[Rule]) -> Result<IgnoreRules, Error> {
        let mut rules = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let (body, reason) = match raw.split_once('#') {
                Some((b, r)) => (b, Some(r.trim().to_string()).filter(|r| !r.is_empty())),
                None => (raw, None),
            };
            let mut words = body.split_whitespace();
            let Some(id) = words.next() else {
                continue;
            };
            if !catalogue.iter().any(|r| r.id == id) {
                return Err(Error::Ignore {
                    line,
                    why: format!("no rule {id:?} (imagewise lint --list-rules shows them)"),
                });
            }
            let mut until = None;
            for w in words {
                match w.split_once('=') {
                    Some(("until", d)) => {
                        until = Some(d.parse::<Date>().map_err(|_| Error::Ignore {
                            line,
                            why: format!("until={d}: not a date (YYYY-MM-DD)"),
                        })?);
                    }
                    _ => {
                        return Err(Error::Ignore {
                            line,
                            why: format!("{w:?}: expected until=YYYY-MM-DD or a # comment"),
                        })
                    }
                }
            }
            rules.push(IgnoreRule {
                id: id.to_string(),
                until,
                line,
                reason,
            });
        }
        Ok(IgnoreRules { rules })
    }

    /// The line that accepts rule `id` today, if any.
    pub(crate) fn active(&self, id: &str, today: Date) -> Option<&IgnoreRule> {
        self.rules
            .iter()
            .find(|r| r.id == id && r.until.is_none_or(|u| u >= today))
    }

    /// Lines whose date has passed.
    pub(crate) fn expired(&self, today: Date) -> Vec<IgnoreRule> {
        self.rules
            .iter()
            .filter(|r| r.until.is_some_and(|u| u < today))
            .cloned()
            .collect()
    }
}
