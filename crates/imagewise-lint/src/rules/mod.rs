//! The catalogue, one module per family. Every check reads the image (its facts, its metadata,
//! the few files asked for in [`crate::context`]), never the host.

use crate::rule::{Refs, Rule};

mod accounts;
mod files;
mod kernel;
pub(crate) mod secrets;
mod services;
mod shape;
mod tuning;
mod vm;

pub(crate) const NO_REFS: Refs = Refs {
    cis: &[],
    dockle: &[],
    ssg: &[],
    lynis: &[],
};

/// Every rule, sorted by id.
pub fn catalogue() -> Vec<Rule> {
    let mut v: Vec<Rule> = [
        accounts::RULES,
        files::RULES,
        secrets::RULES,
        services::RULES,
        kernel::RULES,
        tuning::RULES,
        shape::RULES,
        vm::RULES,
    ]
    .concat();
    v.sort_by_key(|r| r.id);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_stable_words_and_every_rule_says_why_and_how() {
        let c = catalogue();
        for w in c.windows(2) {
            assert_ne!(w[0].id, w[1].id, "duplicate id");
        }
        for r in &c {
            assert!(
                r.id.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{}",
                r.id
            );
            assert!(r.why.ends_with('.') && r.why.len() > 20, "{}: why", r.id);
            assert!(!r.fix.is_empty(), "{}: fix", r.id);
            assert!(!r.title.is_empty(), "{}: title", r.id);
            for p in r.profiles {
                assert!(
                    crate::profile::BUILTIN.iter().any(|(b, _)| b == p),
                    "{}: unknown profile {p}",
                    r.id
                );
            }
        }
    }

    #[test]
    fn docs_list_every_rule() {
        let docs =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/lint.md"))
                .expect("docs/lint.md");
        for r in catalogue() {
            assert!(
                docs.contains(&format!("`{}`", r.id)),
                "docs/lint.md does not list {}",
                r.id
            );
        }
    }
}
