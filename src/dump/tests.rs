//! Unit tests of the dump formats.
