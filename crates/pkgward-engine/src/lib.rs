//! Applies a Plan to a root: staging through directory fds, commit, journal, recovery.
