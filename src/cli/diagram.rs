//! `mqtt-sim diagram`: run one scenario and draw it as a sequence chart.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::ValueEnum;
use mqtt_sim::diagram::{self, Options};
use mqtt_sim::sim::{self, RunOptions};

use super::{EXIT_FAILED, load_all};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiagramFormat {
    Svg,
    Html,
    Mermaid,
}

/// Writes the diagram even when the run failed: a failed run is what one
/// most wants to look at. The exit code follows `run`.
pub fn diagram(
    file: &Path,
    seed: Option<u64>,
    from: Option<&str>,
    to: Option<&str>,
    output: Option<&PathBuf>,
    format: Option<DiagramFormat>,
) -> anyhow::Result<u8> {
    let format = match (format, output) {
        (Some(f), _) => f,
        (None, Some(out)) => format_of(out)?,
        (None, None) => DiagramFormat::Svg,
    };
    let from = from.map(parse_duration).transpose().context("--from")?;
    let to = to.map(parse_duration).transpose().context("--to")?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        bail!("--from must not be after --to");
    }
    let scenario = match load_all(&[file.to_path_buf()]) {
        Ok(mut s) => match s.pop() {
            Some(s) => s,
            None => bail!("nothing loaded from {}", file.display()),
        },
        Err(code) => return Ok(code),
    };
    let report = sim::run(
        &scenario,
        &RunOptions {
            seed,
            ..RunOptions::default()
        },
    );
    let opts = Options { from, to };
    let text = match format {
        DiagramFormat::Svg => diagram::svg(&scenario, &report, &opts),
        DiagramFormat::Html => diagram::html(&scenario, &report, &opts),
        DiagramFormat::Mermaid => diagram::mermaid(&scenario, &report, &opts),
    };
    match output {
        Some(out) => {
            std::fs::write(out, text).with_context(|| format!("cannot write {}", out.display()))?
        }
        None => print!("{text}"),
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

/// A duration as the scenario format writes it: `500ms`, `2s`, `1.5s`,
/// `2m`, `1h`, or `0`.
pub fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let s = s.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .with_context(|| format!("{s:?} has no unit (ms, s, m or h)"))?;
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .with_context(|| format!("{s:?} is not a duration"))?;
    let scale_s = match unit {
        "us" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => bail!("{s:?}: unknown unit {unit:?} (ms, s, m or h)"),
    };
    Duration::try_from_secs_f64(n * scale_s).with_context(|| format!("{s:?} is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_as_in_scenarios() {
        assert_eq!(
            parse_duration("500ms").ok(),
            Some(Duration::from_millis(500))
        );
        assert_eq!(parse_duration("2s").ok(), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_duration("1.5s").ok(),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(parse_duration("0").ok(), Some(Duration::ZERO));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5x").is_err());
    }
}
