//! How bad something is: the severity of a vulnerability finding or a lint finding.

use serde::{Deserialize, Serialize};

/// Qualitative severity, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// No rating anywhere.
    Unknown,
    /// Rated but not worth fixing on its own (Debian `unimportant`, Ubuntu `negligible`, CVSS 0).
    Negligible,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Unknown => "unknown",
            Level::Negligible => "negligible",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    /// A distribution's word for a rating; `None` for "not yet assigned" and the like.
    pub fn from_word(w: &str) -> Option<Level> {
        Some(match w.trim().to_ascii_lowercase().as_str() {
            "critical" => Level::Critical,
            "high" | "important" => Level::High,
            "medium" | "moderate" => Level::Medium,
            "low" => Level::Low,
            "negligible" | "unimportant" | "none" => Level::Negligible,
            _ => return None,
        })
    }
}

impl std::str::FromStr for Level {
    type Err = crate::UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "unknown" => Ok(Level::Unknown),
            _ => Level::from_word(s).ok_or_else(|| {
                crate::UnknownName::new("severity", s, "negligible, low, medium, high or critical")
            }),
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
