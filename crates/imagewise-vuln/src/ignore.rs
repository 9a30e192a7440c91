//! Accepted findings: an ignore file, one rule per line.
//!
//! ```text
//! # comment
//! CVE-2023-4911                          # any package
//! DEBIAN-CVE-2024-2961 package=libc6     # only this binary package
//! CVE-2011-3374 until=2027-01-01         # until a date (UTC); expired rules are reported
//! ```
//! A rule names an advisory id or any of its aliases.

use crate::scan::Finding;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    pub package: Option<String>,
    pub until: Option<jiff::civil::Date>,
    pub line: usize,
}

/// A line of an ignore file that is not a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {detail}")]
pub struct IgnoreError {
    pub line: usize,
    pub detail: String,
}

impl imagewise_types::HasKind for IgnoreError {
    fn kind(&self) -> imagewise_types::ErrorKind {
        imagewise_types::ErrorKind::Usage
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IgnoreRules {
    pub rules: Vec<Rule>,
}

impl IgnoreRules {
    /// Parse an ignore file; the error names the line and what is wrong with it.
    pub fn parse(text: &str) -> Result<IgnoreRules, IgnoreError> {
        let mut rules = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let mut words = line.split_whitespace();
            let id = words.next().unwrap_or_default().to_string();
            let mut rule = Rule {
                id,
                package: None,
                until: None,
                line: i + 1,
            };
            for w in words {
                match w.split_once('=') {
                    Some(("package", p)) if !p.is_empty() => rule.package = Some(p.to_string()),
                    Some(("until", d)) => {
                        rule.until = Some(d.parse().map_err(|_| IgnoreError {
                            line: i + 1,
                            detail: format!("until={d} is not a date (YYYY-MM-DD)"),
                        })?)
                    }
                    _ => {
                        return Err(IgnoreError {
                            line: i + 1,
                            detail: format!(
                                "{w:?} is not understood; a rule is `ID [package=NAME] [until=YYYY-MM-DD]`"
                            ),
                        })
                    }
                }
            }
            rules.push(rule);
        }
        Ok(IgnoreRules { rules })
    }

    /// Remove the findings a rule in force covers; returns (ignored count, expired rules).
    pub fn apply(
        &self,
        findings: &mut Vec<Finding>,
        today: jiff::civil::Date,
    ) -> (usize, Vec<&Rule>) {
        let live: Vec<&Rule> = self
            .rules
            .iter()
            .filter(|r| r.until.is_none_or(|u| u >= today))
            .collect();
        let expired = self
            .rules
            .iter()
            .filter(|r| r.until.is_some_and(|u| u < today))
            .collect();
        let before = findings.len();
        findings.retain(|f| {
            !live.iter().any(|r| {
                (r.id == f.id || f.aliases.contains(&r.id))
                    && r.package.as_ref().is_none_or(|p| *p == f.package)
            })
        });
        (before - findings.len(), expired)
    }
}
