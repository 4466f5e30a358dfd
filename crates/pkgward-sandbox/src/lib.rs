//! Sandbox for maintainer scripts: namespaces, Landlock, seccomp. The only crate with unsafe code.
