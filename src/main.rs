//! The `mqtt-sim` command line: argument parsing and dispatch. Each command
//! lives in its own module under `src/cli/`, with its flags (`Args`) and the
//! function that runs it.
//!
//! Exit codes: 0 every run passed; 1 a run failed (an expectation did not
//! hold, or the harness could not complete it); 2 a file is invalid or the
//! command line is wrong.

mod cli;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use cli::EXIT_INVALID;

#[derive(Parser)]
#[command(
    name = "mqtt-sim",
    version,
    about = "Deterministic MQTT protocol simulator and test harness"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios and check their expectations.
    Run(cli::run::Args),
    /// Run every scenario under a directory against each target and write
    /// a Markdown table of pass, fail and skip, with a summary per target.
    /// Exit code 0 once the table is written, whatever it says.
    Report(cli::report::Args),
    /// Check that scenario files are valid, without running them.
    Validate(cli::validate::Args),
    /// Run one scenario once per seed and report every failing seed; or,
    /// with --merge, merge the JSON reports of shards into one.
    Explore(cli::explore::Args),
    /// Run every scenario under DIR against each planted broker bug
    /// (mutant) and list the scenarios that catch each; exit 1 when a
    /// mutant is caught by none or a scenario fails without a mutant.
    Mutants(cli::mutants::Args),
    /// Run a scenario and write its traffic as a pcap file (Wireshark).
    ///
    /// Prints each host's address and name on stdout, in /etc/hosts form.
    /// Exits 0 once the file is written, even if an expectation failed.
    Pcap(cli::pcap::Args),
    /// Run one scenario and draw it as a message sequence chart (SVG, an
    /// HTML page, or Mermaid text). Exit code as `run`; the file is written
    /// even when the run fails.
    Diagram(cli::diagram::Args),
    /// List the scenarios under a directory: name, spec ids and about text.
    List(cli::list::Args),
    /// Run scenarios twice, check expectations and compare traces with
    /// their snapshots, as `cargo test` does.
    Check(cli::check::Args),
    /// Write a commented scenario skeleton to scenarios/NAME.yaml.
    New(cli::new::Args),
    /// Run the reference broker over real TCP, in real time, for real
    /// clients; Ctrl-C stops it.
    Serve(cli::serve::Args),
    /// Print the JSON Schema of the scenario format, for editors that
    /// complete and check YAML (yaml-language-server, VS Code).
    Schema(cli::schema::Args),
    /// Which normative statements the scenarios' `spec:` tags cover.
    Coverage(cli::coverage::Args),
    /// Write the scenario suite this version ships into a directory, for
    /// running it against a broker from the broker's own CI.
    Scenarios(cli::scenarios::Args),
}

/// What `--version` prints after the name: the crate's version, the MQTT
/// versions spoken and the scenario format read.
fn long_version() -> String {
    format!(
        "{}\nMQTT 3.1.1 and 5.0\nscenario format {} (reads {})",
        env!("CARGO_PKG_VERSION"),
        mqtt_sim::scenario::FORMAT_VERSION,
        mqtt_sim::scenario::format::readable(),
    )
}

fn main() -> ExitCode {
    let matches = Cli::command().long_version(long_version()).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let result = match cli.command {
        Command::Run(args) => cli::run::run(args),
        Command::Report(args) => cli::report::report(args),
        Command::Validate(args) => cli::validate::validate(args),
        Command::Explore(args) => cli::explore::explore(args),
        Command::Mutants(args) => cli::mutants::mutants(args),
        Command::Pcap(args) => cli::pcap::pcap(args),
        Command::Diagram(args) => cli::diagram::diagram(args),
        Command::List(args) => cli::list::list(args),
        Command::Check(args) => cli::check::check(args),
        Command::New(args) => cli::new::new(args),
        Command::Serve(args) => cli::serve::serve(args),
        Command::Schema(args) => cli::schema::schema(args),
        Command::Coverage(args) => cli::coverage::coverage(args),
        Command::Scenarios(args) => cli::scenarios::scenarios(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}
