//! Package model and parse-only readers (.deb; later .rpm). Never writes files or runs processes.

pub mod version;
