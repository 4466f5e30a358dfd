//! Install planning: (installed snapshot, policy, packages) -> Plan, as plain data. Pure.
