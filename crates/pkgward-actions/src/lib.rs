//! Declarative actions: sysusers.d, systemd units, tmpfiles.d parsers and checkers, maintainer-script classifier. Pure.
