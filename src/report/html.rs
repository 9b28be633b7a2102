//! `kdc report DIR`: one self-contained HTML page (inline style, no scripts, no external
//! resources, so it opens from a CI system's artifact store or offline) of a `kdc ci run`'s
//! artifacts directory, read from its record (`kdc-matrix.json`):
//! - the matrix as a grid: a row per base cell, a column per combination of dimension
//!   values, each square the cell's status;
//! - a table of every cell: status, time, counts, links to its artifacts, the JUnit file and
//!   its dump;
//! - per failed cell: the diagnosis, the failing checks with their messages, and the command
//!   that reproduces it.
//!
//! Each cell's row carries `data-cell` and `data-status`, which the headless-browser test
//! reads.

use serde_json::Value;

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
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

/// A path relative to the page for an `href`: each segment percent-encoded where needed.
fn href(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            seg.bytes()
                .map(|b| match b {
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn num(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}\
h1{font-size:1.3em;margin:0 0 .3em}h2{font-size:1.1em;margin:1.4em 0 .4em}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}\
th{background:#f3f3f3}.grid td{text-align:center;min-width:5em}\
.passed{background:#d7f5d7}.flaky{background:#fcefc2}.failed{background:#f8d0d0}.interrupted{background:#e2e2e2}\
.badge{font-weight:600;text-transform:uppercase;font-size:.85em}\
pre{background:#f7f7f7;padding:.5em;white-space:pre-wrap;margin:.3em 0}code{font-size:.95em}\
.muted{color:#777}";

/// The page for the record `rec` (the parsed `kdc-matrix.json`); `dir_name` titles it. Links
/// are relative to the artifacts directory, where the page is written by default.
pub fn render(rec: &Value, dir_name: &str, link_prefix: &str) -> String {
    let cells: Vec<&Value> = rec
        .get("cells")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let count = |s: &str| cells.iter().filter(|c| text(c, "status") == s).count();
    let mut h = String::new();
    h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
    h += &format!(
        "<title>kdc matrix: {}</title><style>{STYLE}</style></head><body>\n",
        esc(dir_name)
    );
    h += &format!(
        "<h1>kdc matrix run: {}</h1>\n<p>{} cells: {} passed, {} flaky, {} failed, {} interrupted. Matrix <code>{}</code>{}, {} at once, {:.0} s. JUnit: <a href=\"{}\">{}</a></p>\n",
        esc(dir_name),
        cells.len(),
        count("passed"),
        count("flaky"),
        count("failed"),
        count("interrupted"),
        esc(&text(rec, "matrix")),
        rec.get("shard")
            .and_then(Value::as_str)
            .map(|s| format!(", shard {}", esc(s)))
            .unwrap_or_default(),
        num(rec, "jobs"),
        num(rec, "seconds"),
        esc(&format!("{link_prefix}{}", href(&text(rec, "junit")))),
        esc(&text(rec, "junit")),
    );

    // The grid: base cells × combinations of dimension values.
    let combo = |c: &Value| -> String {
        let parts: Vec<String> = c
            .get("coords")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.get(1).and_then(Value::as_str))
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        if parts.is_empty() {
            "—".into()
        } else {
            parts.join(" · ")
        }
    };
    let mut bases: Vec<String> = Vec::new();
    let mut combos: Vec<String> = Vec::new();
    for c in &cells {
        let b = text(c, "base");
        if !bases.contains(&b) {
            bases.push(b);
        }
        let k = combo(c);
        if !combos.contains(&k) {
            combos.push(k);
        }
    }
    h += "<h2>Grid</h2>\n<table class=\"grid\"><tr><th>cell</th>";
    for k in &combos {
        h += &format!("<th>{}</th>", esc(k));
    }
    h += "</tr>\n";
    for b in &bases {
        h += &format!("<tr><th>{}</th>", esc(b));
        for k in &combos {
            match cells
                .iter()
                .find(|c| text(c, "base") == *b && combo(c) == *k)
            {
                Some(c) => {
                    let st = text(c, "status");
                    h += &format!(
                        "<td class=\"{st}\" title=\"{}\"><a href=\"#cell-{}\">{st}</a></td>",
                        esc(&text(c, "name")),
                        esc(&text(c, "name"))
                    );
                }
                None => h += "<td class=\"muted\">·</td>",
            }
        }
        h += "</tr>\n";
    }
    h += "</table>\n";

    // Every cell.
    h += "<h2>Cells</h2>\n<table><tr><th>cell</th><th>status</th><th>time</th><th>checks</th><th>clusters</th><th>files</th></tr>\n";
    for c in &cells {
        let name = text(c, "name");
        let st = text(c, "status");
        let clusters: Vec<&Value> = c
            .get("clusters")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let (mut p, mut f, mut s) = (0.0, 0.0, 0.0);
        let mut links = vec![format!(
            "<a href=\"{}/\">artifacts</a>",
            esc(&format!("{link_prefix}{}", href(&text(c, "artifacts"))))
        )];
        for k in &clusters {
            if let Some(stats) = k.get("stats") {
                p += num(stats, "passed");
                f += num(stats, "failed");
                s += num(stats, "skipped");
            }
            if let Some(d) = k.get("dump_dir").and_then(Value::as_str) {
                links.push(format!(
                    "<a href=\"{}/\">dump</a>",
                    esc(&format!("{link_prefix}{}", href(d)))
                ));
            }
        }
        let labels: Vec<String> = clusters.iter().map(|k| esc(&text(k, "label"))).collect();
        h += &format!(
            "<tr id=\"cell-{n}\" data-cell=\"{n}\" data-status=\"{st}\"><td><code>{n}</code></td><td class=\"{st} badge\">{st}</td><td>{:.1} s</td><td>{p} passed, {f} failed, {s} skipped</td><td>{}</td><td>{}</td></tr>\n",
            num(c, "seconds"),
            labels.join(", "),
            links.join(" · "),
            n = esc(&name),
        );
    }
    h += "</table>\n";

    // What failed.
    let failed: Vec<&&Value> = cells
        .iter()
        .filter(|c| matches!(text(c, "status").as_str(), "failed" | "flaky"))
        .collect();
    if !failed.is_empty() {
        h += "<h2>Failures</h2>\n";
    }
    for c in failed {
        h += &format!(
            "<h3 class=\"{}\">{} — {}</h3>\n",
            text(c, "status"),
            esc(&text(c, "name")),
            text(c, "status")
        );
        for k in c
            .get("clusters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let diag: Vec<String> = k
                .get("diagnosis")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(esc)
                .collect();
            if !diag.is_empty() {
                h += &format!(
                    "<p>Cluster <code>{}</code>:</p><ul><li>{}</li></ul>\n",
                    esc(&text(k, "label")),
                    diag.join("</li><li>")
                );
            }
            for f in k
                .get("failures")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                h += &format!(
                    "<p><code>{}/{}</code></p><pre>{}</pre>\n",
                    esc(&text(f, "class")),
                    esc(&text(f, "name")),
                    esc(&text(f, "message"))
                );
            }
        }
        h += &format!(
            "<p>Reproduce: <code>{}</code></p>\n",
            esc(&text(c, "reproduce"))
        );
    }
    h += "</body></html>\n";
    h
}
