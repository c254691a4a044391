//! Presenting results: plots (SVG/PNG), terminal views and the self-contained HTML report.

pub mod explorer;
pub mod html;
pub mod plot;
pub mod progress;
pub mod raster;
pub mod terminal;
