//! Terminal views: aligned tables and compact histograms.
