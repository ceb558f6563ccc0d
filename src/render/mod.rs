//! Renderers only format: they take a `&Report` and a writer.

pub mod html;
pub mod human;
pub mod json;
pub mod probe;
pub mod tui;
pub mod view;
