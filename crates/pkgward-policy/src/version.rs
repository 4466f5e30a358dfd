//! The dpkg version type used by grant selectors (`version = ">= 5:7.0, << 5:8"`):
//! the package model's own, so ordering is dpkg's everywhere.

pub use pkgward_package::version::{Version, VersionError};
