//! `mqtt-sim diagram`: run one scenario and draw it as a sequence chart.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::ValueEnum;
use mqtt_sim::diagram::{self, Options};
use mqtt_sim::scenario::Scenario;
use mqtt_sim::scenario::duration::parse_duration;
use mqtt_sim::sim::{self, RunOptions};
use mqtt_sim::trace::select::{DIAGRAM_CLIENTS_MAX, Selection};

use super::output::out;
use super::{EXIT_FAILED, load_all};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiagramFormat {
    Svg,
    Html,
    Mermaid,
}

/// The flags of `mqtt-sim diagram`.
#[derive(clap::Args)]
pub struct Args {
    file: PathBuf,
    /// Override the scenario's seed.
    #[arg(long, env = "MQTT_SIM_SEED")]
    seed: Option<u64>,
    /// Draw from this simulated time on, e.g. `2s` or `500ms`.
    #[arg(long)]
    from: Option<String>,
    /// Draw up to this simulated time.
    #[arg(long)]
    to: Option<String>,
    /// Output file; its extension picks the format: .svg, .html, or
    /// .md (Mermaid in a fenced block) / .mmd (bare Mermaid). Required
    /// unless --format is given, which writes to stdout: a terminal is
    /// no place for an SVG.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// svg, html or mermaid; overrides the extension of --output.
    #[arg(long, value_enum)]
    format: Option<DiagramFormat>,
    /// Draw only these clients' lifelines: a name, a glob with `*`, or a
    /// group's name with `{i}`; repeatable. Without it, a scenario of
    /// more than 32 clients draws its first 32.
    #[arg(long = "client", value_name = "NAME")]
    clients: Vec<String>,
}

/// Writes the diagram even when the run failed: a failed run is what one
/// most wants to look at. The exit code follows `run`.
pub fn diagram(args: Args) -> anyhow::Result<u8> {
    let (file, seed) = (args.file.as_path(), args.seed);
    let (from, to) = (args.from.as_deref(), args.to.as_deref());
    let (output, format, clients) = (args.output.as_ref(), args.format, args.clients.as_slice());
    let format = match (format, output) {
        (Some(f), _) => f,
        (None, Some(out)) => format_of(out)?,
        // An SVG or a page in the terminal helps nobody: ask where to put
        // it. `--format` without `-o` is a deliberate choice of stdout.
        (None, None) => bail!(
            "give -o FILE (.svg, .html, .md or .mmd), or --format svg|html|mermaid to write to stdout"
        ),
    };
    let (from, to) = window(from, to)?;
    let scenario = match load_all(&[file.to_path_buf()]) {
        Ok(mut s) => match s.pop() {
            Some(s) => s,
            None => bail!("nothing loaded from {}", file.display()),
        },
        Err(code) => return Ok(code),
    };
    // A window that starts at or after the end holds nothing, and its
    // axis would run backwards: say so instead of drawing it.
    if let Some(f) = from
        && f >= scenario.duration
    {
        bail!(
            "--from {} is at or after the end of the run ({}, its `duration`): nothing to draw",
            mqtt_sim::scenario::duration::text(f),
            mqtt_sim::scenario::duration::text(scenario.duration)
        );
    }
    let report = sim::run(
        &scenario,
        &RunOptions {
            seed,
            ..RunOptions::default()
        },
    );
    let selection = selection(&scenario, clients)?;
    let (scenario, report) = match &selection {
        Some(sel) => (sel.scenario(&scenario), sel.report(&scenario, &report)),
        None => (scenario, report),
    };
    let opts = Options { from, to };
    let text = match format {
        DiagramFormat::Svg => diagram::svg(&scenario, &report, &opts),
        DiagramFormat::Html => diagram::html(&scenario, &report, &opts),
        DiagramFormat::Mermaid => diagram::mermaid(&scenario, &report, &opts),
    };
    // A Markdown file gets a fenced block, which renders where Markdown
    // renders Mermaid; stdout and `.mmd` get the bare diagram.
    let markdown = output.is_some_and(|o| o.extension().is_some_and(|e| e == "md"));
    let text = if format == DiagramFormat::Mermaid && markdown {
        format!("```mermaid\n{text}```\n")
    } else {
        text
    };
    match output {
        Some(out) => {
            std::fs::write(out, text).with_context(|| format!("cannot write {}", out.display()))?
        }
        None => out!("{text}"),
    }
    if report.ok() {
        Ok(0)
    } else {
        eprintln!(
            "FAILED {}; replay: mqtt-sim run {} --seed {}",
            file.display(),
            file.display(),
            report.seed
        );
        Ok(EXIT_FAILED)
    }
}

/// `--from` and `--to` as durations, `--from` not after `--to`.
fn window(
    from: Option<&str>,
    to: Option<&str>,
) -> anyhow::Result<(Option<Duration>, Option<Duration>)> {
    let window = |flag: &str, v: Option<&str>| {
        v.map(parse_duration)
            .transpose()
            .map_err(|e| anyhow::anyhow!("{flag}: {e}"))
    };
    let from = window("--from", from)?;
    let to = window("--to", to)?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        bail!("--from must not be after --to");
    }
    Ok((from, to))
}

/// The clients drawn: those `--client` names, else the first
/// `DIAGRAM_CLIENTS_MAX` of a larger scenario (with a note), else all.
fn selection(scenario: &Scenario, clients: &[String]) -> anyhow::Result<Option<Selection>> {
    Ok(if !clients.is_empty() {
        Some(Selection::new(scenario, clients).map_err(anyhow::Error::msg)?)
    } else if scenario.clients.len() > DIAGRAM_CLIENTS_MAX {
        eprintln!(
            "note: drawing the first {DIAGRAM_CLIENTS_MAX} of {} clients; choose others with --client NAME (a name, a glob with `*`, or a group's name with {{i}})",
            scenario.clients.len()
        );
        Some(Selection::first(scenario, DIAGRAM_CLIENTS_MAX))
    } else {
        None
    })
}

fn format_of(out: &Path) -> anyhow::Result<DiagramFormat> {
    match out.extension().and_then(|e| e.to_str()) {
        Some("svg") => Ok(DiagramFormat::Svg),
        Some("html" | "htm") => Ok(DiagramFormat::Html),
        Some("md" | "mmd") => Ok(DiagramFormat::Mermaid),
        _ => bail!(
            "cannot tell the format from {}: use .svg, .html or .md, or --format",
            out.display()
        ),
    }
}
