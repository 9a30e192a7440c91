//! Integration tests of `imagewise-source`: hand-made hostile and edge-case inputs (built here,
//! byte by byte), and the real fixture images from `scripts/fixtures.sh`.

#![allow(clippy::unwrap_used)]

mod disks;
mod formats;
mod hostile;
mod mutation;
mod oci_index;
mod real_images;
mod sparse;
mod support;
mod tar_reading;
