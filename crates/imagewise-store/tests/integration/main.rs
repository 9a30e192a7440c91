//! Store tests against real trees and the real tools.
#![allow(clippy::unwrap_used)]
