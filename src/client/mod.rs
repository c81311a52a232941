//! The scripted client.
