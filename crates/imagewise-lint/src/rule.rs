//! What a rule is: a stable id, a title, a level, where it applies, the profiles it belongs to,
//! why it matters, how to fix it, the equivalent checks of other tools — and a check over the
//! facts (and the few files the rules read).

use imagewise_facts::ImageKind;
use imagewise_types::Level;
use serde::Serialize;

use crate::context::Ctx;

/// How an image is wrapped, which decides who sets what: a container's kernel, sysctls and
/// services belong to its host; a VM disk boots on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// A container image: docker-archive, OCI layout or archive (it has a configuration).
    Container,
    /// A VM disk: raw or qcow2.
    Vm,
    /// A root filesystem as a directory or tarball (a chroot, a machine's `/`, a rootfs tar).
    Rootfs,
}

impl Target {
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Container => "container",
            Target::Vm => "vm",
            Target::Rootfs => "rootfs",
        }
    }
}

/// Rule families, as `--list-rules` groups them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    Accounts,
    Files,
    Services,
    Kernel,
    Tuning,
    Shape,
    Vm,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Accounts => "accounts and access",
            Family::Files => "files",
            Family::Services => "services and logging",
            Family::Kernel => "kernel and hardening",
            Family::Tuning => "tuning for a workload",
            Family::Shape => "image shape",
            Family::Vm => "VM disks",
        }
    }
}

/// The equivalent checks of other tools, where one exists.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Refs {
    /// CIS benchmark recommendations (Debian Linux, or Docker section 4 for containers).
    pub cis: &'static [&'static str],
    /// dockle checkpoints (`CIS-DI-xxxx`, `DKL-DI-xxxx`, `DKL-LI-xxxx`).
    pub dockle: &'static [&'static str],
    /// SCAP Security Guide rule ids (`xccdf_org.ssgproject.content_rule_` + this).
    pub ssg: &'static [&'static str],
    /// lynis test ids.
    pub lynis: &'static [&'static str],
}

/// The verdict of one rule's check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    /// What is wrong: paths, values, package names.
    Fail(Vec<String>),
    /// The rule has nothing to judge here, and why (no sshd, no kernel).
    NotApplicable(String),
    /// The rule could not decide: a file it needs is unreadable or malformed.
    Unknown(String),
}

impl Outcome {
    /// Fail with this evidence; without any, unknown when files could not be read (`problems`,
    /// never a pass on what was not read), else pass.
    pub fn judged(evidence: Vec<String>, problems: &[String]) -> Outcome {
        if !evidence.is_empty() {
            Outcome::Fail(evidence)
        } else if !problems.is_empty() {
            Outcome::Unknown(problems.join("; "))
        } else {
            Outcome::Pass
        }
    }

    /// Fail with this evidence, or pass when there is none.
    pub fn failures(evidence: Vec<String>) -> Outcome {
        if evidence.is_empty() {
            Outcome::Pass
        } else {
            Outcome::Fail(evidence)
        }
    }
}

/// One rule of the catalogue.
#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    /// Stable, lowercase, hyphenated (`ssh-root-login`).
    pub id: &'static str,
    pub title: &'static str,
    pub level: Level,
    pub family: Family,
    /// Where it applies; empty: everywhere.
    pub targets: &'static [Target],
    /// Which kinds of image it applies to; empty: every kind.
    pub kinds: &'static [ImageKind],
    /// The built-in profiles it belongs to.
    pub profiles: &'static [&'static str],
    /// The cost of ignoring it, in a sentence.
    pub why: &'static str,
    /// The command or configuration line that fixes it.
    pub fix: &'static str,
    pub refs: Refs,
    #[serde(skip)]
    pub(crate) check: fn(&Ctx<'_>) -> Outcome,
}

impl Rule {
    /// Whether the rule has anything to say about an image of this wrapping and kind.
    pub fn applies(&self, target: Target, kind: ImageKind) -> bool {
        (self.targets.is_empty() || self.targets.contains(&target))
            && (self.kinds.is_empty() || self.kinds.contains(&kind))
    }
}
