//! The pictures and captures committed under docs/tutorial/ are what the
//! current code writes: regenerating them gives the same bytes. When this
//! fails after an intended change, run docs/tutorial/regenerate.sh and
//! look at the result before committing it.

use std::path::Path;
use std::process::Command;

fn regenerate(command: &str, scenario: &Path, out: &Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_mqtt-sim"))
        .arg(command)
        .arg(scenario)
        .arg("-o")
        .arg(out)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("MQTT_SIM_SEED")
        .output()
        .expect("mqtt-sim runs")
        .status;
    assert!(status.success(), "{command} {}", scenario.display());
}

#[test]
fn every_tutorial_scenario_has_current_pictures_and_a_capture() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = std::env::temp_dir().join(format!("mqtt-sim-tutorial-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let mut checked = 0;
    for entry in std::fs::read_dir(root.join("scenarios/tutorial")).expect("tutorial dir") {
        let scenario = entry.expect("dir entry").path();
        let stem = scenario
            .file_stem()
            .expect("file name")
            .to_string_lossy()
            .into_owned();
        for (command, ext) in [
            ("diagram", "svg"),
            ("diagram", "html"),
            ("diagram", "md"),
            ("pcap", "pcap"),
        ] {
            let committed = root.join("docs/tutorial").join(format!("{stem}.{ext}"));
            let fresh = tmp.join(format!("{stem}.{ext}"));
            regenerate(command, &scenario, &fresh);
            let want = std::fs::read(&committed).unwrap_or_else(|_| {
                panic!(
                    "{} is missing: run docs/tutorial/regenerate.sh",
                    committed.display()
                )
            });
            let got = std::fs::read(&fresh).expect("written");
            assert!(
                want == got,
                "{} is stale: run docs/tutorial/regenerate.sh",
                committed.display()
            );
            checked += 1;
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    assert_eq!(
        checked,
        3 * 4,
        "three tutorial scenarios, four artefacts each"
    );
}

/// The shrunk run drawn in docs/faults.md is what the current code draws
/// from the file beside it. The run fails on purpose (it carries a planted
/// bug), so `diagram` exits 1 and still writes the picture.
#[test]
fn the_shrunk_run_in_the_faults_guide_is_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("docs/diagrams");
    let fresh = std::env::temp_dir().join(format!("mqtt-sim-shrunk-{}.svg", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_mqtt-sim"))
        .arg("diagram")
        .arg(dir.join("qos1-planted-bug-seed-0-shrunk.yaml"))
        .arg("-o")
        .arg(&fresh)
        .current_dir(root)
        .env_remove("MQTT_SIM_SEED")
        .output()
        .expect("mqtt-sim runs");
    assert_eq!(out.status.code(), Some(1), "the planted bug fails the run");
    let got = std::fs::read(&fresh).expect("written");
    let _ = std::fs::remove_file(&fresh);
    let want = std::fs::read(dir.join("qos1-planted-bug-seed-0-shrunk.svg")).expect("committed");
    assert!(
        want == got,
        "docs/diagrams/qos1-planted-bug-seed-0-shrunk.svg is stale: see docs/diagrams/README.md"
    );
}
