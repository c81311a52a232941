//! Embeds the scenario suite of this version (`scenarios/**/*.yaml`) in the
//! binary, for `mqtt-sim scenarios DIR`: a broker's CI that installs
//! mqtt-sim with `cargo install` gets the suite that matches its version
//! without cloning this repository.
//!
//! A build script rather than a macro crate such as include_dir: cargo
//! reruns it when any file under `scenarios/` is added, changed or
//! removed (`rerun-if-changed` on a directory scans it), which such macros
//! cannot see without nightly features.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let dir = root.join("scenarios");
    println!("cargo:rerun-if-changed=scenarios");
    let mut files = Vec::new();
    collect(&dir, &mut files);
    files.sort();
    let mut out = String::from(
        "/// The scenario files shipped with this version: (path under scenarios/, text).\n\
         pub const SHIPPED: &[(&str, &str)] = &[\n",
    );
    for f in &files {
        let rel = f.strip_prefix(&dir).expect("under scenarios/");
        let rel = rel.to_string_lossy().replace('\\', "/");
        // Relative to the crate's own manifest, not absolute: `cargo package`
        // and `cargo install --path` of the packaged crate share this output
        // directory with the repository's build (same package, same hash),
        // and an absolute path would point one build at the other's sources.
        let _ = writeln!(
            out,
            "    ({rel:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/scenarios/{rel}\"))),"
        );
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it"))
        .join("shipped_scenarios.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}

/// Every `.yaml` file under `dir`, iteratively (no recursion).
fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                files.push(p);
            }
        }
    }
}
