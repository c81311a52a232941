//! turmoil wiring: hosts, the fault timeline and the driver loop.
