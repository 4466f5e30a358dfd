//! The package database: the only crate that links SQLite.
