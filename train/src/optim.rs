//! AdamW (decoupled weight decay) with linear warm-up and linear decay, gradient
//! clipping by global norm, and a state that is saved and restored exactly (the
//! moments as safetensors), so a resumed run continues bit for bit.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Context, Result};
use candle_core::{DType, Device, Tensor, Var};

/// Optimizer settings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimConfig {
    /// Peak learning rate of the encoder.
    pub lr: f64,
    /// Peak learning rate of a freshly initialized head (ColBERT projection).
    pub head_lr: f64,
    pub weight_decay: f64,
    /// Fraction of the steps spent warming up.
    pub warmup: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Clip the global gradient norm to this (0 = no clipping).
    pub max_grad_norm: f64,
}

impl Default for OptimConfig {
    fn default() -> Self {
        OptimConfig {
            lr: 2e-5,
            head_lr: 1e-3,
            weight_decay: 0.01,
            warmup: 0.1,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            max_grad_norm: 1.0,
        }
    }
}

impl OptimConfig {
    /// The learning-rate factor at `step` (1-based) of `total`: linear warm-up to 1,
    /// then linear decay to 0.
    pub fn schedule(&self, step: usize, total: usize) -> f64 {
        let warm = ((self.warmup * total as f64).round() as usize).max(1);
        if step <= warm {
            step as f64 / warm as f64
        } else {
            let rest = (total - warm).max(1) as f64;
            ((total.saturating_sub(step)) as f64 / rest).max(0.0)
        }
    }
}

/// One trained variable and its moments.
struct Slot {
    name: String,
    var: Var,
    m: Tensor,
    v: Tensor,
    decay: bool,
    head: bool,
}

/// AdamW over named variables.
pub struct AdamW {
    cfg: OptimConfig,
    slots: Vec<Slot>,
    /// Updates applied so far.
    pub step: usize,
}

impl AdamW {
    /// `vars`: (name, variable, is a head parameter). Biases and LayerNorm weights
    /// (one-dimensional) get no weight decay.
    pub fn new(cfg: OptimConfig, vars: Vec<(String, Var, bool)>) -> Result<Self> {
        let slots = vars
            .into_iter()
            .map(|(name, var, head)| {
                let z = var.as_tensor().zeros_like()?;
                Ok(Slot {
                    decay: var.as_tensor().rank() > 1,
                    name,
                    m: z.clone(),
                    v: z,
                    var,
                    head,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(AdamW {
            cfg,
            slots,
            step: 0,
        })
    }

    pub fn vars(&self) -> impl Iterator<Item = &Var> {
        self.slots.iter().map(|s| &s.var)
    }

    /// Applies summed gradients (divided by `accum`) at learning-rate factor `factor`;
    /// returns the gradient norm before clipping.
    pub fn update(
        &mut self,
        grads: &HashMap<String, Tensor>,
        accum: usize,
        factor: f64,
    ) -> Result<f64> {
        let scale = 1.0 / accum as f64;
        let mut sq = 0f64;
        for s in &self.slots {
            if let Some(g) = grads.get(&s.name) {
                sq += (g * scale)?
                    .sqr()?
                    .sum_all()?
                    .to_dtype(DType::F64)?
                    .to_scalar::<f64>()?;
            }
        }
        let norm = sq.sqrt();
        let clip = if self.cfg.max_grad_norm > 0.0 && norm > self.cfg.max_grad_norm {
            self.cfg.max_grad_norm / norm
        } else {
            1.0
        };
        self.step += 1;
        let t = self.step as i32;
        let (b1, b2) = (self.cfg.beta1, self.cfg.beta2);
        let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
        for s in &mut self.slots {
            let Some(g) = grads.get(&s.name) else {
                continue;
            };
            let g = (g * (scale * clip))?;
            s.m = ((&s.m * b1)? + (&g * (1.0 - b1))?)?;
            s.v = ((&s.v * b2)? + (g.sqr()? * (1.0 - b2))?)?;
            let lr = factor
                * if s.head {
                    self.cfg.head_lr
                } else {
                    self.cfg.lr
                };
            let mhat = (&s.m / c1)?;
            let vhat = (&s.v / c2)?;
            let mut step = (mhat / (vhat.sqrt()? + self.cfg.eps)?)?;
            let w = s.var.as_tensor();
            if s.decay && self.cfg.weight_decay > 0.0 {
                step = (step + (w * self.cfg.weight_decay)?)?;
            }
            s.var.set(&(w - (step * lr)?)?)?;
        }
        Ok(norm)
    }

    /// Writes the moments and the step count.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut t: HashMap<String, Tensor> = HashMap::new();
        for s in &self.slots {
            t.insert(format!("m.{}", s.name), s.m.clone());
            t.insert(format!("v.{}", s.name), s.v.clone());
        }
        t.insert(
            "step".into(),
            Tensor::new(&[self.step as u32], &Device::Cpu)?,
        );
        candle_core::safetensors::save(&t, path).with_context(|| format!("{}", path.display()))
    }

    /// Restores what [`AdamW::save`] wrote.
    pub fn load(&mut self, path: &Path) -> Result<()> {
        let t = candle_core::safetensors::load(path, &Device::Cpu)
            .with_context(|| format!("{}", path.display()))?;
        let get = |k: &str| {
            t.get(k)
                .cloned()
                .with_context(|| format!("{}: no {k}", path.display()))
        };
        for s in &mut self.slots {
            s.m = get(&format!("m.{}", s.name))?;
            s.v = get(&format!("v.{}", s.name))?;
        }
        self.step = get("step")?.to_vec1::<u32>()?[0] as usize;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_warms_up_then_decays_to_zero() {
        let c = OptimConfig {
            warmup: 0.1,
            ..Default::default()
        };
        assert_eq!(c.schedule(5, 100), 0.5);
        assert_eq!(c.schedule(10, 100), 1.0);
        assert!((c.schedule(55, 100) - 0.5).abs() < 1e-12);
        assert_eq!(c.schedule(100, 100), 0.0);
    }

    #[test]
    fn adamw_minimizes_a_quadratic_like_the_formula() {
        // One step on f(w) = w²/2 from w = 1: g = 1, m̂ = 1, v̂ = 1, step = 1/(1+eps),
        // w ← 1 − lr·(1 + wd·1).
        let v = Var::new(&[[1.0f64]], &Device::Cpu).unwrap();
        let cfg = OptimConfig {
            lr: 0.1,
            weight_decay: 0.01,
            max_grad_norm: 0.0,
            ..Default::default()
        };
        let mut opt = AdamW::new(cfg, vec![("w".into(), v.clone(), false)]).unwrap();
        let g = HashMap::from([(
            "w".to_string(),
            Tensor::new(&[[1.0f64]], &Device::Cpu).unwrap(),
        )]);
        opt.update(&g, 1, 1.0).unwrap();
        let w = v.as_tensor().to_vec2::<f64>().unwrap()[0][0];
        assert!(
            (w - (1.0 - 0.1 * (1.0 / (1.0 + 1e-8) + 0.01))).abs() < 1e-12,
            "{w}"
        );
    }
}
