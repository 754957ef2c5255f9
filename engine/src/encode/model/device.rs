use candle_core::Device;

use crate::{Error, Result};

/// Where models run: `cpu`, or `cuda[:N]` (needs a build with the `cuda` feature).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceSpec {
    #[default]
    Cpu,
    Cuda(usize),
}

impl std::str::FromStr for DeviceSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "cpu" => Ok(DeviceSpec::Cpu),
            "cuda" => Ok(DeviceSpec::Cuda(0)),
            _ => match s.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(n)) => Ok(DeviceSpec::Cuda(n)),
                _ => Err(Error::InvalidArgument(format!(
                    "unknown device {s:?} (expected cpu, cuda or cuda:N)"
                ))),
            },
        }
    }
}

impl std::fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceSpec::Cpu => f.write_str("cpu"),
            DeviceSpec::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// Opens the device, with a clear error when CUDA is asked for and not available.
pub fn resolve_device(spec: DeviceSpec) -> Result<Device> {
    match spec {
        DeviceSpec::Cpu => Ok(Device::Cpu),
        DeviceSpec::Cuda(n) => {
            if !candle_core::utils::cuda_is_available() {
                return Err(Error::DeviceUnavailable(format!(
                    "cuda:{n} requested, but this seine was built without the `cuda` feature \
                     (rebuild with `cargo build --release --features cuda`) or no CUDA device \
                     is present; use --device cpu"
                )));
            }
            Device::new_cuda(n).map_err(|e| Error::DeviceUnavailable(format!("cuda:{n}: {e}")))
        }
    }
}
