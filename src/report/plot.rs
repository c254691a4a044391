//! Plots of latency distributions, rendered to SVG or PNG with an embedded font.
