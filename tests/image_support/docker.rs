//! Fixtures made by a private dockerd 20.10, podman and skopeo (filled in below).
