//! The curves of `seine bench scale`: build seconds, bytes per document and queries/s
//! against the number of documents, one line per part, log-log.

use std::path::Path;

use plotters::prelude::*;

const COLORS: [RGBColor; 4] = [RED, BLUE, GREEN, MAGENTA];

pub fn write_png(path: &Path, rows: &[serde_json::Value]) -> anyhow::Result<()> {
    let labels = seine_train::curves::font();
    let root = BitMapBackend::new(path, (1500, 450)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
    let areas = root.split_evenly((1, 3));
    let mut parts: Vec<&str> = rows.iter().filter_map(|r| r["part"].as_str()).collect();
    parts.dedup();
    parts.sort();
    parts.dedup();
    for (area, (key, title)) in areas.iter().zip([
        ("build_s", "build seconds"),
        ("bytes_per_doc", "bytes per document"),
        ("qps", "queries/s (one query at a time)"),
    ]) {
        let series: Vec<(&str, Vec<(f64, f64)>)> = parts
            .iter()
            .map(|p| {
                let pts = rows
                    .iter()
                    .filter(|r| r["part"].as_str() == Some(p))
                    .filter_map(|r| Some((r["docs"].as_f64()?, r[key].as_f64()?)))
                    .filter(|(x, y)| *x > 0.0 && *y > 0.0)
                    .collect();
                (*p, pts)
            })
            .collect();
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
                s.label(*name)
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
