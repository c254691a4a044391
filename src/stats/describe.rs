//! Descriptive statistics and least-squares regression for any numeric data (`tracetail stats`).
