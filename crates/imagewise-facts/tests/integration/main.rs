//! Facts checked against the reference tools on real images.
#![allow(clippy::unwrap_used)]
