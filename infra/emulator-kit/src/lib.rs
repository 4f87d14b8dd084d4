//! What calbridge's provider emulators (`google-emulator`, `zoom-emulator`) share, so each
//! holds only its provider's behaviour:
//! - [`server`]: listening, serving connections by hand and shutting down, with
//!   [`ConnectionControl`] for faults that close a connection without answering;
//! - [`form`]: form-urlencoded data as ordered pairs that tell "absent" from "repeated";
//! - [`random`]: unguessable bytes from the operating system.

pub mod form;
pub mod random;
pub mod server;

pub use server::{ConnectionControl, Server};
