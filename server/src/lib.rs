//! seine-server
