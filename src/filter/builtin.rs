//! built-in filters
