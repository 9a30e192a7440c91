//! Choosing a server image: requirements (a TOML document or a one-line form) checked against
//! each candidate's facts — architecture, kind and form, distribution, C library and the glibc
//! symbol versions it provides, applications that must run (decided by compat, as `check`
//! decides), packages required at a version in the distribution's own order or forbidden, kernel
//! release and config, init, agents, size, vulnerabilities, support — then the candidates that
//! pass scored on weighted soft criteria and ranked, every rejection with every reason.
//!
//! This crate opens no image: the caller gives each candidate's facts (and, for app
//! requirements, its compat index).
//!
//! ```no_run
//! use imagewise_select::{rank, Candidate, Requirements};
//!
//! let req = Requirements::from_line("arch=amd64 libc=glibc>=2.31 pkg:coreutils>=8.32")?;
//! let tree = imagewise_source::open("/", &Default::default())?;
//! let facts = imagewise_facts::inspect(&tree);
//! let c = Candidate::new("/", facts);
//! let today = jiff::civil::date(2026, 12, 6);
//! let report = rank(&req, &[c], &[], today);
//! println!("{}", report.render_text());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod catalog;
mod error;
mod rank;
mod spec;
pub mod trust;

pub use error::Error;
pub use rank::{
    dotted_cmp, form_of, rank, unmet, App, Candidate, Part, RankReport, Ranked, Rejected, Summary,
    Unmet, VulnCounts,
};
pub use spec::{
    parse_constraint, AppReq, DistroReq, KernelReq, LibcReq, Op, PackageReq, Requirements, SizeReq,
    SupportReq, TrustReq, VulnReq, Weights,
};
