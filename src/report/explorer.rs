//! The report's interactive picture: transactions as points over time, with each point's
//! value and transaction on hover, zoom into the tail, and groups to toggle. The page carries
//! the data as JSON and `explorer.js` (written for this report, inlined) draws it; without
//! JavaScript the explorer stays hidden and the static SVG pictures tell the story.

use std::collections::HashMap;
use std::fmt::Write;

use super::html::escape;
use super::plot::DurationUnit;
use crate::analyzers::{DnsTransaction, HttpTransaction};
use crate::units::{epoch_ns_to_rfc3339, thousands};

/// The script every report page inlines (explorers and sortable tables).
pub const SCRIPT: &str = include_str!("explorer.js");

/// Points held in memory before thinning; memory stays bounded on any capture.
const MEMORY_CAP: usize = 200_000;
/// Points written into the page: the slowest always, an even sample of the rest.
const PAGE_POINTS: usize = 4_000;
const PAGE_SLOWEST: usize = 400;

struct Point {
    t_ns: i64,
    value_ns: i64,
    group: u32,
    from: String,
    to: String,
    what: String,
}

/// Transactions for one interactive picture.
pub struct Explorer {
    metric: String,
    groups: Vec<String>,
    /// Transactions seen per group (kept or not): the page orders groups as the static
    /// pictures do, largest first, so a group has the same colour in both.
    counts: Vec<u64>,
    index: HashMap<String, u32>,
    points: Vec<Point>,
    seen: u64,
    /// After thinning, only every `keep_every`-th new point is kept, or one at least as slow
    /// as `slow_floor`.
    keep_every: u64,
    slow_floor: i64,
}

