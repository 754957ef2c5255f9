//! seine-kernels
