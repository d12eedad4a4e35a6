//! The image companion (`xrun image ...`): docker-save and OCI archives turned into OCI
//! bundles, either flattened (`unpack`) or through a content-addressed layer store with
//! overlayfs bundles (`load`, `bundle`, `commit`, `save`).
//!
//! Data flow: `archive` finds the images and blobs inside a tarball, `layer` streams each
//! layer (decompressed, hashed, applied through `fsops`), `config` turns the image config
//! into a runtime spec, and `store` keeps layers and images for overlay bundles.

pub mod archive;
pub mod cli;
pub mod config;
pub mod digest;
pub mod fsops;
pub mod idmap;
pub mod layer;
pub mod progress;
pub mod store;
pub mod unpack;
