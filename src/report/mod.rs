//! Presenting results: plots (SVG/PNG), terminal views and the self-contained HTML report.

pub mod html;
pub mod json;
pub mod page;
pub mod plot;
pub mod progress;
pub mod terminal;
