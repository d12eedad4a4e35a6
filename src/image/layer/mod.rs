//! Layers: decompression, applying a layer tar onto a directory (flattened rootfs or an
//! overlay layer directory), whiteouts, and the tar-split record that lets a stored layer be
//! written back byte for byte.

pub mod apply;
pub mod decompress;
mod entry;
pub mod split;
pub mod stream;
mod whiteout;
mod writer;

pub use apply::{Applier, ApplyOptions, LayerMode, Stats};

/// The `.wh.` prefix of whiteout entries and the opaque-directory marker.
pub const WHITEOUT_PREFIX: &str = ".wh.";
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";
/// The xattr overlayfs reads to make a directory opaque.
pub const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";
