//! Presenting results: plots (SVG/PNG), terminal views and the self-contained HTML report.

pub mod html;
pub mod plot;
pub mod terminal;
