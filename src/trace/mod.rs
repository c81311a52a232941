//! Events, their renderers, and the expectations that read them.
