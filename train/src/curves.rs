//! The training log: one CSV row per update (and per dev evaluation), and a PNG of the
//! loss and dev nDCG@10 curves next to the model.

use std::io::Write;
use std::path::Path;

use crate::error::{Context, Result};
use plotters::prelude::*;

/// One row of the log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    pub step: usize,
    pub epoch: usize,
    pub loss: f64,
    pub nce: f64,
    pub ccr: f64,
    pub accuracy: f64,
    pub lr: f64,
    pub grad_norm: f64,
    pub examples_per_s: f64,
    /// Set on rows written after a dev evaluation.
    pub dev_ndcg10: Option<f64>,
}

pub const HEADER: &str = "step,epoch,loss,nce,ccr,accuracy,lr,grad_norm,examples_per_s,dev_ndcg10";

impl Row {
    pub fn csv(&self) -> String {
        format!(
            "{},{},{:.6},{:.6},{:.6},{:.4},{:.3e},{:.4},{:.3},{}",
            self.step,
            self.epoch,
            self.loss,
            self.nce,
            self.ccr,
            self.accuracy,
            self.lr,
            self.grad_norm,
            self.examples_per_s,
            self.dev_ndcg10.map_or(String::new(), |v| format!("{v:.5}"))
        )
    }
}

/// Writes the CSV (all rows, atomically).
pub fn write_csv(path: &Path, rows: &[Row]) -> Result<()> {
    let tmp = path.with_extension("csv.tmp");
    let mut f = std::fs::File::create(&tmp).with_context(|| format!("{}", tmp.display()))?;
    writeln!(f, "{HEADER}")?;
    for r in rows {
        writeln!(f, "{}", r.csv())?;
    }
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Registers a system font for plot labels; false when none is found (the curves are
/// then drawn without text).
pub fn font() -> bool {
    static FONT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FONT.get_or_init(|| {
        let candidates = [
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
            "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
            "/System/Library/Fonts/Supplemental/Arial.ttf",
        ];
        candidates.iter().any(|p| {
            std::fs::read(p).is_ok_and(|bytes| {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
            })
        })
    })
}

/// Draws the training loss (left) and the dev nDCG@10 (right) against the step.
pub fn write_png(path: &Path, rows: &[Row]) -> Result<()> {
    let labels = font();
    let root = BitMapBackend::new(path, (1200, 450)).into_drawing_area();
    root.fill(&WHITE)
        .map_err(|e| crate::error::Error::Invalid(format!("{e}")))?;
    let (left, right) = root.split_horizontally(600);
    let loss: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| r.dev_ndcg10.is_none())
        .map(|r| (r.step as f64, r.loss))
        .collect();
    let dev: Vec<(f64, f64)> = rows
        .iter()
        .filter_map(|r| r.dev_ndcg10.map(|v| (r.step as f64, v)))
        .collect();
    panel(&left, "training loss", &loss, &RED, labels)?;
    panel(&right, "dev nDCG@10", &dev, &BLUE, labels)?;
    root.present()
        .map_err(|e| crate::error::Error::Invalid(format!("{}: {e}", path.display())))?;
    Ok(())
}

fn panel(
    area: &DrawingArea<BitMapBackend, plotters::coord::Shift>,
    title: &str,
    pts: &[(f64, f64)],
    color: &RGBColor,
    labels: bool,
) -> Result<()> {
    let err = |e: &dyn std::fmt::Display| crate::error::Error::Invalid(format!("{title}: {e}"));
    let x1 = pts.iter().map(|p| p.0).fold(1.0, f64::max);
    let (lo, hi) = pts
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let (lo, hi) = if lo > hi { (0.0, 1.0) } else { (lo, hi) };
    let pad = ((hi - lo) * 0.05).max(1e-3);
    let mut b = ChartBuilder::on(area);
    b.margin(15);
    if labels {
        b.caption(title, ("sans-serif", 20))
            .x_label_area_size(35)
            .y_label_area_size(55);
    }
    let mut chart = b
        .build_cartesian_2d(0f64..x1, (lo - pad)..(hi + pad))
        .map_err(|e| err(&e))?;
    let mut mesh = chart.configure_mesh();
    if labels {
        mesh.x_desc("step");
    } else {
        mesh.disable_x_mesh().disable_y_mesh();
    }
    mesh.draw().map_err(|e| err(&e))?;
    chart
        .draw_series(LineSeries::new(pts.iter().copied(), color))
        .map_err(|e| err(&e))?;
    if pts.len() <= 50 {
        chart
            .draw_series(pts.iter().map(|p| Circle::new(*p, 3, color.filled())))
            .map_err(|e| err(&e))?;
    }
    Ok(())
}

/// Reads rows written by [`Row::csv`] (a checkpoint's log).
pub fn parse_rows(text: &str) -> Vec<Row> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with("step"))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let num = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok());
            Some(Row {
                step: f.first()?.parse().ok()?,
                epoch: f.get(1)?.parse().ok()?,
                loss: num(2)?,
                nce: num(3)?,
                ccr: num(4)?,
                accuracy: num(5)?,
                lr: num(6)?,
                grad_norm: num(7)?,
                examples_per_s: num(8)?,
                dev_ndcg10: num(9),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_csv_and_a_png() {
        let dir = tempfile::tempdir().unwrap();
        let rows: Vec<Row> = (1..=20)
            .map(|s| Row {
                step: s,
                loss: 2.0 / s as f64,
                dev_ndcg10: (s % 10 == 0).then_some(0.5 + s as f64 / 100.0),
                ..Default::default()
            })
            .collect();
        write_csv(&dir.path().join("log.csv"), &rows).unwrap();
        let csv = std::fs::read_to_string(dir.path().join("log.csv")).unwrap();
        assert_eq!(csv.lines().count(), 21);
        assert!(csv.lines().nth(10).unwrap().ends_with(",0.60000"), "{csv}");
        let png = dir.path().join("curves.png");
        write_png(&png, &rows).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        assert!(bytes.len() > 2000);
    }
}
