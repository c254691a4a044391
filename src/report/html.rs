//! A self-contained HTML page: inline CSS, plots as inline SVG, one inline script written for
//! it (no library, no fetches), so the report opens offline and can be mailed as one file.
//! Everything reads with JavaScript off; the script adds the interactive explorer and table
//! sorting.

use std::fmt::Write;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Builds the page section by section.
pub struct Page {
    title: String,
    body: String,
    toc: Vec<(String, String)>,
}

const STYLE: &str = r#"
body { font-family: -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { background: #1d2330; color: #fff; padding: 18px 32px; }
header h1 { margin: 0; font-size: 22px; }
header p { margin: 4px 0 0; color: #b8c0cc; font-size: 13px; }
nav { padding: 8px 32px; background: #e9ecf1; font-size: 13px; }
nav a { margin-right: 14px; color: #2b5fb4; text-decoration: none; }
main { padding: 8px 32px 40px; max-width: 1280px; }
section { background: #fff; border-radius: 8px; padding: 12px 20px 18px; margin: 16px 0; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
h2 { font-size: 18px; margin: 6px 0 10px; }
h3 { font-size: 15px; margin: 14px 0 6px; color: #3a4356; }
table { border-collapse: collapse; font-size: 12.5px; margin: 6px 0; display: block; max-width: 100%; overflow-x: auto; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e3e6eb; text-align: right; white-space: nowrap; }
th { background: #f0f2f5; font-weight: 600; }
td.l, th.l { text-align: left; }
.note { color: #5b6475; font-size: 12.5px; }
.warn { color: #9a4a00; font-size: 12.5px; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; }
.plot svg { max-width: 100%; height: auto; border: 1px solid #e3e6eb; border-radius: 4px; background: #fff; }
table.sortable th { cursor: pointer; }
th[data-sort="asc"]::after { content: " ▲"; } th[data-sort="desc"]::after { content: " ▼"; }
.explorer { position: relative; margin: 10px 0; }
.explorer svg.xplot { width: 100%; max-width: 1100px; height: auto; border: 1px solid #e3e6eb; border-radius: 4px; background: #fff; cursor: crosshair; user-select: none; }
.xbar button, .xgroup { font-size: 12px; margin: 2px 4px 2px 0; padding: 2px 8px; border: 1px solid #c5cad3; border-radius: 4px; background: #f6f7f9; cursor: pointer; }
.xgroup span { display: inline-block; width: 10px; height: 10px; border-radius: 5px; margin-right: 5px; }
.xgroup.off { opacity: .35; text-decoration: line-through; }
.xtip { position: absolute; z-index: 2; pointer-events: none; background: #1d2330; color: #fff; font-size: 12px; padding: 6px 9px; border-radius: 5px; white-space: nowrap; box-shadow: 0 2px 6px rgba(0,0,0,.25); }
.xtip .xvalue { font-weight: 600; font-size: 13px; }
"#;

impl Page {
    pub fn new(title: &str) -> Self {
        Page {
            title: title.to_string(),
            body: String::new(),
            toc: Vec::new(),
        }
    }

    /// Starts a section with a heading; returns its anchor.
    pub fn section(&mut self, heading: &str) -> String {
        if !self.body.is_empty() {
            self.body.push_str("</section>\n");
        }
        let anchor = format!("s{}", self.toc.len() + 1);
        self.toc.push((anchor.clone(), heading.to_string()));
        let _ = writeln!(
            self.body,
            "<section id=\"{anchor}\"><h2>{}</h2>",
            escape(heading)
        );
        anchor
    }

    pub fn subheading(&mut self, text: &str) {
        let _ = writeln!(self.body, "<h3>{}</h3>", escape(text));
    }

    pub fn paragraph(&mut self, text: &str) {
        let _ = writeln!(self.body, "<p class=\"note\">{}</p>", escape(text));
    }

    pub fn warning(&mut self, text: &str) {
        let _ = writeln!(self.body, "<p class=\"warn\">⚠ {}</p>", escape(text));
    }

    /// A table; the first `left_columns` columns are left-aligned (names), the rest numbers.
    pub fn table(&mut self, headers: &[&str], rows: &[Vec<String>], left_columns: usize) {
        self.body.push_str("<table class=\"sortable\"><thead><tr>");
        for (i, h) in headers.iter().enumerate() {
            let class = if i < left_columns { " class=\"l\"" } else { "" };
            let _ = write!(self.body, "<th{class}>{}</th>", escape(h));
        }
        self.body.push_str("</tr></thead><tbody>\n");
        for row in rows {
            self.body.push_str("<tr>");
            for (i, cell) in row.iter().enumerate() {
                let class = if i < left_columns { " class=\"l\"" } else { "" };
                let _ = write!(self.body, "<td{class}>{}</td>", escape(cell));
            }
            self.body.push_str("</tr>\n");
        }
        self.body.push_str("</tbody></table>\n");
    }

    /// HTML made elsewhere in this module tree (the interactive explorer), inserted as is.
    pub fn raw(&mut self, html: &str) {
        self.body.push_str(html);
    }

    /// Plots side by side; each is an SVG document produced by `report::plot`.
    pub fn plots(&mut self, svgs: &[String]) {
        self.body.push_str("<div class=\"plots\">\n");
        for svg in svgs {
            // Drop any XML prolog: inline SVG inside HTML must start at <svg>.
            let start = svg.find("<svg").unwrap_or(0);
            let _ = writeln!(self.body, "<div class=\"plot\">{}</div>", &svg[start..]);
        }
        self.body.push_str("</div>\n");
    }

    /// The finished document.
    pub fn render(mut self, subtitle: &str) -> String {
        if !self.body.is_empty() {
            self.body.push_str("</section>\n");
        }
        let mut nav = String::new();
        for (anchor, heading) in &self.toc {
            let _ = write!(nav, "<a href=\"#{anchor}\">{}</a>", escape(heading));
        }
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title}</title><style>{STYLE}</style></head>\n<body><header><h1>{title}</h1><p>{subtitle}</p></header>\n\
             <nav>{nav}</nav>\n<main>\n{body}</main><script>{script}</script></body></html>\n",
            title = escape(&self.title),
            subtitle = escape(subtitle),
            body = self.body,
            script = super::explorer::SCRIPT,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_is_self_contained_and_escaped() {
        let mut page = Page::new("t <1>");
        page.section("Summary");
        page.table(
            &["name", "value"],
            &[vec!["<script>".into(), "1".into()]],
            1,
        );
        page.plots(&[
            "<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"></svg>".into(),
        ]);
        let html = page.render("sub");
        assert!(html.contains("&lt;script&gt;"));
        // The only script is the page's own, at the end.
        assert_eq!(html.matches("<script").count(), 1);
        assert!(html.contains("<script>// tracetail report"));
        assert!(!html.contains("<?xml"));
        assert_eq!(
            html.matches("http://").count(),
            html.matches("http://www.w3.org/2000/svg").count(),
            "only the SVG namespace URI may appear"
        );
        assert!(html.contains("<a href=\"#s1\">Summary</a>"));
    }
}
