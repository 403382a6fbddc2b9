//! Everything a user sees, computed from the store's data with no I/O.

pub mod html;
pub mod media;
pub mod post;
