//! Capability policy: policy/grant files, guarded-path catalog, compiled matchers, decisions with provenance. Pure.
