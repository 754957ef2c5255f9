//! The curves of `seine bench scale`: build seconds, bytes per document, queries/s and
//! p50 latency against the number of documents, one line per part and corpus and one
//! per peer, log-log; and each curve's fitted exponent (the slope of log y on log N).

use std::path::Path;

use plotters::prelude::*;

const COLORS: [RGBColor; 8] = [
    RED,
    BLUE,
    GREEN,
    MAGENTA,
    CYAN,
    BLACK,
    RGBColor(255, 140, 0),
    RGBColor(128, 0, 128),
];

/// Every curve of `key` (`qps`, `p50_ms`, `build_s`, …): seine's per part and corpus,
/// and each peer's (`peer_<name>_<key>`) per part and corpus.
fn curves(rows: &[serde_json::Value], key: &str) -> Vec<(String, Vec<(f64, f64)>)> {
    let mut out: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for r in rows {
        let part = r["part"].as_str().unwrap_or("");
        let corpus = r["corpus"]
            .as_str()
            .filter(|c| *c != "stress" || matches!(part, "bm25" | "splade"));
        let base = match corpus {
            Some(c) => format!("{part} {c}"),
            None => part.to_string(),
        };
        let Some(x) = r["docs"].as_f64() else {
            continue;
        };
        let mut points = vec![(format!("seine {base}"), r[key].as_f64())];
        for peer in ["tantivy", "bm25s"] {
            points.push((
                format!("{peer} {base}"),
                r[format!("peer_{peer}_{key}")].as_f64(),
            ));
        }
        let seismic = match key {
            "qps" | "p50_ms" => r["peer_seismic_best"][key].as_f64(),
            _ => r[format!("peer_seismic_{key}")].as_f64(),
        };
        points.push((format!("seismic {base}"), seismic));
        for (label, y) in points {
            let Some(y) = y.filter(|y| *y > 0.0 && x > 0.0) else {
                continue;
            };
            match out.iter_mut().find(|c| c.0 == label) {
                Some(c) => c.1.push((x, y)),
                None => out.push((label, vec![(x, y)])),
            }
        }
    }
    out
}

/// The slope of log y on log x (least squares); NaN below two sizes.
pub fn exponent(pts: &[(f64, f64)]) -> f64 {
    if pts.len() < 2 {
        return f64::NAN;
    }
    let n = pts.len() as f64;
    let (mx, my) = pts
        .iter()
        .fold((0.0, 0.0), |a, p| (a.0 + p.0.ln() / n, a.1 + p.1.ln() / n));
    let sxy: f64 = pts.iter().map(|p| (p.0.ln() - mx) * (p.1.ln() - my)).sum();
    let sxx: f64 = pts.iter().map(|p| (p.0.ln() - mx).powi(2)).sum();
    sxy / sxx
}

/// Prints every queries/s and p50 curve's exponent (q/s ∝ N^e: 0 flat, −1 linear scan).
pub fn print_exponents(rows: &[serde_json::Value]) {
    for (key, what) in [("qps", "queries/s"), ("p50_ms", "p50 latency")] {
        for (label, pts) in curves(rows, key) {
            if pts.len() >= 2 {
                println!(
                    "fitted exponent of {what} vs N, {label}: {:+.3} ({} sizes)",
                    exponent(&pts),
                    pts.len()
                );
            }
        }
    }
}

pub fn write_png(path: &Path, rows: &[serde_json::Value]) -> anyhow::Result<()> {
    let labels = seine_train::curves::font();
    let root = BitMapBackend::new(path, (2000, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
    let areas = root.split_evenly((1, 4));
    for (area, (key, title)) in areas.iter().zip([
        ("build_s", "build seconds"),
        ("bytes_per_doc", "bytes per document"),
        ("qps", "queries/s (one at a time)"),
        ("p50_ms", "p50 ms"),
    ]) {
        let series = curves(rows, key);
        let all: Vec<(f64, f64)> = series.iter().flat_map(|s| s.1.iter().copied()).collect();
        if all.is_empty() {
            continue;
        }
        let (x0, x1) = all
            .iter()
            .fold((f64::MAX, f64::MIN), |a, p| (a.0.min(p.0), a.1.max(p.0)));
        let (y0, y1) = all
            .iter()
            .fold((f64::MAX, f64::MIN), |a, p| (a.0.min(p.1), a.1.max(p.1)));
        let err = |e: &dyn std::fmt::Display| anyhow::anyhow!("{title}: {e}");
        let mut b = ChartBuilder::on(area);
        b.margin(15);
        if labels {
            b.caption(title, ("sans-serif", 20))
                .x_label_area_size(35)
                .y_label_area_size(60);
        }
        let mut chart = b
            .build_cartesian_2d(
                ((x0 / 1.5)..(x1 * 1.5)).log_scale(),
                ((y0 / 2.0)..(y1 * 2.0)).log_scale(),
            )
            .map_err(|e| err(&e))?;
        let mut mesh = chart.configure_mesh();
        if labels {
            mesh.x_desc("documents");
        }
        mesh.draw().map_err(|e| err(&e))?;
        for (i, (name, pts)) in series.iter().enumerate() {
            let c = COLORS[i % COLORS.len()];
            let s = chart
                .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(2)))
                .map_err(|e| err(&e))?;
            if labels {
                s.label(format!("{name} ({:+.2})", exponent(pts)))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c));
            }
            chart
                .draw_series(pts.iter().map(|p| Circle::new(*p, 3, c.filled())))
                .map_err(|e| err(&e))?;
        }
        if labels {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(|e| err(&e))?;
        }
    }
    root.present()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(())
}