impl Explorer {
    pub fn new(metric: &str) -> Self {
        Explorer {
            metric: metric.to_string(),
            groups: Vec::new(),
            counts: Vec::new(),
            index: HashMap::new(),
            points: Vec::new(),
            seen: 0,
            keep_every: 1,
            slow_floor: i64::MAX,
        }
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// One transaction: when it started, its latency, its group, its endpoints and what it
    /// was (`GET /index.html → 200`, `A example.com`).
    pub fn add(
        &mut self,
        t_ns: i64,
        value_ns: i64,
        group: &str,
        from: String,
        to: String,
        what: String,
    ) {
        self.seen += 1;
        let next = self.groups.len() as u32;
        let group = match self.index.get(group) {
            Some(&g) => g,
            None => {
                self.index.insert(group.to_string(), next);
                self.groups.push(group.to_string());
                self.counts.push(0);
                next
            }
        };
        self.counts[group as usize] += 1;
        if !self.seen.is_multiple_of(self.keep_every) && value_ns < self.slow_floor {
            return;
        }
        self.points.push(Point {
            t_ns,
            value_ns,
            group,
            from,
            to,
            what,
        });
        if self.points.len() > MEMORY_CAP {
            self.thin();
        }
    }

    /// An HTTP transaction by its time to first byte, grouped by server.
    pub fn add_http(&mut self, t: &HttpTransaction) {
        let (Some(value), Some(start)) = (t.ttfb_ns(), t.request_first_ns) else {
            return;
        };
        let server = std::net::SocketAddr::new(t.server_ip, t.server_port).to_string();
        let status = t
            .status
            .map_or("no response".to_string(), |s| s.to_string());
        let host = t.host.as_deref().unwrap_or("");
        self.add(
            start,
            value,
            &server,
            std::net::SocketAddr::new(t.client_ip, t.client_port).to_string(),
            server.clone(),
            format!("{} {host}{} → {status}", t.method, t.uri),
        );
    }

    /// A DNS query by its response time, grouped by server.
    pub fn add_dns(&mut self, t: &DnsTransaction) {
        let (Some(value), Some(start)) = (t.latency_ns(), t.query_ns) else {
            return;
        };
        let server = std::net::SocketAddr::new(t.server_ip, t.server_port).to_string();
        self.add(
            start,
            value,
            &server,
            std::net::SocketAddr::new(t.client_ip, t.client_port).to_string(),
            server.clone(),
            format!(
                "query type {} {} ({})",
                t.query_type, t.query_name, t.transport
            ),
        );
    }

    /// Keeps the slowest points and every other one of the rest.
    fn thin(&mut self) {
        let mut points = std::mem::take(&mut self.points);
        points.sort_by_key(|p| std::cmp::Reverse(p.value_ns));
        let rest = points.split_off(PAGE_SLOWEST.min(points.len()));
        self.slow_floor = points.last().map_or(i64::MAX, |p| p.value_ns);
        points.extend(rest.into_iter().step_by(2));
        self.keep_every *= 2;
        self.points = points;
    }

    /// The explorer's HTML: controls, an empty SVG the script fills, and the data. `zoom`
    /// holds exact thresholds computed from every sample (p90, p99) for the tail buttons.
    /// `heading` sits inside the explorer, so that without JavaScript it hides with it.
    pub fn html(&self, id: &str, heading: &str, zoom: &[(&str, f64)]) -> String {
        let mut order: Vec<usize> = (0..self.points.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(self.points[i].value_ns));
        let chosen: Vec<usize> = if order.len() <= PAGE_POINTS {
            order
        } else {
            let (slow, rest) = order.split_at(PAGE_SLOWEST);
            let stride = rest.len().div_ceil(PAGE_POINTS - PAGE_SLOWEST);
            let mut rest: Vec<usize> = rest.to_vec();
            rest.sort_unstable();
            slow.iter()
                .copied()
                .chain(rest.into_iter().step_by(stride))
                .collect()
        };
        // Groups in the static pictures' order (most transactions first, ties by name).
        let mut by_size: Vec<usize> = (0..self.groups.len()).collect();
        by_size.sort_by(|&a, &b| {
            self.counts[b]
                .cmp(&self.counts[a])
                .then_with(|| self.groups[a].cmp(&self.groups[b]))
        });
        let mut rank = vec![0u32; self.groups.len()];
        for (r, &g) in by_size.iter().enumerate() {
            rank[g] = r as u32;
        }
        let groups: Vec<&str> = by_size.iter().map(|&g| self.groups[g].as_str()).collect();
        let t0 = self.points.iter().map(|p| p.t_ns).min().unwrap_or(0);
        // The same unit as the static pictures of these samples.
        let max = self.points.iter().map(|p| p.value_ns).max().unwrap_or(1);
        let min = self
            .points
            .iter()
            .map(|p| p.value_ns)
            .filter(|&v| v > 0)
            .min();
        let unit = DurationUnit::for_range(min.unwrap_or(1) as f64, max as f64);
        let points: Vec<serde_json::Value> = chosen
            .iter()
            .map(|&i| {
                let p = &self.points[i];
                serde_json::json!([
                    (p.t_ns - t0) as f64 / 1e9,
                    p.value_ns,
                    rank[p.group as usize],
                    p.from,
                    p.to,
                    p.what
                ])
            })
            .collect();
        let data = serde_json::json!({
            "metric": self.metric,
            "unit": {"symbol": unit.symbol, "ns": unit.ns},
            "t0": epoch_ns_to_rfc3339(t0),
            "t0_ms": t0.div_euclid(1_000_000) as f64 + t0.rem_euclid(1_000_000) as f64 / 1e6,
            "groups": groups,
            "zoom": zoom.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
            "points": points,
        });
        // JSON inside <script> must not contain "</": escape the slash.
        let json = data.to_string().replace("</", "<\\/");
        let sampled = if chosen.len() < self.seen as usize {
            format!(
                "{} of {} transactions drawn (the {} slowest and an even sample of the rest); percentiles and thresholds use all of them.",
                thousands(chosen.len() as u64),
                thousands(self.seen),
                PAGE_SLOWEST.min(chosen.len())
            )
        } else {
            format!("All {} transactions.", thousands(chosen.len() as u64))
        };
        let mut buttons = String::from("<button data-zoom=\"all\">all</button>");
        for (name, value) in zoom {
            let _ = write!(
                buttons,
                "<button data-zoom=\"{name}\">≥ {name} ({})</button>",
                crate::units::duration_ns_to_human(*value)
            );
        }
        format!(
            "<div class=\"explorer\" id=\"{id}\" hidden><h3>{heading}</h3>\
             <div class=\"xbar\">zoom: {buttons} <span class=\"note\">drag a box to zoom, double-click to reset, hover a point for its transaction, click a group to hide it · <span class=\"xcount\"></span></span></div>\
             <svg class=\"xplot\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"{label}\"></svg>\
             <div class=\"xlegend\"></div><div class=\"xtip\" hidden></div>\
             <p class=\"note\">{sampled}</p>\
             <script type=\"application/json\" class=\"xdata\">{json}</script></div>\n",
            heading = escape(heading),
            label = escape(&format!("{} of each transaction over time", self.metric)),
            sampled = escape(&sampled),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_stays_bounded_and_the_slowest_stay() {
        let mut x = Explorer::new("t");
        for i in 0..1_000_000i64 {
            let v = if i == 777_777 {
                10_000_000_000
            } else {
                i % 1000
            };
            x.add(i, v, "g", "a".into(), "b".into(), "c".into());
        }
        assert!(x.len() <= MEMORY_CAP + 1);
        assert!(x.points.iter().any(|p| p.value_ns == 10_000_000_000));
        let html = x.html("e", "h", &[("p99", 990.0)]);
        assert!(html.contains("10000000000"));
        assert!(html.len() < 600_000, "{} bytes", html.len());
    }

    #[test]
    fn script_data_cannot_close_the_script() {
        let mut x = Explorer::new("t");
        x.add(
            1,
            2,
            "</script><b>",
            "a".into(),
            "b".into(),
            "GET /</script>".into(),
        );
        let html = x.html("e", "h", &[]);
        assert_eq!(html.matches("</script>").count(), 1);
    }

    #[test]
    fn groups_are_ordered_as_in_the_static_pictures() {
        // First seen is not first drawn: most transactions first, ties by name, so a group
        // has the same colour here and in the plots.
        let mut x = Explorer::new("t");
        for (t, g) in [(1, "b"), (2, "c"), (3, "a"), (4, "c"), (5, "a")] {
            x.add(t, 1000 + t, g, "x".into(), "y".into(), format!("from {g}"));
        }
        let html = x.html("e", "h", &[]);
        assert!(html.contains(r#""groups":["a","c","b"]"#), "{html}");
        assert!(html.contains(r#"1005,0,"x","y","from a"]"#), "{html}");
        assert!(html.contains(r#"1001,2,"x","y","from b"]"#), "{html}");
    }
}
